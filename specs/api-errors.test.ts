/**
 * Every user-reachable failure of the TypeScript API has a code: wrong argument kinds to
 * defineMask / defineScore / defineAttention / compile / run, and run-time parameter values, which
 * go through the same check as `.with()` and are addressed by their declared names. Validation runs
 * before native code, so most cases use a stand-in addon that fails if it is ever reached; one
 * real build checks that run-time values reach the kernel under their declared names.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DiagnosticCode } from '../dsl/diagnostics.ts';
import { compileUnit } from '../codegen/pipeline.ts';
import {
  and, causal, defineAttention, defineMask, defineScore, sinks, slidingWindow, softcap,
} from '../dsl/index.ts';
import { compile } from '../runtime/api/compile.ts';
import { CompiledAttention } from '../runtime/api/kernels.ts';
import type { NativeAddon } from '../runtime/api/native.ts';
import { randomFloats } from '../runtime/verify/random.ts';
import { referenceAttention } from '../runtime/verify/reference.ts';
import { compareArrays, TOLERANCES } from '../runtime/verify/tolerance.ts';
import { caught, caughtAsync } from './support/caught.ts';

const code = (f: () => unknown): DiagnosticCode => caught(f).code;
const rejection = caughtAsync;



const shape = { heads: { q: 4, kv: 2 }, headDim: 16 } as const;
const window = defineAttention({ ...shape, name: 'w', mask: and(sinks.with({ count: 2 }), slidingWindow.with({ window: 8 })) });
const twoWindows = defineAttention({ ...shape, name: 'ww', mask: and(slidingWindow.with({ window: 8 }), slidingWindow.with({ window: 4 })) });
const capped = defineAttention({ ...shape, name: 'c', mask: causal, score: softcap.with({ cap: 30 }) });

/** A kernel whose addon must never be reached: every case below fails before native code. */
function standIn(spec: typeof window, paramMode: 'baked' | 'runtime' = 'runtime'): CompiledAttention {
  const unit = compileUnit(spec, { paramMode });
  const addon = { listKernels: () => [unit.id], forward: () => { throw new Error('native code reached'); } } as unknown as NativeAddon;
  return new CompiledAttention(unit, addon);
}

function inputs(B = 1, Lq = 5, Lk = 20) {
  return {
    B, Lq, Lk, q: randomFloats(B * 4 * Lq * 16, 1), k: randomFloats(B * 2 * Lk * 16, 2), v: randomFloats(B * 2 * Lk * 16, 3),
  };
}

describe('declarations', () => {
  it.each([
    ['defineMask(5)', () => defineMask(5 as never)],
    ['defineMask(fn, null)', () => defineMask((b, h, q, k) => k <= q, null as never)],
    ['defineMask(fn, { params: [] })', () => defineMask((b, h, q, k) => k <= q, { params: [] as never })],
    ['defineMask(fn, { name: 3 })', () => defineMask((b, h, q, k) => k <= q, { name: 3 as never })],
    ['defineScore(undefined)', () => defineScore(undefined as never)],
    ['defineAttention()', () => defineAttention(undefined as never)],
    ['defineAttention(null)', () => defineAttention(null as never)],
    ['a plain function as mask', () => defineAttention({ ...shape, mask: ((b: number, h: number, q: number, k: number) => k <= q) as never })],
    ['a score as mask', () => defineAttention({ ...shape, mask: softcap.with({ cap: 3 }) as never })],
    ['a number as mask', () => defineAttention({ ...shape, mask: 7 as never })],
    ['a mask as score', () => defineAttention({ ...shape, score: causal as never })],
    ['a string as score', () => defineAttention({ ...shape, score: 'softcap' as never })],
    ['and() of a plain function', () => and(causal, ((b: number) => b > 0) as never)],
    ['.with(5)', () => slidingWindow.with(5 as never)],
  ])('%s is KVF2xxx', (_what, f) => {
    expect(code(f)).toMatch(/^KVF200[1-7]$/);
  });

  it('.with() and run-time values share one rule: int32 range, float32 range after rounding', () => {
    expect(code(() => slidingWindow.with({ window: 2 ** 31 }))).toBe('KVF2002');
    expect(code(() => slidingWindow.with({ window: 1.5 }))).toBe('KVF2002');
    expect(code(() => softcap.with({ cap: 1e300 }))).toBe('KVF2002');
    expect(code(() => softcap.with({ cap: 3.5e38 }))).toBe('KVF2002'); // rounds to Infinity in float32
    // Just above FLT_MAX but rounding down to it is a float32 value.
    expect(softcap.with({ cap: 3.4028235e38 }).values.cap).toBe(3.4028234663852886e38);
    expect(slidingWindow.with({ window: -(2 ** 31) }).values.window).toBe(-(2 ** 31));
  });
});

describe('compile() arguments', () => {
  it.each([
    ['compile([{}])', () => compile([{}] as never)],
    ['compile(spec) without the array', () => compile(window as never)],
    ['compile([5])', () => compile([5] as never)],
    ['compile([{ spec: 5 }])', () => compile([{ spec: 5 }] as never)],
    ['compile([{ spec, plan: "cuda" }])', () => compile([{ spec: window, plan: 'cuda' }] as never)],
    ['compile([{ spec, plan, extra }])', () => compile([{ spec: window, plan: {}, extra: 1 }] as never)],
    ['a misspelt plan field', () => compile([{ spec: window, plan: { tragte: 'cuda' } as never }])],
    ['a misspelt plan field in the options', () => compile([window], { plan: { dtyp: 'bf16' } as never })],
    ['options that are not an object', () => compile([window], 5 as never)],
  ])('%s is KVF2005, before anything is built', async (_what, f) => {
    expect((await rejection(f)).code).toBe('KVF2005');
  });
});

