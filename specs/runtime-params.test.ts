/**
 * Run-time parameters do not multiply kernels: under paramMode 'runtime' a kernel's id and source
 * depend on its parameters' names and types, not their values, so two layers that differ only in
 * a window share one kernel (one id, one source file, one manifest entry). Baked, each value is
 * its own kernel.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { defineAttention, slidingWindow, type AttentionSpec } from '../dsl/index.ts';
import { provenanceOf } from '../codegen/backends/provenance.ts';
import { renderKernel } from '../codegen/backends/render.ts';
import { generate } from '../codegen/generate.ts';
import { compileUnit } from '../codegen/pipeline.ts';
import { shippedUnit } from '../codegen/unit.ts';
import { compile } from '../runtime/api/compile.ts';
import { CompiledAttention } from '../runtime/api/kernels.ts';
import type { NativeAddon } from '../runtime/api/native.ts';
import { referenceAttention, unitReferenceAttention } from '../runtime/verify/reference.ts';
import { randomFloats } from '../runtime/verify/random.ts';
import { compareArrays, TOLERANCES } from '../runtime/verify/tolerance.ts';
import { caughtAsync } from './support/caught.ts';
import { parseData } from '../codegen/json.ts';

const shape = { heads: { q: 4, kv: 2 }, headDim: 32 } as const;
const layer = (window: number): AttentionSpec => defineAttention({ ...shape, mask: slidingWindow.with({ window }) });
const [w64, w128] = [layer(64), layer(128)];
const runtime = { paramMode: 'runtime' } as const;
const source = (spec: AttentionSpec, plan: object = runtime) => {
  const u = compileUnit(spec, plan);
  return renderKernel(u, provenanceOf(u));
};

describe('one kernel for specs that differ only in run-time parameter values', () => {
  it("paramMode 'runtime': windows 64 and 128 have one id and an identical source; 'baked': two ids", () => {
    const [a, b] = [compileUnit(w64, runtime), compileUnit(w128, runtime)];
    expect(a.id).toBe(b.id);
    expect(a.specHash).toBe(b.specHash);
    expect(source(w64)).toBe(source(w128));
    expect(compileUnit(w64).id).not.toBe(compileUnit(w128).id);
    // The values the units were compiled from stay their defaults; the CUDA source is shared too.
    expect([a.params[0]!.value, b.params[0]!.value]).toEqual([64, 128]);
    expect(source(w64, { ...runtime, target: 'cuda' })).toBe(source(w128, { ...runtime, target: 'cuda' }));
  });

  it('a run-time kernel source holds no parameter value; a baked one does', () => {
    const odd = layer(4099);
    expect(source(odd)).not.toContain('4099');
    expect(source(odd, { ...runtime, target: 'cuda' })).not.toContain('4099');
    expect(source(odd, {})).toContain('4099');
  });

  it('gen writes one file and one manifest entry for both, naming both exports and recording no value', () => {
    const set = generate([
      { file: 'layers.ts', exportName: 'layer0', spec: w64, plans: [runtime] },
      { file: 'layers.ts', exportName: 'layer1', spec: w128, plans: [runtime] },
    ]);
    expect([...set.files.keys()].filter((f) => f !== 'manifest.json')).toHaveLength(1);
    const kernels = Object.values((parseData(set.files.get('manifest.json')!) as { kernels: Record<string, { shipped: string[]; params: object[] }> }).kernels);
    expect(kernels).toHaveLength(1);
    expect(kernels[0]!.shipped).toEqual(['layer0', 'layer1']);
    expect(kernels[0]!.params).toEqual([{ name: 'm0_window', type: 'int', origin: 'slidingWindow.window' }]);
  });

  it('a kernel loaded without values takes them on every call: KVF2006 without, the IR reference with', async () => {
    const unit = shippedUnit(compileUnit(w64, runtime)); // what a manifest holds: no spec, no values
    const addon = { listKernels: () => [unit.id], forward: () => { throw new Error('native code reached'); } } as unknown as NativeAddon;
    const k = new CompiledAttention(unit, addon);
    expect(k.params.map((p) => [p.name, p.value])).toEqual([['window', undefined]]);
    const x = { B: 1, Lq: 3, Lk: 9, q: randomFloats(4 * 3 * 32, 1), k: randomFloats(2 * 9 * 32, 2), v: randomFloats(2 * 9 * 32, 3) };
    const e = await caughtAsync(() => k.run(x));
    expect(e.code).toBe('KVF2006');
    expect(e.message).toContain("needs a value for 'window' (int32)");
    expect(e.hint).toContain('run(x, { params: { window: ... } })');
    const fromIr = unitReferenceAttention(unit, x, { window: 2 });
    expect(Array.from(fromIr.out)).toEqual(Array.from(referenceAttention(layer(2), x).out));
  });
});

describe('one compiled kernel serves both layers (one real build)', () => {
  let kernels: CompiledAttention[];
  beforeAll(async () => {
    kernels = await compile([w64, w128], { plan: runtime, nvcc: false });
  });

  it('compile() gives both specs the same kernel id; each keeps its own defaults', () => {
    expect(kernels[0]!.id).toBe(kernels[1]!.id);
    expect(kernels.map((k) => k.params[0]!.value)).toEqual([64, 128]);
  });

  it('run with window 64 and 128 through the first kernel matches each layer\'s reference', async () => {
    const B = 1, Lq = 150, Lk = 300;
    const x = { B, Lq, Lk, q: randomFloats(B * 4 * Lq * 32, 5), k: randomFloats(B * 2 * Lk * 32, 6), v: randomFloats(B * 2 * Lk * 32, 7) };
    const [k] = kernels;
    for (const [window, spec] of [[64, w64], [128, w128]] as const) {
      const got = await k!.run(x, { params: { window } });
      const ref = referenceAttention(spec, x);
      expect(compareArrays(got.out, ref.out, TOLERANCES.f32.out).ok, `window ${window}`).toBe(true);
      expect(compareArrays(got.lse, ref.lse, TOLERANCES.f32.lse).ok, `window ${window}`).toBe(true);
    }
    // The defaults of the spec it was compiled from: the second kernel object runs window 128.
    const byDefault = await kernels[1]!.run(x);
    expect(compareArrays(byDefault.out, referenceAttention(w128, x).out, TOLERANCES.f32.out).ok).toBe(true);
  });

  it('decodeSync reusing one options object whose window changes runs each window (the memoised plan is never stale)', async () => {
    const [k] = kernels;
    const L = 200, B = 2, lens = [L, L - 37];
    using cache = k!.createCache({ batch: B, capacity: 256 });
    const rows = lens[0]! + lens[1]!;
    const positions = Int32Array.from({ length: rows }, (_, i) => (i < L ? i : i - L));
    cache.appendBatch(lens, { k: randomFloats(rows * 2 * 32, 1), v: randomFloats(rows * 2 * 32, 2), positions });
    const q = randomFloats(B * 4 * 32, 3);
    const step = (o: object) => {
      const out = new Float32Array(B * 4 * 32), lse = new Float32Array(B * 4);
      k!.decodeSync(cache, { q, out, lse }, o);
      return { out, lse };
    };
    const opts = { params: { window: 64 } };
    const seen = new Map<number, Float32Array>();
    for (const window of [64, 128, 64, 16, 128]) {
      opts.params.window = window; // same objects, new value
      const reused = step(opts);
      const fresh = await k!.decode(cache, { q }, { params: { window } });
      expect(reused.out, `window ${window}`).toEqual(fresh.out);
      expect(reused.lse, `window ${window}`).toEqual(fresh.lse);
      if (seen.has(window)) expect(reused.lse).toEqual(seen.get(window));
      seen.set(window, reused.lse);
    }
    // The windows give different answers, so one stale plan could not have passed.
    expect(seen.get(16)).not.toEqual(seen.get(128));
    // A value the check refuses is refused on the reused object too, and nothing is memoised.
    opts.params.window = 1.5;
    expect(() => step(opts)).toThrow(/KVF2002/);
    opts.params.window = 16;
    expect(step(opts).lse).toEqual(seen.get(16));
  });
});
