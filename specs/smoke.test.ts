/**
 * runtime/native/test/smoke.mjs on the shipped addon, from plain Node (no vitest, no TypeScript):
 * every export once, one forward against a JS float64 reference, the typed argument errors,
 * concurrent calls, Lq = 0 and Lk = 0. In `npm run test:asan` the shipped addon is the sanitized
 * one, and this node inherits the worker's preload of libasan.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NATIVE_DIR } from '../runtime/build/paths.ts';
import { loadShipped } from '../runtime/api/shipped.ts';

describe('smoke.mjs', () => {
  it('every export of the shipped addon from plain Node', async () => {
    const addon = (await loadShipped()).addon.path;
    // The shipped addon is the sanitized one in the sanitized flavour: this node keeps the preload.
    const r = spawnSync(process.execPath, ['--expose-gc', path.join(NATIVE_DIR, 'test/smoke.mjs'), addon], {
      encoding: 'utf8', env: process.env, timeout: 200_000,
    });
    const log = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0) throw new Error(`smoke.mjs failed (exit ${r.status}, signal ${r.signal}, ${r.error?.message ?? 'no spawn error'}):\n${log.slice(-6000)}`);
    expect(log).toMatch(/forward max abs error vs float64: /);
    expect(log).toContain('concurrent and unreferenced calls: ok');
    expect(log).toContain('KV cache: attend, AttendPlan, NativeBuffer: ok');
    expect(log.match(/ rejected: (TypeError|RangeError) forward: argument '/g)?.length).toBe(8);
    expect(log).toContain('smoke: ok');
  });
});
