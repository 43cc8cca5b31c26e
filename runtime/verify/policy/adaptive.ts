/**
 * FastGen's adaptive per-head policy (semantics.md 3.4): the float64 reference of the selection on
 * the prompt and of what happens to decode tokens.
 *
 * Selection of one KV head, from the prompt's attention probabilities of the query heads that
 * share it (`probs[g]`: rows = the prompt's query rows, columns = its n slots) and the prompt's
 * token ids. Candidates, each the union of the previous with one more policy: special tokens,
 * + punctuation, + frequency (the top floor(n * rF) positions by column sum over every row of
 * every query head of the group; ties to the lower position), + locality (the last
 * floor(n * rL) positions), then full.
 * - recovery 'mass' (decision): a candidate passes when the mass it retains, averaged over the
 *   rows of the group's query heads, is >= T; full always passes. Computed as kept >= T * (kept
 *   + dropped), kept and dropped the masses of the columns in and out of the set summed over
 *   those rows: the same rule wherever a row's probabilities sum to 1, and a row with no
 *   admissible key counts for nothing. Why: the empty set retains exactly 0 and a set of every
 *   column exactly 1 in any precision, so the float32 kernels' masses and this float64 reference
 *   decide alike at both ends (T = 0, T = 1), not only up to rounding. A head whose prompt slots
 *   received no mass at all (no call read the cache since it was filled, as for a cache of a
 *   cyclic group refilled by the last pass; or no row admits a key) keeps everything: 'full'.
 * - 'recoveryMaxError' (the re-implementation): it passes when, for every kept column, the largest
 *   |renormalised - full| over those rows is < fround(1 - T), compared in float32; a row whose
 *   kept mass is 0 renormalises to 0; an empty set passes vacuously; nothing passes at T = 1,
 *   full included, and then the head keeps no prompt token ('none').
 *
 * Decode: every new token is appended to every head; with policyDecode, after each step the
 * head keeps a slot when its policy admits it (decisions, the paper's behaviour written as rules):
 * special ids (special and above), punctuation ids (punctuation and above), the floor(n * rF)
 * slots of largest accumulated mass (frequency and above; ties to the lower position; the mass
 * is the prompt's column sums plus what decode calls added), positions within the last
 * floor(n * rL) of the newest one (locality and above); full keeps everything, none nothing.
 */
import type { AdaptivePolicy } from '../../../dsl/policy/policy.ts';
import type { RefSlot } from './slots.ts';

export type AdaptiveKind = 'special' | 'punctuation' | 'frequency' | 'locality' | 'full' | 'none';
export const ADAPTIVE_ORDER: readonly AdaptiveKind[] = ['special', 'punctuation', 'frequency', 'locality', 'full'];

export interface HeadSelection {
  readonly kind: AdaptiveKind;
  /** Kept prompt columns, ascending. */
  readonly kept: readonly number[];
}

/** Row-major [rows][n] probabilities of one query head over the prompt's n slots. */
export interface HeadProbs {
  readonly rows: number;
  readonly p: Float64Array;
}

/** The top `count` columns by mass, ties to the lower column. */
export function heavyHitters(mass: ArrayLike<number>, count: number): number[] {
  const idx = Array.from({ length: mass.length }, (_, j) => j);
  idx.sort((a, b) => (mass[b]! - mass[a]!) || a - b);
  return idx.slice(0, Math.max(0, Math.min(count, mass.length))).sort((a, b) => a - b);
}

export function columnSums(probs: readonly HeadProbs[], n: number): Float64Array {
  const sums = new Float64Array(n);
  for (const h of probs) for (let i = 0; i < h.rows; i++) for (let j = 0; j < n; j++) sums[j] += h.p[i * n + j]!;
  return sums;
}

/** The candidate kept-sets in trial order (each a sorted list of prompt columns). */
export function candidates(p: AdaptivePolicy, probs: readonly HeadProbs[], ids: ArrayLike<number>): number[][] {
  const n = ids.length;
  const special = new Set(p.special), punct = new Set(p.punctuation);
  const set = new Set<number>();
  const out: number[][] = [];
  const snapshot = () => out.push([...set].sort((a, b) => a - b));
  for (let j = 0; j < n; j++) if (special.has(ids[j]!)) set.add(j);
  snapshot();
  for (let j = 0; j < n; j++) if (punct.has(ids[j]!)) set.add(j);
  snapshot();
  for (const j of heavyHitters(columnSums(probs, n), Math.floor(n * p.rF))) set.add(j);
  snapshot();
  for (let j = Math.max(0, n - Math.floor(n * p.rL)); j < n; j++) set.add(j);
  snapshot();
  out.push(Array.from({ length: n }, (_, j) => j));
  return out;
}

