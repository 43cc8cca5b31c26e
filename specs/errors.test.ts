/**
 * One case per bad input: the code, the message, and where it points. Call-time checks run on the
 * shipped kernels (configs/), so this file builds nothing of its own.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { causal, defineAttention, defineMask, slidingWindow, softcap } from '../dsl/index.ts';
import { CompiledAttention } from '../runtime/api/kernels.ts';
import type { NativeAddon } from '../runtime/api/native.ts';
import { loadShipped } from '../runtime/api/shipped.ts';
import { compileUnit } from '../codegen/pipeline.ts';
import { caught, caughtAsync } from './support/caught.ts';



/** The line of this file on which `needle` first appears (1-based). */
function lineOf(needle: string): number {
  const text = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1;
}

describe('declaration errors point at the declaration', () => {
  it('KVF2003: Hq not a multiple of Hkv', () => {
    const e = caught(() => defineAttention({ heads: { q: 6, kv: 4 }, headDim: 64, mask: causal })); // MARK-heads
    expect(e.code).toBe('KVF2003');
    expect(e.message).toContain('Hq=6 is not a multiple of Hkv=4');
    expect(e.hint).toContain('try kv = 3');
    expect(e.location?.file).toMatch(/errors\.test\.ts$/);
    expect(e.location?.line).toBe(lineOf('MARK-heads'));
    expect(e.message).toMatch(/^.*errors\.test\.ts:\d+:\d+: error KVF2003/);
  });

  it('KVF2004: a head dimension out of range', () => {
    const e = caught(() => defineAttention({ heads: { q: 4, kv: 4 }, headDim: 0 }));
    expect(e.code).toBe('KVF2004');
    expect(e.message).toContain('headDim must be an integer in 1..1024, got 0');
    expect(caught(() => defineAttention({ heads: { q: 4, kv: 4 }, headDim: 64, valueDim: 2.5 })).message).toContain('valueDim');
  });

  it('KVF2006: a mask with parameters used unbound', () => {
    const e = caught(() => defineAttention({ heads: { q: 4, kv: 4 }, headDim: 64, mask: slidingWindow as never }));
    expect(e.code).toBe('KVF2006');
    expect(e.message).toContain("mask 'slidingWindow' has parameters (window) that are not bound");
    expect(e.hint).toBe('bind them: slidingWindow.with({ window: ... })');
  });

  it('KVF2002: unknown, missing-type and ill-typed parameter values', () => {
    expect(caught(() => slidingWindow.with({ window: 3, size: 4 } as never)).message).toContain("'slidingWindow' has no parameter 'size'");
    expect(caught(() => slidingWindow.with({ window: 2.5 })).message).toContain("parameter 'window' of 'slidingWindow' must be an integer in the int32 range [-2147483648, 2147483647], got 2.5");
    expect(caught(() => softcap.with({ cap: Number.NaN })).message).toContain('must be a finite float32');
    expect(caught(() => slidingWindow.with({} as never)).code).toBe('KVF2006');
  });

  it('KVF2001: a parameter declared with an unknown type', () => {
    const e = caught(() => defineMask((b, h, q, k, p) => k <= q + p.n, { params: { n: 'int64' as never } }));
    expect(e.code).toBe('KVF2001');
    expect(e.hint).toContain("'int32', 'float32'");
  });

  it('KVF2002: a divisor parameter bound to 0', () => {
    const dilated = defineMask((b, h, q, k, p) => k <= q && (q - k) % p.stride === 0, { name: 'dilated', params: { stride: 'int32' } });
    const spec = defineAttention({ heads: { q: 2, kv: 1 }, headDim: 16, mask: dilated.with({ stride: 0 }) });
    const e = caught(() => compileUnit(spec));
    expect(e.code).toBe('KVF2002');
    expect(e.message).toContain('dilated.stride is used as a divisor and is 0');
  });
});

describe('call-time errors name the argument, the expected and the received value', () => {
  let causalK: CompiledAttention;
  const B = 1;
  const Lq = 5;
  const Lk = 7;
  const ok = () => ({
    B, Lq, Lk, q: new Float32Array(B * 32 * Lq * 64), k: new Float32Array(B * 4 * Lk * 64), v: new Float32Array(B * 4 * Lk * 64),
  });
  beforeAll(async () => {
    causalK = (await loadShipped()).kernels.get('causalAttention')!;
  });

  it('KVF3001: a Float64Array where a Float32Array is expected', async () => {
    const e = await caughtAsync(() => causalK.run({ ...ok(), k: new Float64Array(4 * Lk * 64) as never }));
    expect(e.code).toBe('KVF3001');
    expect(e.message).toContain("argument 'k' must be a Float32Array, received Float64Array of length 1792");
    expect(e.hint).toBe('convert with Float32Array.from(k)');
  });

  it('KVF3002: a length that does not match the shape (e.g. a mismatched head dim)', async () => {
    const e = await caughtAsync(() => causalK.run({ ...ok(), q: new Float32Array(32 * Lq * 128) }));
    expect(e.code).toBe('KVF3002');
    expect(e.message).toContain("argument 'q' has length 20480, expected B*Hq*Lq*D (B=1, Hq=32, Hkv=4, Lq=5, Lk=7, D=64, Dv=64) = 10240");
  });

  it('KVF3004: a shape that is not a count', async () => {
    const e = await caughtAsync(() => causalK.run({ ...ok(), Lq: -1 }));
    expect(e.code).toBe('KVF3004');
    expect(e.message).toContain("'Lq' must be a non-negative integer, received -1");
  });

  it('KVF3006: positions of the wrong type or length', async () => {
    expect((await caughtAsync(() => causalK.run({ ...ok(), qpos: new Int32Array(4) }))).message)
      .toContain("argument 'qpos' has length 4, expected 5");
    expect((await caughtAsync(() => causalK.run({ ...ok(), kpos: [0, 1, 2, 3, 4, 5, 6] as never }))).message)
      .toContain("argument 'kpos' must be an Int32Array of token positions, received Array of length 7");
  });

  it('KVF3005: a result too large to allocate is an error, not an abort', async () => {
    const wide = defineAttention({ heads: { q: 1, kv: 1 }, headDim: 1, valueDim: 1024, mask: causal });
    const unit = compileUnit(wide);
    // The allocation fails before native code is reached: a stand-in addon that must not be called.
    const addon = { listKernels: () => [unit.id], forward: () => { throw new Error('native code reached'); } } as unknown as NativeAddon;
    const kernel = new CompiledAttention(unit, addon);
    const Lbig = 2 ** 23; // q is 32 MiB; out would be 2^33 floats (32 GiB)
    const e = await caughtAsync(() => kernel.run({
      B: 1, Lq: Lbig, Lk: 1, q: new Float32Array(Lbig), k: new Float32Array(1), v: new Float32Array(1024),
    }));
    expect(e.code).toBe('KVF3005');
    expect(e.message).toMatch(/'out' would need 8589934592 floats \(32\.0 GiB/);
  });
});
