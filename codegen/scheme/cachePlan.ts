/**
 * The cache plan of a scheme and its memory figures.
 *
 * Only KV-computing layers own a cache; a cache holds keys when some layer reads its keys and
 * values when some layer reads its values. Retention: a cache every reader of which slides keeps
 * the last W tokens (W the largest of its readers' windows); a cache read by any full-attention
 * layer keeps the whole history, even when its owner slides (LCKV's own cache keeps only the
 * owner's window, so a full-attention reader of a sliding layer silently loses its history).
 * A layer that takes keys from one cache and values from another reads slot s of both as one
 * token, so the two must hold the same tokens: caches linked by such a reader (transitively)
 * all keep the longest retention among them.
 *
 * Memory at context C, per sequence: each cache holds rowBytes x slots, rowBytes = Hkv x (D if
 * keys + Dv if values) x dtype bytes, slots = C (full) or min(C, W + WINDOW_SLACK) (windowed: a
 * windowed cache is truncated back to its last W tokens once it holds W + WINDOW_SLACK, so the
 * shift of its kept slots is paid once every WINDOW_SLACK tokens instead of on every step, and
 * the step that appends a token attends before it truncates: W + WINDOW_SLACK slots at the peak).
 * A cache under a compression policy counts what its policy keeps (policySlots.ts).
 */
import type { KvDType, SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { policyData, type PolicyData } from '../../dsl/policy/policy.ts';
import { budgetOf } from '../../dsl/policy/budget.ts';
import { analyseLayers } from './layers.ts';
import { policySlots } from './policySlots.ts';

export const DTYPE_BYTES: Readonly<Record<KvDType, number>> = Object.freeze({ f32: 4, f16: 2, bf16: 2 });

/**
 * Tokens past W a windowed cache may hold before it is truncated back to W (one summary tile).
 * Truncation moves the W kept slots to the front: at W = 1024 and 16 tokens of slack that costs
 * 1/16 of a cache's bytes per step instead of all of them (measured: YOCO's decode steps went
 * from 0.80x to 1.01x of the standard scheme's at batch 4, bench-schemes side by side). The mask
 * still admits only W keys.
 */
export const WINDOW_SLACK = 16;

export type Retention = { readonly kind: 'full' } | { readonly kind: 'window'; readonly window: number };

export interface CacheEntry {
  readonly owner: number;
  readonly readers: readonly number[];
  readonly keys: boolean;
  readonly values: boolean;
  readonly retention: Retention;
  /** Bytes one token takes in this cache (all KV heads). */
  readonly rowBytes: number;
  /** Readers that attend over the full history (why a sliding owner's cache keeps it all). */
  readonly fullReaders: readonly number[];
  /** The cache's compression policy (semantics.md section 3) as plain data; absent: none. */
  readonly policy?: PolicyData;
  /** A pyramid policy's budget W_k for this cache's owner k. */
  readonly budget?: number;
}

export function cachePlan(s: SchemeSpec): readonly CacheEntry[] {
  const layers = analyseLayers(s);
  const bytes = DTYPE_BYTES[s.dtype];
  const own = new Map(layers.filter((l) => l.computesKv).map((l): [number, Retention] => {
    const full = l.readers.some((r) => !layers[r].sliding);
    return [l.index, full ? { kind: 'full' } : { kind: 'window', window: l.readers.reduce((w, r) => Math.max(w, layers[r].window!), 0) }];
  }));
  // Caches a split reader links: union-find over owners, each class keeps its longest retention.
  const parent = new Map([...own.keys()].map((o) => [o, o]));
  const find = (o: number): number => (parent.get(o) === o ? o : find(parent.get(o)!));
  for (const l of layers) if (l.keysFrom !== l.valuesFrom) parent.set(find(l.keysFrom), find(l.valuesFrom));
  const longer = (a: Retention, b: Retention): Retention => (a.kind === 'full' || b.kind === 'full' ? { kind: 'full' } : { kind: 'window', window: Math.max(a.window, b.window) });
  const byClass = new Map<number, Retention>();
  for (const [o, r] of own) byClass.set(find(o), byClass.has(find(o)) ? longer(byClass.get(find(o))!, r) : r);
  return Object.freeze(layers.filter((l) => l.computesKv).map((l) => {
    const fullReaders = l.readers.filter((r) => !layers[r].sliding);
    const retention = byClass.get(find(l.index))!;
    const rowBytes = s.heads.kv * ((l.cachesKeys ? s.headDim : 0) + (l.cachesValues ? s.valueDim : 0)) * bytes;
    return Object.freeze({
      owner: l.index, readers: l.readers, keys: l.cachesKeys, values: l.cachesValues,
      retention: Object.freeze(retention), rowBytes, fullReaders: Object.freeze(fullReaders),
      ...policyFields(s, l.index),
    });
  }));
}

/** The policy fields of owner k's entry (none when it has no policy: plans of schemes without policies are unchanged). */
function policyFields(s: SchemeSpec, k: number): { policy?: PolicyData; budget?: number } {
  const p = s.policies?.[k];
  if (!p) return {};
  return p.kind === 'pyramid' ? { policy: policyData(p), budget: budgetOf(p, k, s.layers) } : { policy: policyData(p) };
}

/**
 * Slots a cache holds at the peak of a step, at context length C. Under a policy: what the policy
 * keeps after the step (codegen/scheme/policySlots.ts; adaptive: its bound, C).
 */
export function slotsAt(e: CacheEntry, context: number): number {
  if (e.policy && e.policy.kind !== 'full') return policySlots(e.policy, e.budget, context);
  return e.retention.kind === 'full' ? context : Math.min(context, e.retention.window + WINDOW_SLACK);
}

export interface MemoryFigures {
  /** KV bytes of one sequence at the context length. */
  readonly bytesPerSequence: number;
  /** bytesPerSequence / context. */
  readonly bytesPerToken: number;
  /** The same for the standard scheme of the same shape and dtype (every layer its own full cache). */
  readonly standardBytesPerToken: number;
  /** Caches (KV-computing layers). */
  readonly caches: number;
}

export function memoryFigures(s: SchemeSpec, context: number): MemoryFigures {
  if (!Number.isInteger(context) || context < 1) throw new RangeError(`context must be a positive integer, got ${context}`);
  const plan = cachePlan(s);
  const perSeq = plan.reduce((sum, e) => sum + e.rowBytes * slotsAt(e, context), 0);
  const standard = s.layers * s.heads.kv * (s.headDim + s.valueDim) * DTYPE_BYTES[s.dtype];
  return Object.freeze({ bytesPerSequence: perSeq, bytesPerToken: perSeq / context, standardBytesPerToken: standard, caches: plan.length });
}

/** The largest batch whose KV caches fit `budgetBytes` at the context length (0 when one does not). */
export function maxBatch(s: SchemeSpec, context: number, budgetBytes: number): number {
  if (!(budgetBytes >= 0)) throw new RangeError(`the budget must be a non-negative number of bytes, got ${budgetBytes}`);
  return Math.floor(budgetBytes / memoryFigures(s, context).bytesPerSequence);
}
