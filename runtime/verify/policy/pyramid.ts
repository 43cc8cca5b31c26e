/**
 * Pyramid budgets with pooled merges (semantics.md 3.3), on one head's slots: the float64
 * reference, written from the contract.
 *
 * Regions of a head: `sinkCount` raw sink slots (the first `sinks` tokens; never merged, never
 * counted), then `compressed` merged slots, then the raw recent region. After a step appends its
 * tokens and attends, compress(): while the recent region holds more than W slots, the
 * compressed region plus the oldest W recent slots are merged in adjacent groups of g, in order,
 * and become the new compressed region.
 *
 * Decisions where the contract is silent (kvforge's own, written here and in the README):
 * - An incomplete last group is merged on its own, like a full one (a single slot is unchanged).
 * - A merged slot's mass is the sum of its members' masses, as its count is their counts' sum.
 * - `mean` sums the members in float64, in order, divides by their number and rounds once to the
 *   cache's storage dtype (`round`), so a kernel that does the same in double is bit-exact.
 * - `max` is Math.max per channel: a NaN member makes that channel NaN.
 * - `best`: a later member replaces the running winner only when its importance is strictly
 *   greater (so ties go to the older slot, and a NaN importance never wins over a number).
 * - bestVote: per channel, the first member of every pair is taken when first > second holds in
 *   strictly more than half of the region's pairs, else the second; keys and values vote apart.
 *   Only complete pairs vote and merge; a last single slot is unchanged.
 *
 * Compatibility mode mergeLiteralDecode: after any compression the whole cache counts as
 * compressed (so the raw tail a prefill leaves is merged at the next compression); a decode step
 * whose recent region exceeds W pools the whole cache in pairs (sinks and recent slots included;
 * an odd count pairs the last slot with a copy of itself, which stands for the same tokens), and
 * puts a raw copy of the sinks in front.
 */
import type { PyramidPolicy } from '../../../dsl/policy/policy.ts';
import { copySlot, keyNorm, type RefSlot } from './slots.ts';

export interface PyramidHead {
  slots: RefSlot[];
  /** Raw sink slots at the front: min(sinks, tokens seen). */
  sinkCount: number;
  /** Merged slots after the sinks (mergeLiteralDecode: every slot that counts as compressed). */
  compressed: number;
}

export type Phase = 'prefill' | 'decode';
/** Rounding to the cache's storage dtype (Math.fround for f32). */
export type Round = (x: number) => number;
const identity: Round = (x) => x;

export function emptyPyramidHead(): PyramidHead {
  return { slots: [], sinkCount: 0, compressed: 0 };
}

/** Append raw token slots: the first `sinks` tokens of the sequence become the sinks. */
export function pyramidAppend(p: Pick<PyramidPolicy, 'sinks'>, h: PyramidHead, tokens: readonly RefSlot[]): void {
  for (const t of tokens) {
    h.slots.push(t);
    if (h.sinkCount < p.sinks && h.slots.length === h.sinkCount + 1) h.sinkCount++;
  }
}

export function recentCount(h: PyramidHead): number {
  return h.slots.length - h.sinkCount - h.compressed;
}

/** The compression after a step (W: this layer's budget). */
export function pyramidCompress(p: PyramidPolicy, h: PyramidHead, W: number, phase: Phase, round: Round = identity): void {
  if (!(W >= 1)) throw new RangeError(`pyramid budget must be at least 1, got ${W}`);
  if (p.mergeLiteralDecode && phase === 'decode') {
    if (recentCount(h) > W) literalDecodeCompress(p, h, round);
    return;
  }
  let merged = false;
  while (recentCount(h) > W) {
    const start = h.sinkCount;
    const region = h.slots.slice(start, start + h.compressed + W);
    const pooled = mergeRegion(p, region, false, round);
    h.slots = [...h.slots.slice(0, start), ...pooled, ...h.slots.slice(start + h.compressed + W)];
    h.compressed = pooled.length;
    merged = true;
  }
  if (merged && p.mergeLiteralDecode) h.compressed = h.slots.length - h.sinkCount;
}

