/**
 * The KV cache (runtime/cache) against a small TS model of it, and attention over a cache against
 * the float64 reference on the gathered slots:
 * - random sequences of operations (append chunks of random sizes to random sequences, one-token
 *   steps, truncate, reset, release and admit, growth past the capacity) on random batches,
 *   head counts, head dims and storage dtypes, for the C++ target ('cpu') and the CUDA target (the
 *   emulator here, 'cuda' on a device): slot for slot equal (K, V after the dtype's rounding,
 *   positions, lengths, position summaries) after every operation;
 * - prefill (ragged chunks of queries per sequence) and decode steps over such caches on random
 *   mask and score programs, positions with gaps, against the reference on each sequence's slots;
 *   masks compared exactly (no admissible key: exactly 0 and -Infinity);
 * - bad inputs are coded errors and leave the other sequences' slots as they were.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineAttention, defineMask, defineScore, type AttentionSpec } from '../dsl/index.ts';
import { compile } from '../runtime/api/compile.ts';
import type { CompiledAttention } from '../runtime/api/kernels.ts';
import type { KvCache, CacheDType } from '../runtime/cache/kvCache.ts';
import { referenceAttention } from '../runtime/verify/reference.ts';
import { roundBf16, roundF16 } from '../runtime/verify/dtype.ts';
import { compareArrays, TOLERANCES } from '../runtime/verify/tolerance.ts';
import { maskProgram, paramValues, programToFunction, scoreProgram } from './support/random-programs.ts';
import { runs, SEED } from './support/random-expr.ts';
import { caught } from './support/caught.ts';
import { PACKAGE_ROOT } from '../runtime/build/paths.ts';

const ROUND: Record<CacheDType, (x: number) => number> = { f32: Math.fround, f16: roundF16, bf16: roundBf16 };

/** The model: per (sequence, head) the slots as plain numbers, exactly what the cache must hold. */
class Model {
  readonly slots: { k: number[][]; v: number[][]; pos: number[] }[];
  readonly released: boolean[];
  /** Last position appended since the sequence's last reset (-1: none); truncation keeps it. */
  readonly last: number[];
  constructor(readonly B: number, readonly H: number, readonly dtype: CacheDType) {
    this.slots = Array.from({ length: B * H }, () => ({ k: [], v: [], pos: [] }));
    this.released = new Array<boolean>(B).fill(false);
    this.last = new Array<number>(B).fill(-1);
  }
  reset(b: number): void {
    this.truncate(b, 0);
    this.last[b] = -1;
  }
  append(b: number, k: Float32Array, v: Float32Array, pos: Int32Array, D: number, Dv: number, row0: number): void {
    const r = ROUND[this.dtype];
    for (let t = 0; t < pos.length; t++) {
      for (let h = 0; h < this.H; h++) {
        const s = this.slots[b * this.H + h]!;
        const kr = (row0 + t) * this.H + h;
        s.k.push(Array.from(k.subarray(kr * D, kr * D + D), r));
        s.v.push(Array.from(v.subarray(kr * Dv, kr * Dv + Dv), r));
        s.pos.push(pos[t]!);
      }
      this.last[b] = pos[t]!;
    }
  }
  truncate(b: number, keep: number): void {
    for (let h = 0; h < this.H; h++) this.truncateHead(b, h, keep);
  }
  truncateHead(b: number, h: number, keep: number): void {
    const s = this.slots[b * this.H + h]!;
    const drop = Math.max(0, s.pos.length - keep);
    s.k.splice(0, drop), s.v.splice(0, drop), s.pos.splice(0, drop);
  }
  lastPos(b: number): number {
    return this.last[b]!;
  }
}

function rand(seed: number, n: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}

