/**
 * The parameter array of a kernel call, memoised so that a decode loop neither allocates nor
 * rebuilds its native plan (runtime/cache/attend.ts keys plans by this array's identity):
 * - options without `params` ({}, { threads }) map to one array per thread count;
 * - the same options object again, its entries and its `params` entries unchanged (compared with
 *   Object.is, key order included), maps to its earlier result without re-checking anything:
 *   the result is a function of exactly those entries, so this cannot hand out a stale array;
 * - fresh options with values seen before map to the array those values produced (a loop that
 *   writes `{ params: { window } }` as a literal keeps its plan; at most kInterned distinct
 *   value sets are kept).
 *
 * @module
 */
import { threadsOnlyOption } from './options.ts';

export interface CallParams { readonly params: Float64Array; readonly values: Record<string, number>; readonly threads?: number }

/** Distinct (threads, values) kept for reuse; past it the table starts over. */
const kInterned = 256;

interface Snapshot {
  readonly optKeys: string[];
  readonly optVals: unknown[];
  readonly params: object;
  readonly paramKeys: string[];
  readonly paramVals: unknown[];
  readonly call: CallParams;
}

/** Whether `o`'s own enumerable entries are exactly keys/vals, in order (no allocation). */
function sameEntries(o: object, keys: readonly string[], vals: readonly unknown[]): boolean {
  let i = 0;
  for (const k in o) {
    // An inherited enumerable key: take the checked path.
    if (!Object.prototype.hasOwnProperty.call(o, k)) return false;
    if (i >= keys.length || k !== keys[i] || !Object.is((o as Record<string, unknown>)[k], vals[i])) return false;
    i++;
  }
  return i === keys.length;
}

function entriesOf(o: object): { keys: string[]; vals: unknown[] } {
  const keys = Object.keys(o);
  return { keys, vals: keys.map((k) => (o as Record<string, unknown>)[k]) };
}

export class CallParamsMemo {
  readonly #compute: (opts: unknown) => CallParams;
  readonly #plain = new Map<number | undefined, CallParams>();
  readonly #byOptions = new WeakMap<object, Snapshot>();
  readonly #byValue = new Map<string, CallParams>();

  /** `compute` checks the options (throwing coded errors) and builds a fresh CallParams. */
  constructor(compute: (opts: unknown) => CallParams) {
    this.#compute = compute;
  }

  get(opts: unknown): CallParams {
    const t = threadsOnlyOption(opts);
    if (t !== null) return this.#plain.get(t) ?? this.#fresh(opts);
    const snap = typeof opts === 'object' && opts !== null ? this.#byOptions.get(opts) : undefined;
    if (snap && sameEntries(opts as object, snap.optKeys, snap.optVals) && sameEntries(snap.params, snap.paramKeys, snap.paramVals)) return snap.call;
    return this.#fresh(opts);
  }

  // Apart from get() so that its closures cost the hit path nothing.
  #fresh(opts: unknown): CallParams {
    const computed = this.#compute(opts);  // throws for bad options: nothing is recorded
    if (threadsOnlyOption(opts) !== null) {
      this.#plain.set(computed.threads, computed);
      return computed;
    }
    const key = `${computed.threads ?? ''}|${Array.from(computed.params, (x) => (Object.is(x, -0) ? '-0' : String(x))).join(',')}`;
    let call = this.#byValue.get(key);
    if (!call) {
      if (this.#byValue.size >= kInterned) this.#byValue.clear();
      this.#byValue.set(key, (call = computed));
    }
    const params = (opts as { params?: unknown }).params;
    if (typeof params === 'object' && params !== null) {
      const o = entriesOf(opts as object), p = entriesOf(params);
      // Entries read now, after compute: a getter that changed its value in between misses next time.
      this.#byOptions.set(opts as object, { optKeys: o.keys, optVals: o.vals, params, paramKeys: p.keys, paramVals: p.vals, call });
    }
    return call;
  }
}
