/**
 * The addon never trusts its caller: called directly, bypassing the TypeScript checks, every bad
 * argument is a JS error naming the argument, the expected and the received value, and the process
 * survives.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadAddon, type NativeAddon, type NativeForwardArgs } from '../runtime/api/native.ts';
import { loadShipped } from '../runtime/api/shipped.ts';
import type { CompiledAttention } from '../runtime/api/kernels.ts';
import { sanitized } from './support/sanitized.ts';

let addon: NativeAddon;
let addonPath: string;
let causal: CompiledAttention;
beforeAll(async () => {
  const s = await loadShipped();
  addonPath = s.addon.path;
  addon = loadAddon(s.addon.path);
  causal = s.kernels.get('causalAttention')!;
});

function good(): NativeForwardArgs {
  const B = 1, Hq = 32, Hkv = 4, Lq = 3, Lk = 5, D = 64, Dv = 64;
  return {
    q: new Float32Array(B * Hq * Lq * D), k: new Float32Array(B * Hkv * Lk * D), v: new Float32Array(B * Hkv * Lk * Dv),
    B, Hq, Hkv, Lq, Lk, D, Dv, scale: 0.125, qpos: null, kpos: null,
    params: new Float64Array(0), threads: 2,
  };
}

async function rejection(args: NativeForwardArgs, id?: string): Promise<Error> {
  try {
    await addon.forward(id ?? causal.id, args);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the addon to reject');
}

describe('the build flavour', () => {
  // In `npm run test:asan` every native check below runs instrumented, or this fails.
  it(sanitized ? 'the addon is built with ASan + UBSan and libasan is loaded' : 'the addon is not instrumented', () => {
    const binary = readFileSync(addonPath).toString('latin1');
    const maps = readFileSync('/proc/self/maps', 'utf8');
    expect(binary.includes('__asan_report_load')).toBe(sanitized);
    expect(binary.includes('__ubsan_handle_')).toBe(sanitized);
    expect(/libasan\.so/.test(maps)).toBe(sanitized);
  });
});

describe('native argument checks', () => {
  it('accepts the well-formed call and returns new out and lse arrays', async () => {
    const r = await addon.forward(causal.id, good());
    expect(r.out).toBeInstanceOf(Float32Array);
    expect(r.out.length).toBe(32 * 3 * 64);
    expect(r.lse).toBeInstanceOf(Float32Array);
    expect(r.lse.length).toBe(32 * 3);
    // All-zero q and k: every admitted key scores 0, so lse = log(number of admitted keys).
    expect(r.lse[0]).toBeCloseTo(Math.log(3), 5);
  });

  it('a Float64Array for k', async () => {
    const e = await rejection({ ...good(), k: new Float64Array(4 * 5 * 64) as never });
    expect(e.message).toMatch(/'k'/);
    expect(e.message).toMatch(/Float32Array/);
    expect(e.message).toMatch(/Float64Array/);
  });

  it('a wrong length for q', async () => {
    const e = await rejection({ ...good(), q: new Float32Array(7) });
    expect(e.message).toMatch(/'q'/);
    expect(e.message).toMatch(/6144/);
    expect(e.message).toMatch(/\b7\b/);
  });

  it('Hq not a multiple of Hkv', async () => {
    const e = await rejection({ ...good(), Hkv: 5 });
    expect(e.message).toMatch(/Hkv|Hq/);
  });

  it('a params array of the wrong length', async () => {
    expect((await rejection({ ...good(), params: new Float64Array(3) })).message).toMatch(/'params'/);
  });

  it('an unknown kernel id', async () => {
    const e = await rejection(good(), 'no_such_kernel');
    expect(e.message).toMatch(/no_such_kernel/);
  });

  it('a missing property', async () => {
    const a = good() as Partial<NativeForwardArgs>;
    delete a.scale;
    const e = await rejection(a as NativeForwardArgs);
    expect(e.message).toMatch(/'scale'/);
  });
});