function sameSlots(cache: KvCache, m: Model, what: string): void {
  const lengths = cache.lengths();
  for (let b = 0; b < m.B; b++) {
    for (let h = 0; h < m.H; h++) {
      const want = m.slots[b * m.H + h]!;
      const at = `${what}: sequence ${b}, head ${h}`;
      expect(lengths[b * m.H + h], at).toBe(want.pos.length);
      const got = cache.read(b, h);
      expect(Array.from(got.positions), at).toEqual(want.pos);
      expect(Array.from(got.k), at).toEqual(want.k.flat());
      expect(Array.from(got.v), at).toEqual(want.v.flat());
      const { min, max } = cache.summary(b, h);
      for (let t = 0; t < min.length; t++) {
        const ps = want.pos.slice(16 * t, 16 * t + 16);
        expect([min[t], max[t]], `${at}, summary entry ${t}`).toEqual(ps.length ? [Math.min(...ps), Math.max(...ps)] : [2 ** 31 - 1, -(2 ** 31)]);
      }
    }
  }
}

type Op =
  | { kind: 'chunk'; seq: number; n: number; gap: number }
  | { kind: 'step'; gap: number }
  | { kind: 'truncate'; seq: number | null; keep: number }
  | { kind: 'truncateHead'; seq: number; head: number; keep: number }
  | { kind: 'reset'; seq: number }
  | { kind: 'release'; seq: number }
  | { kind: 'admit' };

const opArb = (B: number): fc.Arbitrary<Op> => fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('chunk' as const), seq: fc.integer({ min: 0, max: B - 1 }), n: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 5, max: 90 })), gap: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('step' as const), gap: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), seq: fc.option(fc.integer({ min: 0, max: B - 1 })), keep: fc.integer({ min: 0, max: 70 }) }) },
  // One KV head of a sequence: the heads become ragged (head is taken modulo Hkv).
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncateHead' as const), seq: fc.integer({ min: 0, max: B - 1 }), head: fc.integer({ min: 0, max: 3 }), keep: fc.integer({ min: 0, max: 70 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const), seq: fc.integer({ min: 0, max: B - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), seq: fc.integer({ min: 0, max: B - 1 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'admit' as const }) },
);

/** Apply one op to the cache and the model (an op the cache must refuse is checked to be KVF3010). */
function apply(cache: KvCache, m: Model, op: Op, D: number, Dv: number, seed: number): void {
  const H = m.H;
  switch (op.kind) {
    case 'chunk': {
      const pos = Int32Array.from({ length: op.n }, (_, i) => m.lastPos(op.seq) + op.gap * (i + 1));
      const k = rand(seed, op.n * H * D), v = rand(seed + 1, op.n * H * Dv);
      if (m.released[op.seq] && op.n > 0) {
        expect(caught(() => cache.append(op.seq, { k, v, positions: pos })).code).toBe('KVF3010');
        return;
      }
      cache.append(op.seq, { k, v, positions: pos });
      m.append(op.seq, k, v, pos, D, Dv, 0);
      return;
    }
    case 'step': {
      const active = m.released.flatMap((r, b) => (r ? [] : [b]));
      const pos = Int32Array.from(active, (b) => m.lastPos(b) + op.gap);
      const k = rand(seed, active.length * H * D), v = rand(seed + 1, active.length * H * Dv);
      cache.appendStep({ k, v, positions: pos });
      active.forEach((b, i) => m.append(b, k, v, pos.subarray(i, i + 1), D, Dv, i));
      return;
    }
    case 'truncate':
      cache.truncate(op.keep, op.seq ?? undefined);
      for (let b = 0; b < m.B; b++) if (op.seq === null || op.seq === b) m.truncate(b, op.keep);
      return;
    case 'truncateHead':
      cache.truncate(op.keep, op.seq, op.head % H);
      m.truncateHead(op.seq, op.head % H, op.keep);
      return;
    case 'reset':
      cache.reset(op.seq);
      m.reset(op.seq);
      return;
    case 'release':
      cache.release(op.seq);
      m.reset(op.seq);
      m.released[op.seq] = true;
      return;
    case 'admit': {
      const want = m.released.indexOf(true);
      if (want < 0) {
        expect(caught(() => cache.admit()).code).toBe('KVF3010');
        return;
      }
      expect(cache.admit()).toBe(want);
      m.released[want] = false;
    }
  }
}

// ---- kernels ---------------------------------------------------------------------------------

interface Variant { spec: AttentionSpec; target: 'cpp' | 'cuda'; dtype: CacheDType }

