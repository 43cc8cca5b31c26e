/**
 * compile(): from attention specs to callable kernels: generate, build through the cache, load.
 *
 * The code generator (front end, ts-morph, templates) is imported when compile() is first called,
 * not when kvforge is: a program that only runs shipped kernels never loads it.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { AttentionSpec } from '../../dsl/attention.ts';
import type { KernelPlan } from '../../codegen/planner/plan.ts';
import { loadBuiltAddon, type BuildOptions } from '../build/addon.ts';
import { CompiledAttention } from './kernels.ts';
import { checkCompileEntries } from './options.ts';

export interface CompileOptions extends BuildOptions {
  /** Schedule overrides for every kernel. */
  readonly plan?: Partial<KernelPlan>;
}

/**
 * Generate, build (cached) and load kernels for `specs`; one addon serves them all. An entry may
 * carry its own plan (`{ spec, plan: { target: 'cuda', dtype: 'bf16' } }`); `opts.plan` applies to all.
 * @example
 * ```ts
 * const [attn] = await compile([defineAttention({ heads: { q: 8, kv: 2 }, headDim: 64, mask: causal })]);
 * const { out, lse } = await attn.run({ q, k, v, B: 1, Lq: 128, Lk: 128 });
 * ```
 */
export async function compile(
  specs: ReadonlyArray<AttentionSpec | { readonly spec: AttentionSpec; readonly plan: Partial<KernelPlan> }>,
  opts: CompileOptions = {},
): Promise<CompiledAttention[]> {
  const entries = checkCompileEntries(specs);
  if (typeof opts !== 'object' || opts === null) throw new KvforgeError('KVF2005', `compile() options must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const { generateForCompile } = await import('../../codegen/generate.ts');
  const kernels = generateForCompile(entries.map((s) => ('kind' in s ? { spec: s, plan: opts.plan } : { spec: s.spec, plan: { ...s.plan, ...opts.plan } })));
  const sources = new Map<string, string>();
  const labels = new Map<string, string>();
  for (const k of kernels) {
    sources.set(k.file, k.text);
    labels.set(k.file, `variant ${JSON.stringify(k.unit.name)}`);
  }
  const { native: addon } = await loadBuiltAddon(sources, opts, labels);
  return kernels.map((k) => new CompiledAttention(k.unit, addon));
}
