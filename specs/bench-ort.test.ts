import { describe, expect, it } from 'vitest';
import { buildGqaModel, createOrtGqa, ortLocalWindowSize, type OrtGqaCase } from '../runtime/bench/ort-gqa.ts';
import { interleave, median } from '../runtime/bench/stats.ts';

/** mulberry32: a tiny seeded PRNG, uniform in [-1, 1). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

function randomInputs(c: OrtGqaCase, seed: number): { q: Float32Array; k: Float32Array; v: Float32Array } {
  const r = prng(seed);
  const fill = (n: number) => Float32Array.from({ length: n }, () => 2 * r());
  return { q: fill(c.B * c.Hq * c.Lq * c.D), k: fill(c.B * c.Hkv * c.Lk * c.D), v: fill(c.B * c.Hkv * c.Lk * c.D) };
}

/**
 * float64 attention in kvforge layout: causal aligned bottom-right (query i sits at key position
 * Lk - Lq + i), optional window q - W < k <= q, GQA head h reads kv head floor(h / (Hq / Hkv)),
 * scale 1/sqrt(D).
 */
function reference(c: OrtGqaCase, q: Float32Array, k: Float32Array, v: Float32Array): Float64Array {
  const { B, Hq, Hkv, D, Lq, Lk, window } = c;
  const group = Hq / Hkv;
  const scale = 1 / Math.sqrt(D);
  const out = new Float64Array(B * Hq * Lq * D);
  const s = new Float64Array(Lk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / group);
      for (let i = 0; i < Lq; i++) {
        const pos = Lk - Lq + i;
        const lo = window === undefined ? 0 : Math.max(0, pos - window + 1);
        const qo = ((b * Hq + h) * Lq + i) * D;
        let m = -Infinity;
        for (let j = lo; j <= pos; j++) {
          const ko = ((b * Hkv + kh) * Lk + j) * D;
          let dot = 0;
          for (let x = 0; x < D; x++) dot += q[qo + x] * k[ko + x];
          s[j] = dot * scale;
          m = Math.max(m, s[j]);
        }
        let z = 0;
        for (let j = lo; j <= pos; j++) z += (s[j] = Math.exp(s[j] - m));
        for (let j = lo; j <= pos; j++) {
          const p = s[j] / z;
          const vo = ((b * Hkv + kh) * Lk + j) * D;
          for (let x = 0; x < D; x++) out[qo + x] += p * v[vo + x];
        }
      }
    }
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const base = { B: 1, Hq: 4, Hkv: 2, D: 16, threads: 1 } as const;

async function check(c: OrtGqaCase, seed: number): Promise<number> {
  const { q, k, v } = randomInputs(c, seed);
  const runner = await createOrtGqa(c);
  try {
    const out = await runner.run(q, k, v);
    // prepared path runs the same feeds (and must not throw)
    runner.prepare([{ q, k, v }]);
    await runner.runPrepared(0);
    await runner.runPrepared(1); // wraps around
    return maxAbsDiff(out, reference(c, q, k, v));
  } finally {
    await runner.release();
  }
}

describe('ORT GroupQueryAttention peer', () => {
  it('causal prefill matches float64 attention (L=37)', async () => {
    expect(await check({ ...base, Lq: 37, Lk: 37 }, 1)).toBeLessThan(1e-4);
  });

  it('decode (Lq=1 over Lk=50: past of 49 + 1 new key) matches', async () => {
    expect(await check({ ...base, Lq: 1, Lk: 50 }, 2)).toBeLessThan(1e-4);
  });

  it('sliding window 5 at L=40 matches kvforge semantics (5 keys incl. itself)', async () => {
    expect(await check({ ...base, Lq: 40, Lk: 40, window: 5 }, 3)).toBeLessThan(1e-4);
  });

  it('window semantics are pinned: ORT local_window_size W keeps exactly W keys', async () => {
    // Would differ if ORT kept W + 1 keys (older kernels did): off-by-one windows are far apart.
    const c: OrtGqaCase = { ...base, Lq: 40, Lk: 40, window: 5 };
    const { q, k, v } = randomInputs(c, 3);
    const runner = await createOrtGqa(c);
    const out = await runner.run(q, k, v);
    await runner.release();
    expect(maxAbsDiff(out, reference({ ...c, window: 6 }, q, k, v))).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(out, reference({ ...c, window: 4 }, q, k, v))).toBeGreaterThan(1e-2);
    expect(ortLocalWindowSize(5)).toBe(5);
  });

  it('windowed decode and batch > 1 match', async () => {
    expect(await check({ ...base, B: 2, Lq: 1, Lk: 50, window: 7 }, 4)).toBeLessThan(1e-4);
    expect(await check({ ...base, B: 2, Lq: 19, Lk: 19 }, 5)).toBeLessThan(1e-4);
  });

  it('rejects shapes ORT cannot run', () => {
    expect(() => buildGqaModel({ ...base, D: 12, Lq: 4, Lk: 4 })).toThrow(/D % 8/);
    expect(() => buildGqaModel({ ...base, Hkv: 3, Lq: 4, Lk: 4 })).toThrow(/multiple of Hkv/);
    expect(() => buildGqaModel({ ...base, Lq: 3, Lk: 8 })).toThrow(/prefill|decode/);
    expect(() => buildGqaModel({ ...base, Lq: 4, Lk: 4, window: 0 })).toThrow(RangeError);
  });
});

describe('bench stats', () => {
  it('median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(Number.isNaN(median([]))).toBe(true);
  });

  it('interleave alternates cases rep by rep and returns per-case ms samples', async () => {
    const order: string[] = [];
    const res = await interleave(
      [
        { name: 'a', run: () => void order.push('a') },
        { name: 'b', run: async () => void order.push('b') },
      ],
      { warmup: 1, reps: 3 },
    );
    // warmup round, then timed rounds with the starting case rotating
    expect(order).toEqual(['a', 'b', 'a', 'b', 'b', 'a', 'a', 'b']);
    expect(res.get('a')).toHaveLength(3);
    expect(res.get('b')).toHaveLength(3);
    for (const xs of res.values()) for (const x of xs) expect(x).toBeGreaterThanOrEqual(0);
  });

  it('interleave keeps going until minMs is reached', async () => {
    const res = await interleave(
      [{ name: 'sleep', run: () => new Promise<void>((r) => setTimeout(r, 2)) }],
      { warmup: 0, reps: 1, minMs: 10 },
    );
    const xs = res.get('sleep')!;
    expect(xs.length).toBeGreaterThan(1);
    expect(xs.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(10);
  });
});
