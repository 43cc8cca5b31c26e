/**
 * The float64 references of the cache policies (semantics.md section 3, issue 9 part 5): worked
 * examples traced by hand from the contract (the expected slots in the comments are derived from
 * the rules, not printed by the code), and invariants on random runs of prefill and decode steps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adaptiveCache, fullCache, pyramidCache, sinkCache, slidingCache, type CachePolicySpec } from '../dsl/policy/policy.ts';
import { selectHead, type HeadProbs } from '../runtime/verify/policy/adaptive.ts';
import { attendPolicyCache, PolicyCacheRef, tracksMass } from '../runtime/verify/policy/policyCache.ts';
import type { ReferenceVariant } from '../runtime/verify/reference.ts';
import { runs, SEED } from './support/random-expr.ts';

/** A cache of one sequence and one KV head, D = Dv = dims; token t's key and value are `key(t)`. */
function oneHead(policy: CachePolicySpec, dims = 1, layer = 0, layers = 1): PolicyCacheRef {
  return new PolicyCacheRef(policy, { batch: 1, kvHeads: 1, headDim: dims, valueDim: dims, layer, layers, round: (x) => x });
}
const chunk = (ts: number[], key: (t: number) => number[] = (t) => [t]) => ({
  k: ts.flatMap(key), v: ts.flatMap(key), positions: ts,
});
const view = (c: PolicyCacheRef) => c.slots(0, 0).map((s) => ({ k: [...s.k], pos: s.pos, count: s.count }));
/** Decode steps: append token t, then compress. */
function decodeAll(c: PolicyCacheRef, ts: number[], key?: (t: number) => number[]) {
  for (const t of ts) { c.append(0, chunk([t], key)); c.compress(0, 'decode'); }
}

describe('sinks + recent window', () => {
  it('keeps the first sinks and the last windowLength - sinks', () => {
    // sinks 2, windowLength 5: after token 7 the cache holds 0, 1 and the last three, 5 6 7.
    const c = oneHead(sinkCache({ sinks: 2, windowLength: 5 }));
    decodeAll(c, [0, 1, 2, 3, 4]);
    expect(view(c).map((s) => s.pos)).toEqual([0, 1, 2, 3, 4]);
    decodeAll(c, [5, 6, 7]);
    expect(view(c).map((s) => s.pos)).toEqual([0, 1, 5, 6, 7]);
  });
  it('sliding keeps the last W', () => {
    const c = oneHead(slidingCache({ window: 3 }));
    c.append(0, chunk([0, 1, 2, 3, 4, 5]));
    c.compress(0, 'prefill');
    expect(view(c).map((s) => s.pos)).toEqual([3, 4, 5]);
  });
});