const variantArb = (target: 'cpp' | 'cuda') => fc.record({
  mask: maskProgram(), score: fc.option(scoreProgram(), { freq: 2 }),
  Hkv: fc.integer({ min: 1, max: 3 }), group: fc.constantFrom(1, 2, 4),
  D: target === 'cpp' ? fc.integer({ min: 1, max: 80 }) : fc.constantFrom(64, 128),
  Dv: fc.integer({ min: 1, max: 80 }),
  dtype: target === 'cpp' ? fc.constantFrom<CacheDType>('f32', 'f16', 'bf16') : fc.constantFrom<CacheDType>('f32', 'f16', 'bf16'),
}).chain((v) => fc.record({ mv: paramValues(v.mask.params), sv: paramValues(v.score?.params ?? {}) }).map((vals) => ({ ...v, ...vals })));

function variants(target: 'cpp' | 'cuda', n: number, seed: number): Variant[] {
  return fc.sample(variantArb(target), { seed, numRuns: n }).map((v, i) => {
    const mask = defineMask(programToFunction(v.mask.source) as never, { name: `cmask${target}${i}`, params: v.mask.params }).with(v.mv as never);
    const score = v.score ? defineScore(programToFunction(v.score.source) as never, { name: `cscore${target}${i}`, params: v.score.params }).with(v.sv as never) : undefined;
    const spec = defineAttention({ name: `cache${target}${i}`, heads: { q: v.Hkv * v.group, kv: v.Hkv }, headDim: v.D, valueDim: target === 'cuda' ? v.D : v.Dv, mask, score });
    return { spec, target, dtype: v.dtype };
  });
}

/**
 * Reference for the rows of sequence b (q [n, Hq, D] packed) over the model's slots of b. Per KV
 * head, since heads may hold different slots (ragged): the reference runs with head hk's slots and
 * positions in every KV head, and only the query heads of group hk are taken from it.
 */
function referenceRows(spec: AttentionSpec, m: Model, b: number, q: Float32Array, qpos: Int32Array) {
  const { q: Hq, kv: Hkv } = spec.heads, D = spec.headDim, Dv = spec.valueDim, n = qpos.length, G = Hq / Hkv;
  // The reference runs batch 0..b (masks may read b): only batch b carries this sequence's data.
  const B = b + 1;
  const qr = new Float32Array(B * Hq * n * D);
  for (let h = 0; h < Hq; h++) for (let i = 0; i < n; i++) qr.set(q.subarray((i * Hq + h) * D, (i * Hq + h + 1) * D), ((b * Hq + h) * n + i) * D);
  const out = new Float64Array(n * Hq * Dv), lse = new Float64Array(n * Hq);
  for (let hk = 0; hk < Hkv; hk++) {
    const s = m.slots[b * Hkv + hk]!, len = s.pos.length;
    const kr = new Float32Array(B * Hkv * len * D), vr = new Float32Array(B * Hkv * len * Dv);
    for (let h = 0; h < Hkv; h++) {
      kr.set(s.k.flat(), (b * Hkv + h) * len * D);
      vr.set(s.v.flat(), (b * Hkv + h) * len * Dv);
    }
    const r = referenceAttention(spec, { q: qr, k: kr, v: vr, B, Lq: n, Lk: len, qpos, kpos: Int32Array.from(s.pos) });
    // back to packed [n, Hq, Dv] / [n, Hq], the query heads of group hk
    for (let h = hk * G; h < (hk + 1) * G; h++) for (let i = 0; i < n; i++) {
      const row = (b * Hq + h) * n + i;
      out.set(r.out.subarray(row * Dv, row * Dv + Dv), (i * Hq + h) * Dv);
      lse[i * Hq + h] = r.lse[row]!;
    }
  }
  return { out, lse };
}

function expectClose(got: { out: Float32Array; lse: Float32Array }, want: { out: Float64Array; lse: Float64Array }, dtype: CacheDType, what: string): void {
  const tol = TOLERANCES[dtype];
  const o = compareArrays(got.out, want.out, tol.out), l = compareArrays(got.lse, want.lse, tol.lse);
  if (!o.ok || !l.ok) throw new Error(`${what}: out ${JSON.stringify(o.first)} (worst ${o.worstRatio}), lse ${JSON.stringify(l.first)} (worst ${l.worstRatio})`);
  // Exactly empty rows: no admissible key gives 0 and -Infinity, never a tolerance match.
  for (let i = 0; i < want.lse.length; i++) if (want.lse[i] === -Infinity) expect(got.lse[i], `${what}: lse[${i}]`).toBe(-Infinity);
}

