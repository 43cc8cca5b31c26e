/**
 * Load attention specs from a TypeScript module (configs/*.ts or a user's own file): every
 * export that is an AttentionSpec, in the module's export order (sorted by name, so stable), then
 * the variants of every scheme() export (codegen/scheme/variants.ts), named `<scheme>.<variant>`
 * (`lckvW2.noDiagonal`). A scheme variant with parameters (a window) defaults to paramMode
 * 'runtime', so its layers share one kernel whatever their windows.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { isAttentionSpec as isSpec, type AttentionSpec } from '../dsl/attention.ts';
import { makePlan, type KernelPlan } from './planner/plan.ts';
import { types } from 'node:util';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { importUserModule } from './userModule.ts';
import { isSchemeSpec, type SchemeSpec } from '../dsl/scheme/scheme.ts';
import { schemeVariants, type VariantKey } from './scheme/variants.ts';
import { checkSchemeExport } from './loadSchemes.ts';

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
  /** For a scheme's variant: the scheme's export and the variant's key. */
  readonly scheme?: { readonly exportName: string; readonly spec: SchemeSpec; readonly key: VariantKey };
}

export async function loadSpecs(file: string, root?: string): Promise<NamedSpec[]> {
  const abs = path.resolve(file);
  const mod = await importUserModule(file, "the file must be a TypeScript or JavaScript module that imports from 'kvforge' and exports defineAttention(...) or scheme(...) results");
  const rel = root ? path.relative(root, abs).split(path.sep).join('/') : file;
  const names = Object.keys(mod).filter((k) => isSpec(mod[k]));
  const schemes = Object.keys(mod).filter((k) => isSchemeSpec(mod[k])).sort();
  if (names.length === 0 && schemes.length === 0) {
    throw new KvforgeError('KVF4004', `${file} exports no attention variant and no scheme`, {
      hint: 'export const myVariant = defineAttention({ ... }), or export const myScheme = scheme({ ... })',
    });
  }
  const plans = readKernelPlans(file, mod.kernelPlans, names, schemes, mod);
  const out: NamedSpec[] = names.map((k) => ({ file: rel, exportName: k, spec: mod[k] as AttentionSpec, plans: plans.get(k) ?? [{}] }));
  for (const k of schemes) {
    const spec = checkSchemeExport(file, k, mod[k] as SchemeSpec);
    for (const v of schemeVariants(spec)) {
      const withParams = v.windows !== undefined;
      const own = plans.get(k) ?? [{}];
      out.push({
        file: rel, exportName: `${k}.${v.key}`, spec: v.spec, scheme: { exportName: k, spec, key: v.key },
        plans: own.map((p) => (withParams && p.paramMode === undefined ? { ...p, paramMode: 'runtime' as const } : p)),
      });
    }
  }
  return out;
}

const isPlainObject = (x: unknown): x is object => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * A module's `kernelPlans` export: `{ exportName: [plan, ...] }`, each plan a plain object of
 * KernelPlan fields. Checked here, with the export and index in every error: a typo in an export
 * name, a plan that is not an object or a getter would otherwise lose a user's kernels silently
 * or surface as a TypeError inside kvforge. Plans are copied, so a later read sees the same data.
 */
function readKernelPlans(file: string, raw: unknown, variants: readonly string[], schemes: readonly string[], mod: Record<string, unknown>): Map<string, Array<Partial<KernelPlan>>> {
  const names = [...variants, ...schemes];
  const out = new Map<string, Array<Partial<KernelPlan>>>();
  if (raw === undefined) return out;
  const bad = (detail: string, hint?: string): never => {
    throw new KvforgeError('KVF4004', `${file}: kernelPlans${detail}`, { hint: hint ?? "kernelPlans is { myVariant: [{}, { target: 'cuda', dtype: 'bf16' }] }" });
  };
  if (!isPlainObject(raw) || types.isProxy(raw)) bad(` must be an object of plan lists, got ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : typeof raw}`);
  for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(raw))) {
    if (!('value' in d)) bad(`.${key} is a getter; write the plans as plain data`);
    if (!names.includes(key)) {
      bad(`.${key} names no exported attention variant or scheme${key in mod ? ` ('${key}' is exported but is neither a defineAttention(...) nor a scheme(...) result)` : ''}`, `exported variants and schemes: ${names.join(', ')}`);
    }
    const list = d.value as unknown;
    if (!Array.isArray(list) || types.isProxy(list)) bad(`.${key} must be an array of plans, got ${list === null ? 'null' : typeof list}`);
    if ((list as unknown[]).length === 0) bad(`.${key} lists no plan`, `leave ${key} out for one default C++ kernel, or list plans: [{}]`);
    out.set(key, (list as unknown[]).map((p, i) => {
      if (!isPlainObject(p) || types.isProxy(p)) bad(`.${key}[${i}] must be a plan object such as { target: 'cuda' }, got ${p === null ? 'null' : Array.isArray(p) ? 'an array' : typeof p}`);
      const fields: Record<string, unknown> = {};
      for (const [f, fd] of Object.entries(Object.getOwnPropertyDescriptors(p))) {
        if (!('value' in fd)) bad(`.${key}[${i}].${f} is a getter; write the plan as plain data`);
        fields[f] = fd.value;
      }
      try {
        const sch = schemes.includes(key) ? (mod[key] as SchemeSpec) : undefined;
        makePlan(fields as Partial<KernelPlan>, sch ? { headDim: sch.headDim, valueDim: sch.valueDim } : (mod[key] as AttentionSpec));
      } catch (e) {
        if (e instanceof KvforgeError) bad(`.${key}[${i}]: ${e.detail}`, e.hint);
        throw e;
      }
      return fields as Partial<KernelPlan>;
    }));
  }
  return out;
}

/** Every configs/*.ts file, sorted. */
export function configFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.ts')).sort().map((f) => path.join(dir, f));
}