describe('pyramid merges (sinks 1, W 2, groups of 2)', () => {
  // Trace for tokens 0..6 with key = position:
  //  t3: recent [1,2,3] > 2 -> merge [1,2] -> (1.5, pos 2, count 2); recent [3]
  //  t5: recent [3,4,5] > 2 -> merge compressed + oldest 2 = [m12, 3, 4] -> (m12,3) = (2.25, pos 3, count 3), (4) alone
  // Final: k 0 | 2.25 4 | 5 6, positions 0 3 4 5 6, counts 1 3 1 1 1.
  const expected = [
    { k: [0], pos: 0, count: 1 }, { k: [2.25], pos: 3, count: 3 }, { k: [4], pos: 4, count: 1 }, { k: [5], pos: 5, count: 1 }, { k: [6], pos: 6, count: 1 },
  ];
  const mean = pyramidCache({ budgets: [2], sinks: 1, pooling: 'mean' });
  it('decode, token by token', () => {
    const c = oneHead(mean);
    decodeAll(c, [0, 1, 2, 3, 4, 5, 6]);
    expect(view(c)).toEqual(expected);
  });
  it('prefill of all 7 at once gives the same cache (one rule for both)', () => {
    const c = oneHead(mean);
    c.append(0, chunk([0, 1, 2, 3, 4, 5, 6]));
    c.compress(0, 'prefill');
    expect(view(c)).toEqual(expected);
  });
  it('max pools per channel', () => {
    // Keys [t, -t]: merge (1,2) -> [2, -1]; then (m12, 3) -> [3, -1]; (4) alone.
    const c = oneHead(pyramidCache({ budgets: [2], sinks: 1, pooling: 'max' }), 2);
    decodeAll(c, [0, 1, 2, 3, 4, 5, 6], (t) => [t, -t]);
    expect(view(c).map((s) => s.k)).toEqual([[0, -0], [3, -1], [4, -4], [5, -5], [6, -6]]);
  });
  it('best by key norm keeps the whole winning slot; ties go to the older one', () => {
    // Keys [t % 2 ? 3 : 4, t]: norms of 1 and 2 are sqrt(10) and sqrt(20): 2 wins -> [4, 2];
    // then (m12 = [4,2], t3 = [3,3]): sqrt(20) vs sqrt(18): m12 wins -> [4, 2], position 3.
    const c = oneHead(pyramidCache({ budgets: [2], sinks: 1, pooling: 'best', importance: 'keyNorm' }), 2);
    decodeAll(c, [0, 1, 2, 3, 4, 5, 6], (t) => [t % 2 ? 3 : 4, t]);
    expect(view(c)[1]).toEqual({ k: [4, 2], pos: 3, count: 3 });
    // Equal norms: [3, 4] then [4, 3]: the older stays.
    const tie = oneHead(pyramidCache({ budgets: [1], sinks: 0, pooling: 'best', importance: 'keyNorm' }), 2);
    decodeAll(tie, [0, 1], (t) => (t === 0 ? [3, 4] : [4, 3]));
    expect(view(tie)).toEqual([{ k: [3, 4], pos: 0, count: 1 }, { k: [4, 3], pos: 1, count: 1 }]);
    // (t1 came with recent [t0, t1] > 1: t0 merged alone into the compressed region.) Token 2:
    // recent [t1, t2] > 1: region = compressed [t0] + oldest [t1]: equal norms, t0 (older) wins,
    // with the newest member's position 1 and count 2.
    tie.append(0, chunk([2], () => [0, 1]));
    tie.compress(0, 'decode');
    expect(view(tie)).toEqual([{ k: [3, 4], pos: 1, count: 2 }, { k: [0, 1], pos: 2, count: 1 }]);
  });
  it('best by attention mass ranks by the mass the slots received', () => {
    const p = pyramidCache({ budgets: [2], sinks: 0, pooling: 'best' });
    expect(tracksMass(p)).toBe(true);
    const c = oneHead(p);
    c.append(0, chunk([0, 1, 2]));
    const [a, b] = c.slots(0, 0);
    a!.mass = 0.25, b!.mass = 0.5;
    c.compress(0, 'decode');
    // recent [0,1,2] > 2: merge [0,1]: slot 1 has more mass -> key 1, position 1, mass 0.75.
    expect(c.slots(0, 0).map((s) => [s.k[0], s.pos, s.count, s.mass])).toEqual([[1, 1, 2, 0.75], [2, 2, 1, 0]]);
  });
  it('groups of 3 merge an incomplete last group on its own', () => {
    // sinks 0, W 4, g 3, tokens 0..4: recent 5 > 4 -> merge oldest 4 = (0,1,2) -> 1 (pos 2, count 3), (3) alone.
    const c = oneHead(pyramidCache({ budgets: [4], sinks: 0, groupSize: 3 }));
    c.append(0, chunk([0, 1, 2, 3, 4]));
    c.compress(0, 'prefill');
    expect(view(c)).toEqual([{ k: [1], pos: 2, count: 3 }, { k: [3], pos: 3, count: 1 }, { k: [4], pos: 4, count: 1 }]);
  });
  it('budgets per layer: layer k uses W_k', () => {
    // budgets [3, 1]: layer 1 keeps at most 1 recent slot; tokens 0..2, sinks 0: recent 3 > 1 ->
    // merge [0] alone; recent [1,2] > 1 -> merge [m0, 1] -> 0.5 (pos 1, count 2).
    const c = oneHead(pyramidCache({ budgets: [3, 1], sinks: 0 }), 1, 1, 2);
    expect(c.budget).toBe(1);
    c.append(0, chunk([0, 1, 2]));
    c.compress(0, 'prefill');
    expect(view(c)).toEqual([{ k: [0.5], pos: 1, count: 2 }, { k: [2], pos: 2, count: 1 }]);
  });
});

