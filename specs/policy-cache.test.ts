/**
 * Cache policies on the native CPU caches (issue 9 parts 2 and 3) against the float64 references
 * (runtime/verify/policy/), slot for slot: random policies of every kind and option, random
 * batches, two GQA shapes, f32 / f16 / bf16 storage, a prompt then decode steps of random lengths.
 * Each step appends, attends over the cache with the kernel (the kernels add ln(count) and the
 * attention mass, AttnArgs v3) and compresses; then every head's length, positions, counts, keys
 * and values must equal the reference's (exactly: merges are specified bit for bit), its masses
 * within float32 summation error, and the step's attention output within the dtype's tolerance.
 * Some steps compress twice with nothing appended in between: the second must change nothing.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { causal, defineAttention, type AttentionSpec } from '../dsl/index.ts';
import { adaptiveCache, pyramidCache, type CachePolicySpec } from '../dsl/policy/policy.ts';
import { compile } from '../runtime/api/compile.ts';
import type { CompiledAttention } from '../runtime/api/kernels.ts';
import { createPolicyCache } from '../runtime/cache/create.ts';
import type { CacheDType } from '../runtime/cache/kvCache.ts';
import { roundBf16, roundF16 } from '../runtime/verify/dtype.ts';
import { attendPolicyCache, PolicyCacheRef } from '../runtime/verify/policy/policyCache.ts';
import { specVariant } from '../runtime/verify/reference.ts';
import { compareArrays, TOLERANCES } from '../runtime/verify/tolerance.ts';
import { rng } from '../runtime/verify/random.ts';
import { caught } from './support/caught.ts';
import { policyArbWith } from './support/policy-arbs.ts';
import { runs, SEED } from './support/random-expr.ts';

const specs = [
  defineAttention({ heads: { q: 4, kv: 2 }, headDim: 8, mask: causal, name: 'policyGqa' }),
  defineAttention({ heads: { q: 3, kv: 1 }, headDim: 5, valueDim: 3, mask: causal, name: 'policyMqa' }),
];
let kernels: CompiledAttention[] = [];
beforeAll(async () => {
  kernels = await compile(specs);
});

const ROUND: Record<CacheDType, (x: number) => number> = { f32: Math.fround, f16: roundF16, bf16: roundBf16 };

/** Seeded float32 values in [-2, 2). */
function values(seed: number) {
  const r = rng(seed);
  return () => Math.fround(r() * 4 - 2);
}

const runArb = fc.record({
  policy: policyArbWith({ nativeOnly: true }),
  kernel: fc.integer({ min: 0, max: specs.length - 1 }),
  dtype: fc.constantFrom<CacheDType>('f32', 'f16', 'bf16'),
  B: fc.integer({ min: 1, max: 2 }),
  prompt: fc.integer({ min: 1, max: 14 }),
  steps: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 8 }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
  // Steps (bit i: step i) after which compress runs a second time with nothing appended: a no-op,
  // which the comparison with the reference (compressed once) checks.
  again: fc.integer({ min: 0, max: 511 }),
});

type Run = { policy: CachePolicySpec; kernel: number; dtype: CacheDType; B: number; prompt: number; steps: number[]; seed: number; again: number };

