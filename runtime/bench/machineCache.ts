/**
 * How big this machine's last-level cache is, so that "rotated past L3" stays true on every
 * machine the bench runs on. A constant is not enough: the machines kvforge runs on range from a
 * 32 MiB L3 to a 260 MiB one, and a 64 MiB rotation on the latter measures L3, not DRAM.
 *
 * The size comes from Linux's sysfs (`/sys/devices/system/cpu/cpu0/cache/index<N>/{level,size}`),
 * the largest level found. Where sysfs does not tell (another OS, a container that hides it), the
 * bench assumes {@link ASSUMED_LLC_BYTES}, larger than any L3 seen here, and says so.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the bench assumes when the size cannot be read: more than any L3 seen on these machines. */
export const ASSUMED_LLC_BYTES = 512 * 2 ** 20;

export interface LastLevelCache {
  readonly bytes: number;
  /** `sysfs` when read off the machine, `assumed` for {@link ASSUMED_LLC_BYTES}. */
  readonly source: 'sysfs' | 'assumed';
}

/** Parses a sysfs cache size (`266240K`, `32M`, `1024`); null for anything else. */
export function parseCacheSize(text: string): number | null {
  const m = /^\s*(\d+)\s*([KMG]?)\s*$/i.exec(text);
  if (!m) return null;
  const unit = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

/** The largest cache level of cpu0 as sysfs lists it; `root` is for tests. */
export function lastLevelCache(root = '/sys/devices/system/cpu/cpu0/cache'): LastLevelCache {
  let best: { level: number; bytes: number } | null = null;
  let entries: string[];
  try {
    entries = readdirSync(root).filter((e) => /^index\d+$/.test(e));
  } catch {
    return { bytes: ASSUMED_LLC_BYTES, source: 'assumed' };
  }
  for (const e of entries) {
    try {
      const level = Number(readFileSync(join(root, e, 'level'), 'utf8').trim());
      const bytes = parseCacheSize(readFileSync(join(root, e, 'size'), 'utf8'));
      if (!Number.isInteger(level) || bytes === null || bytes <= 0) continue;
      if (!best || level > best.level || (level === best.level && bytes > best.bytes)) best = { level, bytes };
    } catch {
      // An index without level or size (seen on some virtual machines) tells nothing.
    }
  }
  return best ? { bytes: best.bytes, source: 'sysfs' } : { bytes: ASSUMED_LLC_BYTES, source: 'assumed' };
}

/**
 * Bytes of distinct K/V to rotate through so each decode step reads DRAM: twice the last-level
 * cache (an LRU-like cache then holds none of the set read next), and never under 64 MiB.
 */
export function rotationBytes(llc: LastLevelCache): number {
  return Math.max(64 * 2 ** 20, 2 * llc.bytes);
}

/** Buffer size for the DRAM read probe: four times the last-level cache, at least 256 MiB. */
export function probeBytes(llc: LastLevelCache): number {
  return Math.max(256 * 2 ** 20, 4 * llc.bytes);
}
