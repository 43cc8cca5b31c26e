/**
 * The shapes of what `compile()` and `run()` take besides tensors: checked before anything else
 * runs, so a wrong call is a coded error that says what was expected, never a TypeError from deep
 * inside kvforge or a RangeError from the addon.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { KernelPlan } from '../../codegen/planner/plan.ts';
import { isAttentionSpec as isSpec, type AttentionSpec } from '../../dsl/attention.ts';

/** Most worker threads a call may ask for (the native thread pool's kMaxThreads). */
export const MAX_THREADS = 256;

function kind(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === 'object') return 'an object';
  return typeof x === 'string' ? `the string ${JSON.stringify(x.slice(0, 40))}` : `${typeof x} ${String(x)}`;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

export type CompileEntry = AttentionSpec | { readonly spec: AttentionSpec; readonly plan: Partial<KernelPlan> };

/** `compile(specs)`: an array of specs, or of `{ spec, plan }`. */
export function checkCompileEntries(specs: unknown): readonly CompileEntry[] {
  const accepted = 'an array of defineAttention(...) results, or of { spec, plan } objects';
  if (!Array.isArray(specs)) {
    throw new KvforgeError('KVF2005', `compile() takes ${accepted}, got ${kind(specs)}`, { hint: 'compile([myVariant])' });
  }
  specs.forEach((s, i) => {
    if (isSpec(s)) return;
    if (isObject(s) && 'spec' in s) {
      if (!isSpec(s.spec)) {
        throw new KvforgeError('KVF2005', `compile(): entry ${i}: 'spec' must be a defineAttention(...) result, got ${kind(s.spec)}`);
      }
      if (s.plan !== undefined && !isObject(s.plan)) {
        throw new KvforgeError('KVF2005', `compile(): entry ${i}: 'plan' must be an object such as { target: 'cuda', dtype: 'bf16' }, got ${kind(s.plan)}`);
      }
      const extra = Object.keys(s).filter((k) => k !== 'spec' && k !== 'plan');
      if (extra.length) throw new KvforgeError('KVF2005', `compile(): entry ${i} has unknown field(s) ${extra.map((k) => `'${k}'`).join(', ')}`, { hint: 'an entry is { spec, plan }' });
      return;
    }
    throw new KvforgeError('KVF2005', `compile(): entry ${i} must be a defineAttention(...) result or { spec, plan }, got ${kind(s)}`,
      { hint: 'declare variants with defineAttention({ heads, headDim, mask, score })' });
  });
  return specs as CompileEntry[];
}

export interface CheckedRunOptions {
  readonly threads: number | undefined;
  readonly params: unknown;
}

/** `run(x, opts)`: threads 1..MAX_THREADS; params checked by runParams.ts. */
export function checkRunOptions(opts: unknown): CheckedRunOptions {
  if (opts === undefined) return { threads: undefined, params: undefined };
  if (!isObject(opts)) throw new KvforgeError('KVF3004', `run options must be an object { threads?, params? }, got ${kind(opts)}`);
  const extra = Object.keys(opts).filter((k) => k !== 'threads' && k !== 'params');
  if (extra.length) {
    throw new KvforgeError('KVF3004', `unknown run option(s) ${extra.map((k) => `'${k}'`).join(', ')}`, { hint: 'run options are threads and params' });
  }
  return { threads: checkThreadsOption(opts.threads), params: opts.params };
}

/** The run option `threads`: undefined, or an integer 1..MAX_THREADS. */
export function checkThreadsOption(t: unknown): number | undefined {
  if (t !== undefined && !(typeof t === 'number' && Number.isInteger(t) && t >= 1 && t <= MAX_THREADS)) {
    throw new KvforgeError('KVF3004', `run option 'threads' must be an integer from 1 to ${MAX_THREADS}, got ${kind(t)}`);
  }
  return t as number | undefined;
}

/**
 * The `threads` of run options that hold nothing but `threads` (or undefined for {} and no
 * options), checked; null when they hold anything else (then checkRunOptions reads them).
 * Allocates nothing: the decode loop calls it every step.
 */
export function threadsOnlyOption(opts: unknown): number | undefined | null {
  if (opts === undefined) return undefined;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) return null;
  for (const k in opts) if (k !== 'threads' || !Object.prototype.hasOwnProperty.call(opts, k)) return null;
  return checkThreadsOption((opts as { threads?: unknown }).threads);
}
