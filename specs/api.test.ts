/**
 * The public API end to end on the shipped kernels: edge shapes that are valid (Lq = 0, Lk = 0),
 * NaN propagation, explicit positions, run-time parameters, and the README's runnable example.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CompiledAttention } from '../runtime/api/kernels.ts';
import { loadShipped } from '../runtime/api/shipped.ts';
import { unitReferenceAttention } from '../runtime/verify/reference.ts';
import { randomFloats } from '../runtime/verify/random.ts';
import { compareArrays, TOLERANCES } from '../runtime/verify/tolerance.ts';
import { PACKAGE_ROOT } from '../runtime/build/paths.ts';

let kernels: ReadonlyMap<string, CompiledAttention>;
beforeAll(async () => {
  kernels = (await loadShipped()).kernels;
});

function inputs(k: CompiledAttention, B: number, Lq: number, Lk: number, seed = 1) {
  const { heads, headDim: D, valueDim: Dv } = k.unit;
  return {
    B, Lq, Lk,
    q: randomFloats(B * heads.q * Lq * D, seed), k: randomFloats(B * heads.kv * Lk * D, seed + 1),
    v: randomFloats(B * heads.kv * Lk * Dv, seed + 2),
  };
}

describe('valid edge shapes', () => {
  it('Lq = 0 gives empty output and LSE', async () => {
    const k = kernels.get('causalAttention')!;
    const r = await k.run(inputs(k, 1, 0, 9));
    expect(r.out.length).toBe(0);
    expect(r.lse.length).toBe(0);
  });

  it('Lk = 0 gives zero output and -inf LSE', async () => {
    const k = kernels.get('dense')!;
    const r = await k.run(inputs(k, 2, 3, 0));
    expect(r.out.length).toBe(2 * 32 * 3 * 64);
    expect(r.out.every((x) => x === 0)).toBe(true);
    expect(r.lse.every((x) => x === -Infinity)).toBe(true);
  });

  it('rows with no admissible key output exactly 0 and -inf (noDiagonal row 0)', async () => {
    const k = kernels.get('noDiagonalAttention')!;
    const r = await k.run(inputs(k, 1, 5, 5));
    for (let h = 0; h < 32; h++) {
      expect(r.lse[h * 5]).toBe(-Infinity);
      expect(r.out.slice(h * 5 * 64, h * 5 * 64 + 64).every((x) => Object.is(x, 0))).toBe(true);
      expect(Number.isFinite(r.lse[h * 5 + 1]!)).toBe(true);
    }
  });
});

describe('NaN in the inputs propagates, and only where admitted', () => {
  it('a NaN value in a masked slot changes nothing; in an admitted slot it reaches exactly the rows that admit it', async () => {
    const k = kernels.get('causalAttention')!;
    const L = 40;
    const x = inputs(k, 1, L, L, 7);
    const slot = 20;
    const v = x.v.slice();
    v[(0 * L + slot) * 64 + 5] = Number.NaN; // kv head 0, slot 20, channel 5
    const r = await k.run({ ...x, v });
    const clean = await k.run(x);
    for (let h = 0; h < 32; h++) {
      for (let i = 0; i < L; i++) {
        const o = (h * L + i) * 64;
        const admits = h < 8 && i >= slot; // heads 0..7 read kv head 0; causal admits slot 20 from row 20
        expect(Number.isNaN(r.out[o + 5]!)).toBe(admits);
        if (!admits) expect(r.out.slice(o, o + 64)).toEqual(clean.out.slice(o, o + 64));
        expect(Number.isNaN(r.lse[h * L + i]!)).toBe(false);
      }
    }
  });

  it('a NaN query makes its own row NaN and no other', async () => {
    const k = kernels.get('window256')!;
    const x = inputs(k, 1, 3, 10, 9);
    const q = x.q.slice();
    q[3] = Number.NaN; // head 0, row 0
    const r = await k.run({ ...x, q });
    expect(Number.isNaN(r.lse[0]!)).toBe(true);
    expect(r.lse.slice(1).every((l) => Number.isFinite(l))).toBe(true);
  });
});

describe('explicit positions', () => {
  it('a key position map with gaps and explicit query positions match the reference', async () => {
    const k = kernels.get('sinksWindow')!;
    const Lk = 300;
    const kpos = Int32Array.from({ length: Lk }, (_, j) => (j < 4 ? j : 100 + 2 * j));
    const qpos = Int32Array.from({ length: 7 }, (_, i) => 700 + 3 * i);
    const x = { ...inputs(k, 1, 7, Lk, 11), qpos, kpos };
    const r = await k.run(x);
    const ref = unitReferenceAttention(k.unit, x);
    expect(compareArrays(r.out, ref.out, TOLERANCES.f32.out).ok).toBe(true);
    expect(compareArrays(r.lse, ref.lse, TOLERANCES.f32.lse).ok).toBe(true);
  });
});

describe('the README example', () => {
  it('README shows specs/fixtures/quickstart.ts verbatim, and it runs', () => {
    const example = readFileSync(path.join(PACKAGE_ROOT, 'specs/fixtures/quickstart.ts'), 'utf8');
    const readme = readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(example.trim());
    const out = execFileSync(process.execPath, ['--conditions=kvforge-source', '--import', 'tsx', path.join(PACKAGE_ROOT, 'specs/fixtures/quickstart.ts')], {
      cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 280_000,
    });
    const err = Number(/max \|kernel - reference\| = (\S+)/.exec(out)?.[1]);
    expect(err).toBeLessThan(1e-4);
  });
});

describe('device report', () => {
  it('names the compiled backends, the SIMD level, and why CUDA cannot run here', () => {
    const r = kernels.get('causalAttention')!.deviceReport();
    expect(r.compiledBackends[0]).toBe('cpu');
    expect(['avx512', 'avx2+fma', 'scalar']).toContain(r.cpu.simd);
    expect(r.cuda.emulated).toBe(r.compiledBackends.includes('cuda-emu'));
    expect(r.cuda.compiled).toBe(r.compiledBackends.includes('cuda'));
    if (!r.cuda.available) expect(r.cuda.reason).toMatch(/^(cudaError\w+|no CUDA device|not compiled.*)$/);
    // CUDA kernels run on the device when one answers, else on the emulator.
    expect(kernels.get('causalAttention@cuda-bf16')!.backend).toBe(r.cuda.available ? 'cuda' : 'cuda-emu');
  });
});