describe('pyramid compatibility modes', () => {
  it('bestVote: a per-channel majority of first > second over the region, keys and values apart', () => {
    // sinks 0, W 4, tokens 0..4 with keys [1,0] [0,1] [3,0] [2,5] [9,9] and values 10 - key:
    // region t0..t3, pairs (t0,t1), (t2,t3). Keys: channel 0 first > second in 2 of 2 -> first;
    // channel 1 in 0 of 2 -> second: m01 = [1, 1], m23 = [3, 5]. Values [9,10] [10,9] [7,10] [8,5]:
    // channel 0 0 of 2 -> second, channel 1 2 of 2 -> first: m01 = [10, 10], m23 = [8, 10].
    const keys = [[1, 0], [0, 1], [3, 0], [2, 5], [9, 9]];
    const c = new PolicyCacheRef(pyramidCache({ budgets: [4], sinks: 0, pooling: 'best', compatibility: { bestVote: true } }),
      { batch: 1, kvHeads: 1, headDim: 2, valueDim: 2, layer: 0, layers: 1 });
    c.append(0, { k: keys.flat(), v: keys.flatMap(([a, b]) => [10 - a!, 10 - b!]), positions: [0, 1, 2, 3, 4] });
    c.compress(0, 'prefill');
    expect(c.slots(0, 0).map((s) => [[...s.k], [...s.v], s.pos, s.count])).toEqual([
      [[1, 1], [10, 10], 1, 2], [[3, 5], [8, 10], 3, 2], [[9, 9], [1, 1], 4, 1],
    ]);
  });
  it('bestVote: half the votes is not a majority', () => {
    // Keys [2] [1] [0] [5]: channel 0, pairs (2 > 1) yes, (0 > 5) no: 1 of 2 -> second: [1], [5].
    const c = oneHead(pyramidCache({ budgets: [4], sinks: 0, pooling: 'best', compatibility: { bestVote: true } }));
    c.append(0, { k: [2, 1, 0, 5, 7], v: [2, 1, 0, 5, 7], positions: [0, 1, 2, 3, 4] });
    c.compress(0, 'prefill');
    expect(view(c).map((s) => s.k[0])).toEqual([1, 5, 7]);
  });
  it('mergeLiteralDecode: the whole cache counts as compressed, then decode pools it all in pairs behind a raw copy of the sinks', () => {
    // sinks 2, W 2. Prefill 0..5: recent [2,3,4,5] > 2 -> merge [2,3] -> 2.5 (pos 3, count 2);
    // cache 0 1 | m23 4 5, and all of it counts as compressed.
    const c = oneHead(pyramidCache({ budgets: [2], sinks: 2, compatibility: { mergeLiteralDecode: true } }));
    c.append(0, chunk([0, 1, 2, 3, 4, 5]));
    c.compress(0, 'prefill');
    expect(view(c).map((s) => s.k[0])).toEqual([0, 1, 2.5, 4, 5]);
    // Decode 6, 7 (recent 1, 2), then 8 (recent 3 > 2): pairs of the whole cache 0 1 m23 4 5 6 7 8:
    // (0,1) 0.5 pos 1 count 2; (m23,4) 3.25 pos 4 count 3; (5,6) 5.5 pos 6; (7,8) 7.5 pos 8; sinks 0 1 in front.
    decodeAll(c, [6, 7]);
    expect(view(c)).toHaveLength(7);
    decodeAll(c, [8]);
    expect(view(c)).toEqual([
      { k: [0], pos: 0, count: 1 }, { k: [1], pos: 1, count: 1 }, { k: [0.5], pos: 1, count: 2 },
      { k: [3.25], pos: 4, count: 3 }, { k: [5.5], pos: 6, count: 2 }, { k: [7.5], pos: 8, count: 2 },
    ]);
    // 9, 10, 11 -> 9 slots, odd: (0,1) 0.5; (0.5, 3.25) 1.875 pos 4 count 5; (5.5, 7.5) 6.5 pos 8 count 4;
    // (9,10) 9.5 pos 10; (11, its copy) 11 pos 11 count 1.
    decodeAll(c, [9, 10, 11]);
    expect(view(c)).toEqual([
      { k: [0], pos: 0, count: 1 }, { k: [1], pos: 1, count: 1 }, { k: [0.5], pos: 1, count: 2 }, { k: [1.875], pos: 4, count: 5 },
      { k: [6.5], pos: 8, count: 4 }, { k: [9.5], pos: 10, count: 2 }, { k: [11], pos: 11, count: 1 },
    ]);
  });
});

