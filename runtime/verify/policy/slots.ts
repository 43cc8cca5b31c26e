/**
 * The slots of one (sequence, KV head) of a policy-managed cache, as the float64 references of
 * semantics.md section 3 hold them. A slot stands for `count` tokens (1 for a raw token, more after
 * a merge) and carries the position of the newest of them; `mass` is the attention mass it has
 * received so far (the sum of the probabilities over every query row, and over the query heads of
 * its KV group, of every attention call that tracked it), which a merged slot inherits summed.
 */

export interface RefSlot {
  readonly k: Float64Array;
  readonly v: Float64Array;
  readonly pos: number;
  readonly count: number;
  mass: number;
}

/** A raw token: count 1, no mass yet. */
export function tokenSlot(k: ArrayLike<number>, v: ArrayLike<number>, pos: number): RefSlot {
  return { k: Float64Array.from(k), v: Float64Array.from(v), pos, count: 1, mass: 0 };
}

export function copySlot(s: RefSlot): RefSlot {
  return { k: Float64Array.from(s.k), v: Float64Array.from(s.v), pos: s.pos, count: s.count, mass: s.mass };
}

/** The L2 norm of a slot's key (the importance of `best` pooling when mass is not tracked). */
export function keyNorm(s: RefSlot): number {
  let sum = 0;
  for (const x of s.k) sum += x * x;
  return Math.sqrt(sum);
}
