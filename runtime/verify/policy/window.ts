/**
 * Sliding and sink windows (semantics.md 3.1, 3.2), on one head's slots. A step appends its
 * tokens, attends, then applies these: the step that appends token t attends over the cache before
 * it is cut back.
 */
import type { RefSlot } from './slots.ts';

/** Sliding: keep the last `window` slots. */
export function keepLast(slots: readonly RefSlot[], window: number): RefSlot[] {
  return slots.slice(Math.max(0, slots.length - window));
}

/**
 * StreamingLLM: when more than `windowLength` slots are held, keep the first `sinks` and the last
 * `windowLength - sinks` (windowLength counts the sinks; windowLength > sinks).
 */
export function keepSinksAndRecent(slots: readonly RefSlot[], sinks: number, windowLength: number): RefSlot[] {
  if (slots.length <= windowLength) return slots.slice();
  return [...slots.slice(0, sinks), ...slots.slice(slots.length - (windowLength - sinks))];
}