/** One random run against the reference, on kernels[r.kernel] (of specs[r.kernel]). */
async function checkRun(kernels: readonly CompiledAttention[], specs: readonly AttentionSpec[], r: Run): Promise<void> {
  const k = kernels[r.kernel]!, spec = specs[r.kernel]!;
  const { q: Hq, kv: Hkv } = spec.heads, D = spec.headDim, Dv = spec.valueDim, G = Hq / Hkv;
  const round = ROUND[r.dtype];
  const pc = createPolicyCache(k, r.policy, { batch: r.B, capacity: 16, dtype: r.dtype });
  const ref = new PolicyCacheRef(r.policy, { batch: r.B, kvHeads: Hkv, headDim: D, valueDim: Dv, layer: 0, layers: 1, round: (x) => round(x) });
  const variant = specVariant(spec);
  const next = values(r.seed);
  try {
    for (let b = 0; b < r.B; b++) {
      for (const [si, n] of [r.prompt, ...r.steps].entries()) {
        const phase = si === 0 ? 'prefill' : 'decode';
        const seen = pc.tokensSeen(b);
        const positions = Int32Array.from({ length: n }, (_, i) => seen + i);
        const kk = Float32Array.from({ length: n * Hkv * D }, next), vv = Float32Array.from({ length: n * Hkv * Dv }, next);
        const ids = Array.from(positions, () => Math.floor((next() + 2) * 1.5));
        pc.append(b, { k: kk, v: vv, positions }, ids);
        ref.append(b, { k: kk, v: vv, positions, ids });
        // Queries token-major [n, Hq, D] for the kernel, [Hq, n, D] for the reference.
        const q = Float32Array.from({ length: n * Hq * D }, next);
        const qRef = new Float64Array(Hq * n * D);
        for (let i = 0; i < n; i++) for (let h = 0; h < Hq; h++) for (let d = 0; d < D; d++) qRef[(h * n + i) * D + d] = q[(i * Hq + h) * D + d]!;
        const counts = Array.from({ length: r.B }, (_, x) => (x === b ? n : 0));
        const got = await k.prefill(pc.cache, { q, positions, counts });
        const want = attendPolicyCache(variant, ref, b, qRef, positions);
        const wantOut = new Float64Array(n * Hq * Dv), wantLse = new Float64Array(n * Hq);
        for (let i = 0; i < n; i++) for (let h = 0; h < Hq; h++) {
          wantLse[i * Hq + h] = want.lse[h * n + i]!;
          for (let d = 0; d < Dv; d++) wantOut[(i * Hq + h) * Dv + d] = want.out[(h * n + i) * Dv + d]!;
        }
        const tol = TOLERANCES[r.dtype];
        const co = compareArrays(got.out, wantOut, tol.out), cl = compareArrays(got.lse, wantLse, tol.lse);
        expect(co.ok, `step ${si} of sequence ${b}: out ${JSON.stringify(co.first)}`).toBe(true);
        expect(cl.ok, `step ${si} of sequence ${b}: lse ${JSON.stringify(cl.first)}`).toBe(true);
        pc.compress(phase);
        if ((r.again >> si) & 1) pc.compress(phase);
        ref.compress(b, phase, want.probs);
        for (let h = 0; h < Hkv; h++) {
          const have = pc.cache.read(b, h), slots = ref.slots(b, h);
          const where = `step ${si} of sequence ${b}, head ${h}`;
          expect(Array.from(have.positions), `${where}: positions`).toEqual(slots.map((s) => s.pos));
          if (have.counts) expect(Array.from(have.counts), `${where}: counts`).toEqual(slots.map((s) => s.count));
          expect(Array.from(have.k), `${where}: keys`).toEqual(slots.flatMap((s) => Array.from(s.k)));
          expect(Array.from(have.v), `${where}: values`).toEqual(slots.flatMap((s) => Array.from(s.v)));
          if (have.bias) slots.forEach((s, j) => expect(have.bias![j]).toBeCloseTo(Math.log(s.count), 6));
          if (pc.cache.tracksMass) slots.forEach((s, j) => expect(Math.abs(have.mass![j]! - s.mass), `${where}: mass of slot ${j}`).toBeLessThan(1e-4 * (1 + s.mass)));
        }
      }
    }
  } finally {
    pc.cache.dispose();
  }
}

describe('compression policies on native CPU caches', () => {
  it(`equal the float64 references slot for slot (seed ${SEED})`, async () => {
    await fc.assert(fc.asyncProperty(runArb, (r) => checkRun(kernels, specs, r)), { seed: SEED, numRuns: runs(150) });
  });

  it('refuse what they cannot run, with coded errors', () => {
    const k = kernels[0]!;
    const e = caught(() => createPolicyCache(k, adaptiveCache({ recovery: 'recoveryMaxError' }), { batch: 1 }));
    expect(e.code).toBe('KVF2012');
    expect(e.detail).toMatch(/runs in the reference \(PolicyCacheRef\) only/);
    const plain = k.createCache({ batch: 1 });
    try {
      expect(caught(() => plain.merge([0, 0], [1, 1], [0, 0], 2, 'mean')).code).toBe('KVF3010');
    } finally {
      plain.dispose();
    }
    const pc = createPolicyCache(k, pyramidCache({ budgets: [2] }), { batch: 1 });
    try {
      pc.cache.append(0, { k: new Float32Array(2 * 8), v: new Float32Array(2 * 8), positions: Int32Array.of(0) });
      expect(caught(() => pc.cache.merge([0, 0], [2, 0], [0, 0], 2, 'mean')).detail).toMatch(/region \[0, 2\) to 0 must lie within its length 1/);
      expect(caught(() => pc.cache.compact([[0, 0], null])).detail).toMatch(/kept slots must increase/);
    } finally {
      pc.cache.dispose();
    }
  });
});

