/**
 * DRAM read probes short enough to interleave with a benchmark's samples: one cpu buffer, written
 * once, re-read in place by each probe (native probeRead over a NativeBuffer: no allocation, no
 * page faults per probe). A kernel's share of the bandwidth is then a ratio of two figures taken
 * seconds apart at most, in the same round, so load from other work on a shared machine moves
 * both alike instead of only one of them.
 *
 * @module
 */
import type { NativeAddon, NativeBuffer } from '../api/native.ts';

export interface DramProbe {
  /** One probe (at least one full pass over the buffer), GB/s. */
  sample(): Promise<number>;
  dispose(): void;
}

/** Chunk written at a time while the buffer is first touched. */
const TOUCH_FLOATS = 16 * 2 ** 20;

export function openDramProbe(native: NativeAddon, threads: number, bytes: number): DramProbe {
  const n = Math.floor(bytes / 4);
  const buf: NativeBuffer = new native.NativeBuffer('cpu', 0, n);
  // Every page written: untouched pages would all read the kernel's one zero page, from cache.
  const ones = new Float32Array(Math.min(TOUCH_FLOATS, n)).fill(1);
  for (let at = 0; at < n; at += ones.length) buf.upload(ones.subarray(0, Math.min(ones.length, n - at)), at);
  return {
    sample: () => native.probeRead(threads, buf, 0.001),
    dispose: () => buf.release(),
  };
}
