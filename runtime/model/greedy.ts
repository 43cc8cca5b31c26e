/** Index of the largest of x[at .. at + n) (the first, on ties): greedy decoding. */
export function argmax(x: ArrayLike<number>, at: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[at + i] > x[at + best]) best = i;
  return best;
}
