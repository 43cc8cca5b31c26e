/**
 * The iteration plan of parallel prefill (semantics.md section 2).
 *
 * Scanning layers upward, a top-attending layer i opens a cyclic group i..top, where top starts
 * at i's target and grows to the highest target of the layers inside until it is stable; every
 * maximal run of other layers is a plain group. A plain group runs once. A cyclic group runs
 * m + b passes, each from the same input hidden states: its targets' KV for the new positions
 * starts as zeros, each pass overwrites it, and only the last pass gives the group's output and
 * the persistent cache. Tokens 0..k-1 are exact after k passes, so a prompt of at most m + b
 * tokens is exact (and decode, one token at a time, is always exact).
 */
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { targetOf } from './layers.ts';

export interface LayerGroup {
  readonly kind: 'plain' | 'cyclic';
  readonly first: number;
  readonly last: number;
  /** 1 for a plain group, m + b for a cyclic one. */
  readonly passes: number;
}

export function iterationPlan(s: SchemeSpec): readonly LayerGroup[] {
  const groups: LayerGroup[] = [];
  const cyclicPasses = s.iterations.m + s.iterations.b;
  for (let i = 0; i < s.layers;) {
    if (targetOf(s, i) > i) {
      let top = targetOf(s, i);
      for (let j = i; j <= top; j++) top = Math.max(top, targetOf(s, j));
      groups.push(Object.freeze({ kind: 'cyclic', first: i, last: top, passes: cyclicPasses }));
      i = top + 1;
    } else {
      const first = i;
      while (i < s.layers && targetOf(s, i) <= i) i++;
      groups.push(Object.freeze({ kind: 'plain', first, last: i - 1, passes: 1 }));
    }
  }
  return Object.freeze(groups);
}

/** Longest prompt that parallel prefill computes exactly: m + b with a cyclic group, else any. */
export function exactPromptLength(s: SchemeSpec): number {
  return iterationPlan(s).some((g) => g.kind === 'cyclic') ? s.iterations.m + s.iterations.b : Infinity;
}