/** The masses of the columns in and out of `kept`, summed over every row of every query head. */
export function keptAndDropped(probs: readonly HeadProbs[], n: number, kept: readonly number[]): { kept: number; dropped: number } {
  const isKept = new Uint8Array(n);
  for (const j of kept) isKept[j] = 1;
  let inside = 0, outside = 0;
  for (const h of probs) {
    for (let i = 0; i < h.rows; i++) {
      for (let j = 0; j < n; j++) {
        if (isKept[j]) inside += h.p[i * n + j]!;
        else outside += h.p[i * n + j]!;
      }
    }
  }
  return { kept: inside, dropped: outside };
}

/** The mass rule: kept >= T * (kept + dropped). */
export function retainsEnough(kept: number, dropped: number, T: number): boolean {
  return kept >= T * (kept + dropped);
}

/** The re-implementation's test: every kept column's worst |renormalised - full| < fround(1 - T). */
export function passesMaxError(probs: readonly HeadProbs[], n: number, kept: readonly number[], T: number): boolean {
  const limit = Math.fround(1 - T);
  for (const j of kept) {
    let worst = 0;
    for (const h of probs) {
      for (let i = 0; i < h.rows; i++) {
        let s = 0;
        for (const c of kept) s += h.p[i * n + c]!;
        const full = h.p[i * n + j]!;
        const renorm = s > 0 ? full / s : 0;
        worst = Math.max(worst, Math.abs(renorm - full));
      }
    }
    if (!(Math.fround(worst) < limit)) return false;
  }
  return true;
}

export function selectHead(p: AdaptivePolicy, probs: readonly HeadProbs[], ids: ArrayLike<number>): HeadSelection {
  const n = ids.length;
  const sets = candidates(p, probs, ids);
  // No attention mass at all on the prompt's slots (no call read the cache since it was filled,
  // or no row admits a key): nothing to profile on, so the head keeps everything (decision).
  if (p.recovery === 'mass') {
    const { kept, dropped } = keptAndDropped(probs, n, []);
    if (kept + dropped === 0) return { kind: 'full', kept: sets[sets.length - 1]! };
  }
  for (let c = 0; c < sets.length; c++) {
    const kind = ADAPTIVE_ORDER[c]!;
    const ok = p.recovery === 'mass'
      ? kind === 'full' || (({ kept, dropped }) => retainsEnough(kept, dropped, p.T))(keptAndDropped(probs, n, sets[c]!))
      : passesMaxError(probs, n, sets[c]!, p.T);
    if (ok) return { kind, kept: sets[c]! };
  }
  return { kind: 'none', kept: [] };
}

/** A head under the adaptive policy: its slots, the token id of each, its policy. */
export interface AdaptiveHead {
  slots: RefSlot[];
  ids: number[];
  kind: AdaptiveKind;
  /** Prompt length n the budgets floor(n * rF), floor(n * rL) come from (0 before profiling). */
  promptLength: number;
}

export function emptyAdaptiveHead(): AdaptiveHead {
  return { slots: [], ids: [], kind: 'full', promptLength: 0 };
}

const rank = (k: AdaptiveKind) => (k === 'none' ? -1 : ADAPTIVE_ORDER.indexOf(k));

/** The decode-time filter of policyDecode (see the module comment). */
export function filterDecode(p: AdaptivePolicy, h: AdaptiveHead): void {
  if (h.kind === 'full') return;
  if (h.kind === 'none') {
    h.slots = [], h.ids = [];
    return;
  }
  const r = rank(h.kind);
  const special = new Set(p.special), punct = new Set(p.punctuation);
  const n = h.promptLength;
  const heavy = new Set(r >= rank('frequency') ? heavyHitters(h.slots.map((s) => s.mass), Math.floor(n * p.rF)) : []);
  const newest = h.slots.length ? h.slots[h.slots.length - 1]!.pos : 0;
  const nL = Math.floor(n * p.rL);
  const keep = h.slots.map((s, j) => special.has(h.ids[j]!)
    || (r >= rank('punctuation') && punct.has(h.ids[j]!))
    || heavy.has(j)
    || (r >= rank('locality') && s.pos > newest - nL));
  h.slots = h.slots.filter((_, j) => keep[j]);
  h.ids = h.ids.filter((_, j) => keep[j]);
}