describe('run() options', () => {
  const k = standIn(window);
  it.each([
    ['threads: 1000', { threads: 1000 }],
    ['threads: 0', { threads: 0 }],
    ['threads: 1.5', { threads: 1.5 }],
    ['threads: "2"', { threads: '2' }],
    ['an unknown option', { thread: 2 }],
  ])('%s is KVF3004', async (_what, opts) => {
    expect((await rejection(() => k.run(inputs(), opts as never))).code).toBe('KVF3004');
  });

  it('options that are not an object', async () => {
    expect((await rejection(() => k.run(inputs(), 5 as never))).code).toBe('KVF3004');
  });

  it('run-time values on a kernel that bakes them', async () => {
    expect((await rejection(() => standIn(window, 'baked').run(inputs(), { params: { window: 4 } }))).code).toBe('KVF3004');
  });
});

describe('run-time parameter values are checked like .with() and named as declared', () => {
  const k = standIn(window);
  const c = standIn(capped);
  it('lists the declared names', () => {
    expect(k.params.map((p) => [p.name, p.type, p.value])).toEqual([['count', 'int32', 2], ['window', 'int32', 8]]);
    expect(standIn(twoWindows).params.map((p) => p.name)).toEqual(['slidingWindow.window', 'slidingWindow.window']);
  });
  it.each([
    ['an int outside int32', { window: 2 ** 31 }, /int32/],
    ['a fraction for an int32', { window: 2.5 }, /int32/],
    ['NaN', { window: Number.NaN }, /int32/],
    ['a string', { count: '2' }, /int32/],
    ["kvforge's internal slot name", { m1_window: 4 }, /internal slot name.*\n.*'window'/],
    ['an undeclared name', { widow: 4 }, /no parameter 'widow'[\s\S]*count \(int32\), window \(int32\)/],
  ])('%s', async (_what, params, message) => {
    const e = await rejection(() => k.run(inputs(), { params: params as never }));
    expect(e.code).toBe('KVF2002');
    expect(e.message).toMatch(message);
  });
  it('a float32 parameter that rounds to Infinity (1e300) and one past FLT_MAX', async () => {
    for (const cap of [1e300, 3.5e38, Number.POSITIVE_INFINITY]) {
      const e = await rejection(() => c.run(inputs(), { params: { cap } }));
      expect(e.code).toBe('KVF2002');
      expect(e.message).toMatch(/float32/);
    }
  });
  it('params that are not an object', async () => {
    expect((await rejection(() => k.run(inputs(), { params: 3 as never }))).code).toBe('KVF2002');
  });
  it('a name two functions declare must be qualified; the same function twice cannot be told apart', async () => {
    const e = await rejection(() => standIn(twoWindows).run(inputs(), { params: { window: 4 } }));
    expect(e.code).toBe('KVF2002');
    expect(e.message).toMatch(/declared by 2 functions/);
    const e2 = await rejection(() => standIn(twoWindows).run(inputs(), { params: { 'slidingWindow.window': 4 } }));
    expect(e2.message).toMatch(/names 2 parameters[\s\S]*distinct names/);
  });
  it('a divisor parameter bound to 0 at run time', async () => {
    const dilated = defineMask((b, h, q, k2, p) => k2 <= q && (q - k2) % p.stride === 0, { name: 'dilated', params: { stride: 'int32' } });
    const d = standIn(defineAttention({ ...shape, mask: dilated.with({ stride: 3 }) }));
    expect((await rejection(() => d.run(inputs(), { params: { stride: 0 } }))).code).toBe('KVF2002');
  });
  it('a computed divisor that is 0 is named as written, not as the parameter it reads', () => {
    const off = defineMask((b, h, q, k2, p) => k2 <= q && (q - k2) % (p.a - 3) === 0, { name: 'off', params: { a: 'int32' } });
    const e = caught(() => compileUnit(defineAttention({ ...shape, mask: off.with({ a: 3 }) })));
    expect(e.code).toBe('KVF2002');
    expect(e.message).toContain('the divisor `off.a - 3` (from off.a) is 0');
  });
});

describe('run-time values reach the kernel under their declared names (one real build)', () => {
  let kernel: CompiledAttention;
  beforeAll(async () => {
    [kernel] = await compile([{ spec: window, plan: { paramMode: 'runtime' } }], { nvcc: false });
  });
  it.each([[{ window: 3 }], [{ count: 0, window: 1 }], [{ 'sinks.count': 5 }], [{}]])('%o matches the reference of the spec bound to those values', async (params) => {
    const x = inputs(2, 7, 40);
    const got = await kernel.run(x, { params });
    const bound = { count: 2, window: 8, ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k.replace('sinks.', ''), v])) };
    const spec = defineAttention({ ...shape, mask: and(sinks.with({ count: bound.count }), slidingWindow.with({ window: bound.window })) });
    const ref = referenceAttention(spec, x);
    expect(compareArrays(got.out, ref.out, TOLERANCES.f32.out).ok).toBe(true);
    expect(compareArrays(got.lse, ref.lse, TOLERANCES.f32.lse).ok).toBe(true);
  });
});