const N_VARIANTS = Number(process.env.FUZZ_VARIANTS ?? 3);

for (const target of ['cpp', 'cuda'] as const) describe(`KV cache and attention over it, ${target} (seed ${SEED})`, () => {
  const vs = variants(target, N_VARIANTS, SEED + (target === 'cuda' ? 77 : 7));
  let kernels: CompiledAttention[] = [];
  beforeAll(async () => {
    kernels = await compile(vs.map((v) => ({ spec: v.spec, plan: v.target === 'cuda' ? { target: 'cuda', dtype: v.dtype } : { target: 'cpp' } })));
  }, 900_000);

  it('random operation sequences: slot for slot equal to the model', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: vs.length - 1 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 40 }), fc.integer(),
      (vi, B, capacity, seed) => {
        const k = kernels[vi]!;
        const { spec } = vs[vi]!;
        using cache = k.createCache({ batch: B, capacity, dtype: vs[vi]!.dtype });
        const m = new Model(B, spec.heads.kv, cache.dtype);
        const ops = fc.sample(fc.array(opArb(B), { minLength: 1, maxLength: 14 }), { seed, numRuns: 1 })[0]!;
        ops.forEach((op, i) => {
          apply(cache, m, op, spec.headDim, spec.valueDim, seed + i * 7);
          sameSlots(cache, m, `${k.id} after op ${i} ${JSON.stringify(op)} (ops ${JSON.stringify(ops)})`);
        });
      }), { seed: SEED, numRuns: runs(25) });
  });

  it('prefill and decode over the cache match the reference on the gathered slots', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: vs.length - 1 }), fc.integer({ min: 1, max: 3 }), fc.integer(), async (vi, B, seed) => {
      const k = kernels[vi]!;
      const { spec, dtype } = vs[vi]!;
      const { q: Hq, kv: Hkv } = spec.heads, D = spec.headDim, Dv = spec.valueDim;
      using cache = k.createCache({ batch: B, capacity: 16, dtype });
      const m = new Model(B, Hkv, cache.dtype);
      // Ragged prompts with gaps in their positions, appended, then prefilled in one call.
      const counts = fc.sample(fc.array(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 150 })), { minLength: B, maxLength: B }), { seed, numRuns: 1 })[0]!;
      const rows = counts.reduce((a, n) => a + n, 0);
      const positions = new Int32Array(rows);
      let at = 0;
      counts.forEach((n, b) => {
        let p = (seed >>> 0) % 50;
        for (let i = 0; i < n; i++) positions[at + i] = p += 1 + ((seed >>> (i % 16)) & 1) * 2;
        at += n;
      });
      const kk = rand(seed, rows * Hkv * D), vv = rand(seed + 1, rows * Hkv * Dv);
      cache.appendBatch(counts, { k: kk, v: vv, positions });
      at = 0;
      counts.forEach((n, b) => { m.append(b, kk, vv, positions.subarray(at, at + n), D, Dv, at); at += n; });
      // Ragged heads: the last KV head of sequence 0 keeps fewer slots (its oldest dropped).
      if (Hkv > 1 && counts[0]! > 1 && (seed >>> 3) % 2 === 0) {
        const keep = (seed >>> 5) % counts[0]!;
        cache.truncate(keep, 0, Hkv - 1);
        m.truncateHead(0, Hkv - 1, keep);
      }
      const q = rand(seed + 2, rows * Hq * D);
      const got = await k.prefill(cache, { q, positions, counts });
      at = 0;
      counts.forEach((n, b) => {
        if (n > 0) {
          const want = referenceRows(spec, m, b, q.subarray(at * Hq * D, (at + n) * Hq * D), positions.subarray(at, at + n));
          expectClose({ out: got.out.subarray(at * Hq * Dv, (at + n) * Hq * Dv), lse: got.lse.subarray(at * Hq, (at + n) * Hq) }, want, dtype, `${k.id} prefill seq ${b} counts ${counts}`);
        }
        at += n;
      });
      // Decode steps: append one token per sequence, then one query each (async, then sync into buffers).
      const out = new Float32Array(B * Hq * Dv), lse = new Float32Array(B * Hq);
      for (let step = 0; step < 3; step++) {
        const pos = Int32Array.from({ length: B }, (_, b) => m.lastPos(b) + 1 + step);
        const ks = rand(seed + 10 + step, B * Hkv * D), vs2 = rand(seed + 20 + step, B * Hkv * Dv);
        cache.appendStep({ k: ks, v: vs2, positions: pos });
        for (let b = 0; b < B; b++) m.append(b, ks, vs2, pos.subarray(b, b + 1), D, Dv, b);
        const qd = rand(seed + 30 + step, B * Hq * D);
        const r = step % 2 === 0 ? await k.decode(cache, { q: qd }) : (k.decodeSync(cache, { q: qd, out, lse }), { out, lse });
        for (let b = 0; b < B; b++) {
          const want = referenceRows(spec, m, b, qd.subarray(b * Hq * D, (b + 1) * Hq * D), pos.subarray(b, b + 1));
          expectClose({ out: r.out.subarray(b * Hq * Dv, (b + 1) * Hq * Dv), lse: r.lse.subarray(b * Hq, (b + 1) * Hq) }, want, dtype, `${k.id} decode step ${step} seq ${b}`);
        }
      }
    }), { seed: SEED, numRuns: runs(12) });
  }, 600_000);

  it('bad inputs are coded errors and change nothing', () => {
    const k = kernels[0]!;
    const { spec, dtype } = vs[0]!;
    const { kv: Hkv } = spec.heads, D = spec.headDim, Dv = spec.valueDim;
    const cache = k.createCache({ batch: 2, capacity: 4, dtype });
    const m = new Model(2, Hkv, cache.dtype);
    const chunk = (n: number, p0: number, seed: number) => ({ k: rand(seed, n * Hkv * D), v: rand(seed + 1, n * Hkv * Dv), positions: Int32Array.from({ length: n }, (_, i) => p0 + i) });
    const c0 = chunk(5, 0, 1), c1 = chunk(3, 10, 2);
    cache.append(0, c0);
    m.append(0, c0.k, c0.v, c0.positions, D, Dv, 0);
    cache.append(1, c1);
    m.append(1, c1.k, c1.v, c1.positions, D, Dv, 0);
    expect(caught(() => cache.append(0, chunk(2, 4, 3))).code).toBe('KVF3010'); // position 4 follows 4
    expect(caught(() => cache.append(0, { ...chunk(2, 50, 3), positions: Int32Array.of(60, 55) })).code).toBe('KVF3010');
    expect(caught(() => cache.append(0, { ...chunk(2, 50, 3), k: new Float32Array(3) })).code).toBe('KVF3002');
    expect(caught(() => cache.append(0, { ...chunk(2, 50, 3), k: new Float64Array(2 * Hkv * D) as never })).code).toBe('KVF3001');
    expect(caught(() => cache.append(2, chunk(1, 50, 3))).code).toBe('KVF3004');
    // truncate of one head: a head needs its sequence, and must be a KV head index
    for (const [seq, head] of [[undefined, 0], [0, Hkv], [0, -1], [0, 0.5], [0, '0' as never]] as const) {
      expect(caught(() => cache.truncate(1, seq, head)).code, `truncate(1, ${seq}, ${String(head)})`).toBe('KVF3004');
    }
    expect(caught(() => cache.truncate(-1, 0, 0)).code).toBe('KVF3004');
    cache.release(1);
    m.reset(1);
    expect(caught(() => cache.append(1, chunk(1, 50, 3))).code).toBe('KVF3010');
    sameSlots(cache, m, 'after refused appends');
    cache.dispose();
    expect(caught(() => cache.lengths()).code).toBe('KVF3012');
    expect(caught(() => k.decodeSync(cache, { q: new Float32Array(0), out: new Float32Array(0), lse: new Float32Array(0) })).code).toBe('KVF3012');
  });
});