describe('countBias and the attention mass', () => {
  const variant: ReferenceVariant = { heads: { q: 2, kv: 1 }, headDim: 1, valueDim: 1, scale: 1 };
  it('countBias adds ln(count): a slot standing for 3 tokens weighs 3 times one of them', () => {
    // sinks 0, W 1, tokens 0..2 with equal keys: merge [0] alone, then [m0, 1] -> count 2: slots
    // count 2 and count 1 with equal logits: probabilities 2/3 and 1/3.
    const c = oneHead(pyramidCache({ budgets: [1], sinks: 0, countBias: true }));
    c.append(0, { k: [1, 1, 1], v: [0, 3, 6], positions: [0, 1, 2] });
    c.compress(0, 'prefill');
    expect(view(c).map((s) => s.count)).toEqual([2, 1]);
    const r = attendPolicyCache(variant, c, 0, [0.5, 0.5], [5]);
    // values: merged mean 1.5, raw 6: out = 2/3 * 1.5 + 1/3 * 6 = 3.
    expect(r.out[0]).toBeCloseTo(3, 12);
    expect(r.probs[0]![0]!.p[0]).toBeCloseTo(2 / 3, 12);
  });
  it('the mass of a call sums each slot over the rows and query heads of its group, and is added to tracked slots', () => {
    const c = oneHead(pyramidCache({ budgets: [8], sinks: 0, pooling: 'best' }));
    c.append(0, { k: [0, 0], v: [1, 2], positions: [0, 1] });
    const r = attendPolicyCache(variant, c, 0, [1, 1], [1]);
    // Equal logits: each head gives 1/2 to each slot; two heads: mass 1 per slot.
    expect([...r.mass[0]!]).toEqual([1, 1]);
    expect(c.slots(0, 0).map((s) => s.mass)).toEqual([1, 1]);
  });
});

