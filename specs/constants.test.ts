/**
 * Constants a kernel would hold differently from JavaScript are refused at compile time (the
 * hostile trial's silent NaN kernels): float constants outside float32 (written, or folded), and
 * integers that folding of baked parameters pushes past +-(2^53 - 1).
 */
import { describe, expect, it } from 'vitest';
import { compileUnit } from '../codegen/pipeline.ts';
import { causal, defineAttention, defineMask, defineScore } from '../dsl/index.ts';
import { caught } from './support/caught.ts';

const shape = { heads: { q: 2, kv: 1 }, headDim: 32 } as const;


describe('float constants the kernel (float32) cannot hold', () => {
  it.each([
    ['1e39 (Infinity in float32)', defineScore((s) => s * 1e39 * 1e-39, { name: 'ovf' })],
    ['1e-30 * 1e-30, folded to 1e-60 (0 in float32)', defineScore((s) => s * (1e-30 * 1e-30) * 1e60, { name: 'unf' })],
    ['-3.5e38', defineScore((s) => Math.max(s, -3.5e38), { name: 'neg' })],
  ])('%s is KVF1011', (_what, score) => {
    const e = caught(() => compileUnit(defineAttention({ ...shape, mask: causal, score })));
    expect(e.code).toBe('KVF1011');
    expect(e.message).toMatch(/float32 cannot hold/);
  });

  it('constants float32 holds pass: 3.4e38, 1e-45 (a subnormal), 0 and -0', () => {
    const score = defineScore((s) => Math.min(s, 3.4e38) + 1e-45 * s + 0 * s - -0, { name: 'fine' });
    expect(() => compileUnit(defineAttention({ ...shape, mask: causal, score }))).not.toThrow();
  });
});

describe('integers that baked parameters fold past 2^53', () => {
  const m = defineMask((b, h, q, k, p) => k <= q && q % (p.a * p.a * p.a * p.a) !== 1, { name: 'pow4', params: { a: 'int32' } });
  it('baked: KVF2002 naming the folded value', () => {
    const e = caught(() => compileUnit(defineAttention({ ...shape, mask: m.with({ a: 65536 }) })));
    expect(e.code).toBe('KVF2002');
    expect(e.message).toMatch(/folds to the integer 18446744073709552000.*2\^53/);
  });
  it('small values bake fine; run-time parameters compile (each call checks its range)', () => {
    expect(() => compileUnit(defineAttention({ ...shape, mask: m.with({ a: 16 }) }))).not.toThrow();
    expect(() => compileUnit(defineAttention({ ...shape, mask: m.with({ a: 65536 }) }), { paramMode: 'runtime' })).not.toThrow();
  });
});