function literalDecodeCompress(p: PyramidPolicy, h: PyramidHead, round: Round): void {
  const sinks = h.slots.slice(0, h.sinkCount).map(copySlot);
  const pooled = mergeRegion(p, h.slots, true, round);
  h.slots = [...sinks, ...pooled];
  h.compressed = h.slots.length - h.sinkCount;
}

/**
 * Merge a region in adjacent groups of g (pairs when `duplicateOdd`, the literal decode's whole
 * cache: an odd count pairs the last slot with itself).
 */
export function mergeRegion(p: Pick<PyramidPolicy, 'groupSize' | 'pooling' | 'importance' | 'bestVote'>, region: readonly RefSlot[], duplicateOdd: boolean,
  round: Round = identity): RefSlot[] {
  const g = duplicateOdd ? 2 : p.groupSize;
  const groups: RefSlot[][] = [];
  for (let i = 0; i < region.length; i += g) groups.push(region.slice(i, i + g));
  if (duplicateOdd && groups.length && groups[groups.length - 1]!.length === 1) {
    const last = groups[groups.length - 1]!;
    last.push(last[0]!);
  }
  if (p.bestVote) return voteMerge(groups);
  return groups.map((members) => {
    // The literal decode's odd last slot paired with itself stands for its own tokens once.
    const distinct = members.length === 2 && members[0] === members[1] ? [members[0]!] : members;
    return poolGroup(p, distinct, round);
  });
}

/** One group's merged slot: newest position, summed counts and masses, pooled K and V. */
export function poolGroup(p: Pick<PyramidPolicy, 'pooling' | 'importance'>, members: readonly RefSlot[], round: Round = identity): RefSlot {
  const last = members[members.length - 1]!;
  const count = members.reduce((a, s) => a + s.count, 0);
  const mass = members.reduce((a, s) => a + s.mass, 0);
  if (members.length === 1) return { ...copySlot(last), count, mass };
  let k: Float64Array, v: Float64Array;
  if (p.pooling === 'best') {
    const rank = (s: RefSlot) => (p.importance === 'keyNorm' ? keyNorm(s) : s.mass);
    let win = members[0]!;
    let best = rank(win);
    for (const s of members.slice(1)) {
      const r = rank(s);
      if (r > best || (Number.isNaN(best) && !Number.isNaN(r))) win = s, best = r;
    }
    k = Float64Array.from(win.k), v = Float64Array.from(win.v);
  } else {
    const pool = (pick: (s: RefSlot) => Float64Array): Float64Array => {
      const out = Float64Array.from(pick(members[0]!));
      for (const s of members.slice(1)) {
        const x = pick(s);
        for (let c = 0; c < out.length; c++) out[c] = p.pooling === 'max' ? Math.max(out[c]!, x[c]!) : out[c]! + x[c]!;
      }
      if (p.pooling === 'mean') for (let c = 0; c < out.length; c++) out[c] = round(out[c]! / members.length);
      return out;
    };
    k = pool((s) => s.k), v = pool((s) => s.v);
  }
  return { k, v, pos: last.pos, count, mass };
}

/** bestVote over the region's pairs (groups of 2; a last single group is unchanged). */
function voteMerge(groups: readonly RefSlot[][]): RefSlot[] {
  const pairs = groups.filter((g) => g.length === 2);
  const choose = (pick: (s: RefSlot) => Float64Array): Uint8Array | undefined => {
    if (!pairs.length) return undefined;
    const n = pick(pairs[0]![0]!).length;
    const first = new Uint8Array(n);
    for (let c = 0; c < n; c++) {
      let votes = 0;
      for (const [a, b] of pairs) if (pick(a!)[c]! > pick(b!)[c]!) votes++;
      first[c] = 2 * votes > pairs.length ? 1 : 0;
    }
    return first;
  };
  const kFirst = choose((s) => s.k), vFirst = choose((s) => s.v);
  return groups.map((g) => {
    if (g.length === 1) return copySlot(g[0]!);
    const [a, b] = g as [RefSlot, RefSlot];
    const same = a === b;
    const k = a.k.map((x, c) => (kFirst![c] ? x : b.k[c]!));
    const v = a.v.map((x, c) => (vFirst![c] ? x : b.v[c]!));
    return { k, v, pos: b.pos, count: same ? a.count : a.count + b.count, mass: same ? a.mass : a.mass + b.mass };
  });
}
