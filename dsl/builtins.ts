/**
 * The built-in masks and scores of semantics.md section 1, written in the same DSL a user writes:
 * nothing here is special to kvforge.
 */
import { defineMask, defineScore, type Bound, type ScoreDef } from './define.ts';

/**
 * Causal: key position at most the query position.
 * @example `defineAttention({ heads: { q: 32, kv: 4 }, headDim: 64, mask: causal })`
 */
export const causal = defineMask((b, h, q, k) => k <= q, { name: 'causal' });

/**
 * Causal without the diagonal (LCKV's "drop attention to itself"); token 0 has no key and outputs 0.
 * @example `defineAttention({ heads: { q: 32, kv: 4 }, headDim: 64, mask: noDiagonal })`
 */
export const noDiagonal = defineMask((b, h, q, k) => k < q, { name: 'noDiagonal' });

/**
 * Sliding window of `window` keys including the query's own position: `q - window < k <= q`.
 * @example `slidingWindow.with({ window: 256 })`
 */
export const slidingWindow = defineMask((b, h, q, k, p) => q - p.window < k && k <= q, {
  name: 'slidingWindow', params: { window: 'int32' },
});

/**
 * Attention sinks (StreamingLLM): the first `count` positions, or'ed with another mask.
 * @example `or(sinks.with({ count: 4 }), slidingWindow.with({ window: 256 }))`
 */
export const sinks = defineMask((b, h, q, k, p) => k < p.count, { name: 'sinks', params: { count: 'int32' } });

/**
 * Prefix LM: bidirectional over the first `prefix` positions, causal after.
 * @example `prefixLM.with({ prefix: 128 })`
 */
export const prefixLM = defineMask((b, h, q, k, p) => k <= q || k < p.prefix, {
  name: 'prefixLM', params: { prefix: 'int32' },
});

/**
 * Logit soft-capping: `cap * tanh(s / cap)`.
 * @example `defineAttention({ ..., score: softcap.with({ cap: 30 }) })`
 */
export const softcap = defineScore((s, b, h, q, k, p) => p.cap * Math.tanh(s / p.cap), {
  name: 'softcap', params: { cap: 'float32' },
});

/**
 * ALiBi: `s - slope(h) * (q - k)` with `slope(h) = exp(-(h + 1) * slopeLog)`; the standard slopes
 * `2^(-8 (h + 1) / H)` are `slopeLog = 8 ln 2 / H`, which {@link alibiFor} binds.
 * @example `alibi.with({ slopeLog: Math.LN2 / 4 })`
 */
export const alibi = defineScore((s, b, h, q, k, p) => s - Math.exp(-(h + 1) * p.slopeLog) * (q - k), {
  name: 'alibi', params: { slopeLog: 'float32' },
});

/**
 * ALiBi with the standard slopes for `numHeads` query heads.
 * @param numHeads - Hq of the attention it is used in.
 * @example `defineAttention({ heads: { q: 32, kv: 4 }, headDim: 64, mask: causal, score: alibiFor(32) })`
 */
export function alibiFor(numHeads: number): Bound<ScoreDef<{ slopeLog: 'float32' }>> {
  return alibi.with({ slopeLog: (8 * Math.LN2) / numHeads });
}