afterAll(() => {
  kernels = [];
});

// The same runs on CUDA caches (the emulator here): the cache ops are cache_merge.hpp's, as on the
// CPU; the attention over them, with the bias and the mass, is the CUDA kernels'.
describe('compression policies on CUDA caches (emulated)', () => {
  const cudaSpec = defineAttention({ heads: { q: 4, kv: 2 }, headDim: 64, mask: causal, name: 'policyCuda' });
  const cudaDtypes = ['f32', 'bf16'] as const;
  let cuda: CompiledAttention[] = [];
  beforeAll(async () => {
    cuda = await compile(cudaDtypes.map((dtype) => ({ spec: cudaSpec, plan: { target: 'cuda' as const, dtype } })));
  }, 600_000);
  afterAll(() => {
    cuda = [];
  });
  const cudaRunArb = fc.record({
    policy: policyArbWith({ nativeOnly: true }),
    kernel: fc.integer({ min: 0, max: cudaDtypes.length - 1 }),
    B: fc.integer({ min: 1, max: 2 }),
    prompt: fc.integer({ min: 1, max: 14 }),
    steps: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 6 }),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
    again: fc.integer({ min: 0, max: 511 }),
  }).map((r) => ({ ...r, dtype: cudaDtypes[r.kernel]! as CacheDType }));

  it(`equal the float64 references slot for slot (seed ${SEED})`, async () => {
    expect(['cuda', 'cuda-emu']).toContain(cuda[0]!.backend);
    await fc.assert(fc.asyncProperty(cudaRunArb, (r) => checkRun(cuda, [cudaSpec, cudaSpec], r)), { seed: SEED, numRuns: runs(80) });
  }, 600_000);

  it('refuse bad arguments as the CPU does', () => {
    const pc = createPolicyCache(cuda[0]!, pyramidCache({ budgets: [2], sinks: 1 }), { batch: 1 });
    try {
      pc.cache.append(0, { k: new Float32Array(2 * 64), v: new Float32Array(2 * 64), positions: Int32Array.of(0) });
      expect(caught(() => pc.cache.compact([[0, 0], null])).detail).toMatch(/kept slots must increase/);
      expect(caught(() => pc.cache.merge([0, 0], [2, 0], [0, 0], 2, 'mean')).detail).toMatch(/region \[0, 2\) to 0 must lie within its length 1/);
    } finally {
      pc.cache.dispose();
    }
  });
});

describe('PolicyCache.release', () => {
  it('frees a sequence and forgets its policy state; the others go on', async () => {
    const k = kernels[0]!;
    const pc = createPolicyCache(k, pyramidCache({ budgets: [2], sinks: 1 }), { batch: 2 });
    try {
      const chunk = (n: number, at: number) => ({ k: new Float32Array(n * 2 * 8).fill(1), v: new Float32Array(n * 2 * 8).fill(2), positions: Int32Array.from({ length: n }, (_, i) => at + i) });
      for (const b of [0, 1]) {
        pc.append(b, chunk(6, 0));
        await k.prefill(pc.cache, { q: new Float32Array(6 * 4 * 8), positions: Int32Array.from({ length: 6 }, (_, i) => i), counts: b === 0 ? [6, 0] : [0, 6] });
      }
      pc.compress('prefill');
      // sinks 1, W 2, 6 tokens: 1 sink and 5 recent; round 1 merges 0 + 2 into 1 (3 recent left),
      // round 2 merges 1 + 2 into ceil(3 / 2) = 2 (1 recent left).
      expect(pc.regions(1, 0)).toEqual({ sinks: 1, compressed: 2, recent: 1 });
      pc.release(0);
      expect(pc.tokensSeen(0)).toBe(0);
      expect(pc.regions(0, 0)).toEqual({ sinks: 0, compressed: 0, recent: 0 });
      expect(pc.regions(1, 1)).toEqual({ sinks: 1, compressed: 2, recent: 1 });
      expect(pc.cache.isReleased(0)).toBe(true);
    } finally {
      pc.cache.dispose();
    }
  });
});