describe('adaptive per-head selection (FastGen)', () => {
  // n = 4 prompt, one query head, rows (causal):
  //   [1, 0, 0, 0], [.5, .5, 0, 0], [.25, .25, .5, 0], [.25, .25, .25, .25]; ids [1, 7, 9, 7]
  // special {0}: mass (1 + .5 + .25 + .25) / 4 = .5; + punctuation {0, 2}: .6875;
  // + frequency (rF .5: top 2 column sums [2, 1, .75, .25] -> {0, 1}) {0,1,2}: .9375; + locality (rL .25: {3}): 1.
  const probs: HeadProbs[] = [{ rows: 4, p: Float64Array.from([1, 0, 0, 0, 0.5, 0.5, 0, 0, 0.25, 0.25, 0.5, 0, 0.25, 0.25, 0.25, 0.25]) }];
  const ids = [1, 7, 9, 7];
  const pol = (o: Parameters<typeof adaptiveCache>[0]) => adaptiveCache({ special: [1], punctuation: [9], rF: 0.5, rL: 0.25, ...o });
  it('takes the first candidate whose retained mass reaches T', () => {
    expect(selectHead(pol({ T: 0.5 }), probs, ids)).toEqual({ kind: 'special', kept: [0] });
    expect(selectHead(pol({ T: 0.6 }), probs, ids)).toEqual({ kind: 'punctuation', kept: [0, 2] });
    expect(selectHead(pol({ T: 0.9 }), probs, ids)).toEqual({ kind: 'frequency', kept: [0, 1, 2] });
    expect(selectHead(pol({ T: 0.95 }), probs, ids)).toEqual({ kind: 'locality', kept: [0, 1, 2, 3] });
    expect(selectHead(pol({ T: 1, rL: 0 }), probs, ids).kind).toBe('full');
  });
  it('recoveryMaxError: every kept column within fround(1 - T), strictly', () => {
    // special {0}: renormalised column 0 is 1 in every row: worst |1 - .25| = .75 -> passes below T = .25 only.
    expect(selectHead(pol({ T: 0.2, recovery: 'recoveryMaxError' }), probs, ids)).toEqual({ kind: 'special', kept: [0] });
    // T = .25: .75 < .75 fails; {0, 2}: column 0 worst .5 (row 1), column 2 worst .25 -> passes.
    expect(selectHead(pol({ T: 0.25, recovery: 'recoveryMaxError' }), probs, ids)).toEqual({ kind: 'punctuation', kept: [0, 2] });
    // T = 1: nothing passes, full included: the head keeps no prompt token.
    expect(selectHead(pol({ T: 1, recovery: 'recoveryMaxError' }), probs, ids)).toEqual({ kind: 'none', kept: [] });
    // No special token in the prompt: the empty set passes vacuously.
    expect(selectHead(pol({ T: 0.95, special: [], recovery: 'recoveryMaxError' }), probs, ids)).toEqual({ kind: 'special', kept: [] });
  });
  it('frequency ties go to the lower position; GQA averages over the heads of the group', () => {
    // Two heads: head a puts everything on column 1, head b on column 2 (rows 2 and 3 see them);
    // column sums tie between 1 and 2: the top 1 is column 1.
    const a = { rows: 2, p: Float64Array.from([0, 1, 0, 0, 1, 0]) }, b = { rows: 2, p: Float64Array.from([0, 0, 1, 0, 0, 1]) };
    const sel = selectHead(adaptiveCache({ rF: 1 / 3, rL: 0, T: 0.5 }), [a, b], [5, 5, 5]);
    // special {} 0, punct {} 0, frequency {1}: head a keeps all (1), head b none (0): average .5 >= .5.
    expect(sel).toEqual({ kind: 'frequency', kept: [1] });
  });
  it('prefill builds a ragged cache: each KV head its own length; decode appends to every head, or applies the policy', () => {
    for (const policyDecode of [false, true]) {
      const c = new PolicyCacheRef(adaptiveCache({ special: [1], T: 0.5, rF: 0.3, rL: 0.34, policyDecode }),
        { batch: 1, kvHeads: 2, headDim: 1, valueDim: 1, layer: 0, layers: 1 });
      c.append(0, { k: [0, 0, 0, 0, 0, 0], v: [0, 0, 0, 0, 0, 0], positions: [0, 1, 2], ids: [1, 2, 3] });
      // Head 0: every row on column 0 (the special token): special retains 1 -> 'special', keeps [0].
      // Head 1: row i on column i. special {0} retains 1/3; punctuation adds nothing; frequency
      // floor(3 * .3) = 0 more; locality floor(3 * .34) = 1 -> {0, 2} retains 2/3 >= .5 -> 'locality'.
      const h0: HeadProbs = { rows: 3, p: Float64Array.from([1, 0, 0, 1, 0, 0, 1, 0, 0]) };
      const h1: HeadProbs = { rows: 3, p: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) };
      c.compress(0, 'prefill', [[h0], [h1]]);
      expect([c.kind(0, 0), c.kind(0, 1)]).toEqual(['special', 'locality']);
      expect([c.slots(0, 0).map((s) => s.pos), c.slots(0, 1).map((s) => s.pos)]).toEqual([[0], [0, 2]]);
      // Decode token 3 (id 4). Without policyDecode it is appended to both heads. With it, head 0
      // keeps special ids only (drops it); head 1 keeps the special slot and positions > 3 - 1.
      c.append(0, { k: [0, 0], v: [0, 0], positions: [3], ids: [4] });
      c.compress(0, 'decode');
      expect([c.slots(0, 0).map((s) => s.pos), c.slots(0, 1).map((s) => s.pos)]).toEqual(policyDecode ? [[0], [0, 3]] : [[0, 3], [0, 2, 3]]);
    }
  });
});