describe('caches and buffers serve kernels of their own target only', () => {
  const mask = defineMask((b, h, q, k) => k <= q, { name: 'c' });
  const spec = defineAttention({ name: 'targets', heads: { q: 4, kv: 2 }, headDim: 64, mask });
  const oneKvHead = defineAttention({ name: 'onekv', heads: { q: 4, kv: 1 }, headDim: 64, mask });
  let cpu: CompiledAttention, cuda: CompiledAttention, mqa: CompiledAttention;
  beforeAll(async () => {
    [cpu, cuda, mqa] = (await compile([spec, { spec, plan: { target: 'cuda', dtype: 'f32' } }, oneKvHead])) as [CompiledAttention, CompiledAttention, CompiledAttention];
  }, 900_000);

  it('a cache of other KV heads is KVF3011; a cache read by a call in flight refuses changes (KVF3010)', async () => {
    using cache = cpu.createCache({ batch: 1, capacity: 16 });
    cache.append(0, { k: rand(1, 3 * 2 * 64), v: rand(2, 3 * 2 * 64), positions: Int32Array.of(0, 1, 2) });
    const e = caught(() => mqa.decodeSync(cache, { q: new Float32Array(4 * 64), out: new Float32Array(4 * 64), lse: new Float32Array(4) }));
    expect([e.code, e.message]).toEqual(['KVF3011', expect.stringMatching(/Hkv=2.*Hkv=1/)]);
    const pending = cpu.decode(cache, { q: rand(3, 4 * 64) });
    const step = { k: rand(4, 2 * 64), v: rand(5, 2 * 64), positions: Int32Array.of(3) };
    for (const change of [() => cache.append(0, step), () => cache.truncate(1), () => cache.grow(1000), () => cache.dispose()]) {
      expect(caught(change).code).toBe('KVF3010');
    }
    await pending;
    cache.append(0, step); // and once the call is done, it may change
    expect(cache.length(0)).toBe(4);
  });

  for (const which of ['cpu', 'cuda'] as const) it(`a ${which} cache or buffer larger than memory is KVF3005 (the addon's out-of-memory code), not a crash`, () => {
    const k = which === 'cpu' ? cpu : cuda;
    const big = caught(() => k.createCache({ batch: 65535, capacity: 2 ** 31 - 1 }));
    expect(big.code).toBe('KVF3005');
    using cache = k.createCache({ batch: 1, capacity: 16 });
    cache.append(0, { k: rand(1, 2 * 64), v: rand(2, 2 * 64), positions: Int32Array.of(0) });
    const grow = caught(() => cache.grow(2 ** 31 - 1));
    expect(grow.code).toBe('KVF3005');
    expect(grow.message).toMatch(/growing the cache to 2147483647 slots.*could not be allocated/);
    expect(cache.capacity).toBe(16); // the failed growth lost nothing
    expect(cache.read(0, 1).k).toEqual(rand(1, 2 * 64).subarray(64, 128));
    const buf = caught(() => k.createBuffer({ length: 2 ** 40 }));
    expect(buf.code).toBe('KVF3005');
    expect(buf.message).toMatch(/a buffer of 1099511627776 f32 values/);
  });

  it("a TargetBuffer subclass whose 'native' is a cache's is refused by the addon's type tag, never read as a buffer", () => {
    using cache = cpu.createCache({ batch: 1, capacity: 16 });
    cache.append(0, { k: rand(1, 2 * 64), v: rand(2, 2 * 64), positions: Int32Array.of(0) });
    const real = cpu.createBuffer({ length: 4 * 64 });
    const Fake = class extends (Object.getPrototypeOf(real).constructor as new (...a: unknown[]) => typeof real) {
      override get native() { return cache.native as never; }
    };
    const fake = new Fake(cache.addon, 'cpu', { length: 4 * 64 });
    let e: unknown;
    try {
      cpu.decodeSync(cache, { q: fake, out: new Float32Array(4 * 64), lse: new Float32Array(4) });
    } catch (x) {
      e = x;
    }
    if (!(e instanceof TypeError)) throw new Error(`expected a TypeError, got ${String(e)}`);
    expect(e.message).toMatch(/argument 'q'/);
    expect(cache.length(0)).toBe(1); // the cache is untouched
    real.dispose(), fake.dispose();
  });

  it('a CPU cache passed to a CUDA kernel of the same addon is KVF3011', () => {
    using cache = cpu.createCache({ batch: 1 });
    const e = caught(() => cuda.decodeSync(cache, { q: new Float32Array(4 * 64), out: new Float32Array(4 * 64), lse: new Float32Array(4) }));
    expect(e.code).toBe('KVF3011');
    expect(e.message).toMatch(/backend 'cpu'.*'cuda/);
  });

  for (const which of ['cpu', 'cuda'] as const) it(`decodeSync into ${which} buffers equals decodeSync into arrays; buffers round to their dtype`, () => {
    const k = which === 'cpu' ? cpu : cuda;
    using cache = k.createCache({ batch: 2, capacity: 16 });
    cache.appendBatch([40, 7], { k: rand(1, 47 * 2 * 64), v: rand(2, 47 * 2 * 64), positions: Int32Array.from([...Array(40).keys(), ...Array(7).keys()]) });
    const q = rand(3, 2 * 4 * 64);
    const want = { out: new Float32Array(2 * 4 * 64), lse: new Float32Array(2 * 4) };
    k.decodeSync(cache, { q, ...want });
    using qb = k.createBuffer({ length: q.length });
    using ob = k.createBuffer({ length: want.out.length });
    using lb = k.createBuffer({ length: want.lse.length });
    qb.upload(q);
    k.decodeSync(cache, { q: qb, out: ob, lse: lb });
    expect(ob.download()).toEqual(want.out);
    expect(lb.download()).toEqual(want.lse);
    using hb = k.createBuffer({ length: 4, dtype: 'bf16' });
    hb.upload(Float32Array.of(1.00390625, 3.14159, -0, 1e-40));
    expect(Array.from(hb.download())).toEqual([roundBf16(1.00390625), roundBf16(3.14159), -0, roundBf16(1e-40)]);
    expect(caught(() => hb.upload(new Float32Array(5))).code).toBe('KVF3002');
    expect(caught(() => k.decodeSync(cache, { q: hb, out: ob, lse: lb })).code).toBe('KVF3001'); // bf16 q
    const other = which === 'cpu' ? cuda.createBuffer({ length: q.length }) : cpu.createBuffer({ length: q.length });
    expect(caught(() => k.decodeSync(cache, { q: other, out: ob, lse: lb })).code).toBe('KVF3011');
    other.dispose();
    expect(caught(() => other.download()).code).toBe('KVF3012');
  });
});

describe('decode steps on a serving loop', () => {
  const spec = defineAttention({ name: 'serving', heads: { q: 4, kv: 2 }, headDim: 32, mask: defineMask((b, h, q, k) => k <= q, { name: 'c' }) });
  let k: CompiledAttention;
  beforeAll(async () => {
    [k] = (await compile([spec])) as [CompiledAttention];
  }, 900_000);

  it('the last sequence released: decode and decodeSync still give one row per sequence, the released row untouched', async () => {
    using cache = k.createCache({ batch: 3, capacity: 8 });
    const m = new Model(3, 2, 'f32');
    const kk = rand(1, 9 * 2 * 32), vv = rand(2, 9 * 2 * 32), positions = Int32Array.from([0, 1, 2, 3, 0, 1, 0, 1, 2]);
    cache.appendBatch([4, 2, 3], { k: kk, v: vv, positions });
    m.append(0, kk, vv, positions.subarray(0, 4), 32, 32, 0), m.append(1, kk, vv, positions.subarray(4, 6), 32, 32, 4);
    cache.release(2);
    const q = rand(3, 3 * 4 * 32);
    const out = new Float32Array(3 * 4 * 32).fill(7), lse = new Float32Array(3 * 4).fill(7);
    k.decodeSync(cache, { q, out, lse });
    const r = await k.decode(cache, { q });
    expect([r.out.length, r.lse.length]).toEqual([3 * 4 * 32, 3 * 4]);
    for (let b = 0; b < 2; b++) {
      const want = referenceRows(spec, m, b, q.subarray(b * 128, (b + 1) * 128), Int32Array.of(m.lastPos(b)));
      expectClose({ out: out.subarray(b * 128, (b + 1) * 128), lse: lse.subarray(b * 4, (b + 1) * 4) }, want, 'f32', `sync seq ${b}`);
      expectClose({ out: r.out.subarray(b * 128, (b + 1) * 128), lse: r.lse.subarray(b * 4, (b + 1) * 4) }, want, 'f32', `async seq ${b}`);
    }
    expect(out.subarray(256).every((x) => x === 7) && lse.subarray(8).every((x) => x === 7)).toBe(true);
    expect(r.out.subarray(256).every((x) => x === 0)).toBe(true);
  });

  it('one plan serves every step: appends past the capacity, truncation, release and admit between decodeSync calls', () => {
    using cache = k.createCache({ batch: 2, capacity: 2 });
    const m = new Model(2, 2, 'f32');
    const out = new Float32Array(2 * 4 * 32), lse = new Float32Array(2 * 4);
    for (let t = 0; t < 40; t++) {
      const ks = rand(10 + t, 2 * 2 * 32), vs = rand(60 + t, 2 * 2 * 32), pos = Int32Array.of(t, t);
      const active = [0, 1].filter((b) => !cache.isReleased(b));
      const rows = Int32Array.from([0, 1], (b) => (cache.isReleased(b) ? 0 : 1));
      cache.appendBatch(rows, { k: Float32Array.from(active.flatMap((b) => Array.from(ks.subarray(b * 64, b * 64 + 64)))), v: Float32Array.from(active.flatMap((b) => Array.from(vs.subarray(b * 64, b * 64 + 64)))), positions: Int32Array.from(active, () => t) });
      for (const b of active) m.append(b, ks, vs, pos.subarray(b, b + 1), 32, 32, b);
      if (t === 17) (cache.truncate(5), m.truncate(0, 5), m.truncate(1, 5));
      if (t === 25) (cache.release(1), m.reset(1));
      if (t === 31) expect(cache.admit()).toBe(1);
      const q = rand(100 + t, 2 * 4 * 32);
      k.decodeSync(cache, { q, out, lse, positions: pos });
      for (const b of active.filter((s) => !cache.isReleased(s))) {
        const want = referenceRows(spec, m, b, q.subarray(b * 128, (b + 1) * 128), pos.subarray(b, b + 1));
        expectClose({ out: out.subarray(b * 128, (b + 1) * 128), lse: lse.subarray(b * 4, (b + 1) * 4) }, want, 'f32', `step ${t} seq ${b}`);
      }
    }
    expect(cache.capacity).toBeGreaterThanOrEqual(32);
  });

  it('a serving loop (appendStep, decodeSync) allocates nothing on the JS heap in steady state', () => {
    const file = path.join(PACKAGE_ROOT, 'specs/fixtures/decode-alloc-probe.ts');
    const r = execFileSync(process.execPath, ['--expose-gc', '--conditions=kvforge-source', '--import', 'tsx', file], { cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 1_200_000 });
    const got = JSON.parse(r.trim().split('\n').pop()!) as { bytesPerCall: number; calls: number; collections: number };
    // No collection hid an allocation, and one allocation per call would be at least 16 bytes;
    // what is left is the measurement's own (getHeapSpaceStatistics).
    expect([got.calls, got.collections]).toEqual([2000, 0]);
    expect(got.bytesPerCall).toBeLessThan(4);
  }, 1_300_000); // the child may be the first to build the shipped addon (sanitized, on a cold cache)
});

describe('the README cache example', () => {
  it('README shows specs/fixtures/cache-quickstart.ts verbatim, and it runs', () => {
    const file = path.join(PACKAGE_ROOT, 'specs/fixtures/cache-quickstart.ts');
    expect(readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8')).toContain(readFileSync(file, 'utf8').trim());
    const out = execFileSync(process.execPath, ['--conditions=kvforge-source', '--import', 'tsx', file], { cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 400_000 });
    expect(out).toMatch(/prefill rows 137, lengths 104,104,0,0, lse\[0\] = -?\d+\.\d{4}/);
  }, 420_000);
});
