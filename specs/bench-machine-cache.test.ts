// The bench's "rotated past L3" and "DRAM read" figures key on the machine's last-level cache, read
// from sysfs: a fixed 64 MiB rotation measured L3 on a 260 MiB-L3 machine.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ASSUMED_LLC_BYTES, lastLevelCache, parseCacheSize, probeBytes, rotationBytes } from '../runtime/bench/machineCache.ts';

const made: string[] = [];
afterEach(() => { for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true }); });

function fakeSysfs(levels: Array<{ level: string; size: string } | null>): string {
  const root = mkdtempSync(join(tmpdir(), 'kvf-llc-'));
  made.push(root);
  levels.forEach((l, i) => {
    const d = join(root, `index${i}`);
    mkdirSync(d);
    if (l) (writeFileSync(join(d, 'level'), `${l.level}\n`), writeFileSync(join(d, 'size'), `${l.size}\n`));
  });
  mkdirSync(join(root, 'power')); // not an index: ignored
  return root;
}

describe('last-level cache size', () => {
  it('parses the sysfs size forms', () => {
    expect(parseCacheSize('266240K')).toBe(266240 * 1024);
    expect(parseCacheSize('32M\n')).toBe(32 * 2 ** 20);
    expect(parseCacheSize('1G')).toBe(2 ** 30);
    expect(parseCacheSize('4096')).toBe(4096);
    for (const bad of ['', 'K', '12 KB', '-1K', '1.5M']) expect(parseCacheSize(bad)).toBeNull();
  });

  it('takes the largest level, and its largest cache, skipping unreadable entries', () => {
    const root = fakeSysfs([{ level: '1', size: '48K' }, { level: '2', size: '2048K' }, null, { level: '3', size: '266240K' }, { level: 'x', size: '1G' }]);
    expect(lastLevelCache(root)).toEqual({ bytes: 266240 * 1024, source: 'sysfs' });
  });

  it('assumes a large cache where sysfs tells nothing', () => {
    expect(lastLevelCache('/nonexistent/kvforge')).toEqual({ bytes: ASSUMED_LLC_BYTES, source: 'assumed' });
    expect(lastLevelCache(fakeSysfs([null]))).toEqual({ bytes: ASSUMED_LLC_BYTES, source: 'assumed' });
  });

  it('rotates over twice the cache and probes four times it, with floors', () => {
    const small = { bytes: 8 * 2 ** 20, source: 'sysfs' as const }, big = { bytes: 260 * 2 ** 20, source: 'sysfs' as const };
    expect(rotationBytes(small)).toBe(64 * 2 ** 20);
    expect(probeBytes(small)).toBe(256 * 2 ** 20);
    expect(rotationBytes(big)).toBe(520 * 2 ** 20);
    expect(probeBytes(big)).toBe(1040 * 2 ** 20);
  });
});
