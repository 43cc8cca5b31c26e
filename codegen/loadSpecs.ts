/**
 * Load attention specs from a TypeScript module (configs/*.ts or a user's own file): every
 * export that is an AttentionSpec, in the module's export order (sorted by name, so stable).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AttentionSpec } from '../dsl/attention.ts';
import type { KernelPlan } from './planner/plan.ts';
import { KvforgeError } from './diagnostics.ts';

export interface NamedSpec {
  /** File the spec came from, relative to `root` when given. */
  readonly file: string;
  readonly exportName: string;
  readonly spec: AttentionSpec;
  /**
   * The kernels to generate for it: the module's `kernelPlans[exportName]` when it exports one,
   * else one C++ kernel with the default plan.
   */
  readonly plans: ReadonlyArray<Partial<KernelPlan>>;
}

function isSpec(x: unknown): x is AttentionSpec {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'attention';
}

export async function loadSpecs(file: string, root?: string): Promise<NamedSpec[]> {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new KvforgeError('KVF4004', `no such file: ${file}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof KvforgeError) throw e;
    throw new KvforgeError('KVF4004', `could not load ${file}: ${(e as Error).message}`, {
      hint: "the file must be a TypeScript or JavaScript module that imports from 'kvforge' and exports defineAttention(...) results",
    });
  }
  const rel = root ? path.relative(root, abs).split(path.sep).join('/') : file;
  const plans = (mod.kernelPlans ?? {}) as Record<string, Array<Partial<KernelPlan>>>;
  const out = Object.keys(mod).filter((k) => isSpec(mod[k])).map((k) => ({
    file: rel, exportName: k, spec: mod[k] as AttentionSpec, plans: plans[k] ?? [{}],
  }));
  if (out.length === 0) {
    throw new KvforgeError('KVF4004', `${file} exports no attention variant`, { hint: 'export const myVariant = defineAttention({ ... })' });
  }
  return out;
}

/** Every configs/*.ts file, sorted. */
export function configFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.ts')).sort().map((f) => path.join(dir, f));
}
