/**
 * The cache section of `kvforge bench`: decode through the TS API over KV caches read in place,
 * with ORT's GroupQueryAttention on the same shapes (past-KV inputs, per-row `seqlens_k`) side
 * by side in one run, and the DRAM read bandwidth probed in the same rounds as the kernel.
 *
 * Rows: Hq=32, Hkv=4, D=64, 4096 slots per sequence (a ragged batch: 512..4096), f32 and bf16
 * storage, batch 1 and 16. Caches rotate over twice the last-level cache (at least 64 MiB,
 * `machineCache.ts`): a decode step then reads DRAM, not L3. kvforge runs `decodeSync` (the
 * serving path: preallocated outputs, no allocation); bytes read = 2 * sum(len) * Hkv * D * dtype
 * bytes; "of DRAM" = the median over rounds of (bytes / time) / the read bandwidth probed in the
 * same round (dramProbe.ts). Also: appending one token per sequence (µs), the per-call overhead of
 * the TS API (a decode over empty caches: what a call costs besides its kernel), and prefill of a
 * 1024-token chunk into a cache against the typed-array prefill of the same shape.
 */
import type { CompiledAttention } from '../api/kernels.ts';
import type { CacheDType, KvCache } from '../cache/kvCache.ts';
import { randomFloats } from '../verify/random.ts';
import type { OrtGqaRunner } from './ort-gqa.ts';
import type { OrtPeer } from './peer.ts';
import type { DramProbe } from './dramProbe.ts';
import { rotationBytes, type LastLevelCache } from './machineCache.ts';
import { interleave, median } from './stats.ts';

export interface CacheBenchRow {
  readonly name: string;
  readonly kvforgeMs: number;
  readonly ortMs: number | null;
  readonly bytes: number;
  readonly gbs: number;
  /** Median of the DRAM read bandwidth probed between this row's samples, GB/s. */
  readonly dramGBs: number;
  /** Median over rounds of (bytes / kvforge time) / the DRAM bandwidth probed in that round. */
  readonly share: number;
}

export interface CacheBenchReport {
  /** Median of the rows' DRAM probes, GB/s (each row's share divides by its own rounds' probes). */
  readonly readGBs: number;
  readonly rows: CacheBenchRow[];
  /** One token per sequence appended, µs per call: batch 1 and 16. */
  readonly appendUs: { readonly b1: number; readonly b16: number };
  /**
   * Per call, µs: decodeSync where no sequence has a row (`api`: what the TS API and the addon
   * cost, no kernel work), over a one-slot cache (`oneSlot`: plus the kernel's fixed cost), and
   * the async decode() over the one-slot cache.
   */
  readonly overheadUs: { readonly api: number; readonly oneSlot: number; readonly async: number };
  /** Prefill of a 1024-token chunk: into a cache vs the typed-array run(), ms. */
  readonly prefill: { readonly cacheMs: number; readonly runMs: number };
}

interface DecodeCase {
  readonly name: string;
  readonly B: number;
  readonly dtype: CacheDType;
  readonly ragged: boolean;
}

const L = 4096;

function lengthsOf(c: DecodeCase): number[] {
  // Ragged: evenly spread from 512 to 4096, a multiple of 64 each.
  return Array.from({ length: c.B }, (_, b) => (c.ragged && c.B > 1 ? 512 + Math.round(((L - 512) * b) / (c.B - 1) / 64) * 64 : L));
}

function fillCache(kernel: CompiledAttention, c: DecodeCase, seed: number): KvCache {
  const { kv: Hkv } = kernel.unit.heads;
  const D = kernel.unit.headDim, Dv = kernel.unit.valueDim;
  const lens = lengthsOf(c);
  const cache = kernel.createCache({ batch: c.B, capacity: L, dtype: c.dtype });
  const rows = lens.reduce((a, n) => a + n, 0);
  const positions = new Int32Array(rows);
  let at = 0;
  for (const n of lens) for (let i = 0; i < n; i++) positions[at++] = i;
  cache.appendBatch(lens, { k: randomFloats(rows * Hkv * D, seed), v: randomFloats(rows * Hkv * Dv, seed + 1), positions });
  return cache;
}

async function decodeRow(kernel: CompiledAttention, c: DecodeCase, threads: number, reps: number, peer: OrtPeer | null, rotate: number,
  dram: DramProbe): Promise<CacheBenchRow> {
  const { q: Hq, kv: Hkv } = kernel.unit.heads;
  const D = kernel.unit.headDim, Dv = kernel.unit.valueDim;
  const lens = lengthsOf(c);
  const bytes = 2 * lens.reduce((a, n) => a + n, 0) * Hkv * D * (c.dtype === 'f32' ? 4 : 2);
  const sets = Math.max(1, Math.ceil(rotate / bytes) + 1);
  const caches = Array.from({ length: sets }, (_, i) => fillCache(kernel, c, 7 + 11 * i));
  const q = randomFloats(c.B * Hq * D, 3);
  const out = new Float32Array(c.B * Hq * Dv), lse = new Float32Array(c.B * Hq);
  const positions = Int32Array.from(lens, (n) => n - 1);
  let ci = 0;
  const inner = c.B === 1 ? 16 : 4;
  const probed: number[] = [];
  const cases = [{
    name: 'kvforge',
    run: async () => { for (let r = 0; r < inner; r++) kernel.decodeSync(caches[ci++ % sets]!, { q, positions, out, lse }, { threads }); },
  }, {
    name: 'dram',
    run: async () => { probed.push(await dram.sample()); },
  }];
  let ort: OrtGqaRunner | null = null;
  if (peer && c.dtype === 'f32') {
    // ORT's CPU GQA computes in f32 only: its rows are f32 whatever the cache stores.
    ort = await peer.createOrtGqa({ B: c.B, Hq, Hkv, D, Lq: 1, Lk: L, threads, seqlens: c.ragged ? Int32Array.from(lens) : undefined });
    const inputs = Array.from({ length: Math.max(2, Math.ceil(rotate / (2 * c.B * Hkv * L * D * 4)) + 1) }, (_, i) => ({
      q: randomFloats(c.B * Hq * D, 50 + i), k: randomFloats(c.B * Hkv * L * D, 60 + i), v: randomFloats(c.B * Hkv * L * Dv, 70 + i),
    }));
    ort.prepare(inputs);
    let oi = 0;
    const runner = ort;
    cases.push({ name: 'ort', run: async () => { for (let r = 0; r < inner; r++) await runner.runPrepared(oi++); } });
  }
  const samples = await interleave(cases, { warmup: 2, reps });
  await ort?.release();
  for (const cache of caches) cache.dispose();
  const times = samples.get('kvforge')!;
  const kvforgeMs = median(times) / inner;
  // The timed rounds' probes (warm-up rounds probed first), paired round by round.
  const roundGBs = probed.slice(probed.length - times.length);
  const share = median(times.map((t, i) => bytes / (t / inner) / 1e6 / roundGBs[i]!));
  return { name: c.name, kvforgeMs, ortMs: ort ? median(samples.get('ort')!) / inner : null, bytes, gbs: bytes / kvforgeMs / 1e6, dramGBs: median(roundGBs), share };
}

function usPerCall(n: number, f: () => void): number {
  for (let i = 0; i < Math.min(50, n); i++) f();
  const times: number[] = [];
  for (let s = 0; s < 7; s++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    times.push(((performance.now() - t0) * 1e3) / n);
  }
  return median(times);
}

export async function runCacheBench(kernel: CompiledAttention, o: { threads: number; reps: number; quick: boolean; llc: LastLevelCache }, dram: DramProbe,
  peer: OrtPeer | null, log: (s: string) => void = () => {}): Promise<CacheBenchReport> {
  const cases: DecodeCase[] = [
    { name: 'decode B=1 f32', B: 1, dtype: 'f32', ragged: false },
    { name: 'decode B=1 bf16', B: 1, dtype: 'bf16', ragged: false },
    { name: 'decode B=16 f32', B: 16, dtype: 'f32', ragged: false },
    { name: 'decode B=16 bf16', B: 16, dtype: 'bf16', ragged: false },
    { name: 'decode B=16 ragged f32', B: 16, dtype: 'f32', ragged: true },
    { name: 'decode B=16 ragged bf16', B: 16, dtype: 'bf16', ragged: true },
  ].filter((c) => !o.quick || c.B === 1) as DecodeCase[];
  const rows: CacheBenchRow[] = [];
  for (const c of cases) {
    log(`${c.name}...`);
    rows.push(await decodeRow(kernel, c, o.threads, o.reps, peer, rotationBytes(o.llc), dram));
  }
  const { q: Hq, kv: Hkv } = kernel.unit.heads;
  const D = kernel.unit.headDim, Dv = kernel.unit.valueDim;

  log('append and per-call overhead...');
  const appendUs = { b1: 0, b16: 0 };
  for (const B of [1, 16] as const) {
    // Steady state of a serving loop: the cache's pages were touched by an earlier request (a
    // first append into fresh memory also pays its page faults), positions written in place.
    const wrap = 4000;
    const cache = kernel.createCache({ batch: B, capacity: wrap });
    const k = randomFloats(B * Hkv * D, 1), v = randomFloats(B * Hkv * Dv, 2);
    const token = { k, v, positions: new Int32Array(B) };
    let p = 0, held = 0;
    const step = () => {
      if (held === wrap) (cache.truncate(0), (held = 0)); // positions go on increasing
      token.positions.fill(p++);
      cache.appendStep(token);
      held++;
    };
    for (let i = 0; i < wrap; i++) step();
    appendUs[B === 1 ? 'b1' : 'b16'] = usPerCall(2000, step);
    cache.dispose();
  }
  // Overhead: a decode whose one sequence holds a single slot: the kernel's work is ~nothing.
  const tiny = kernel.createCache({ batch: 1, capacity: 16 });
  tiny.append(0, { k: randomFloats(Hkv * D, 4), v: randomFloats(Hkv * Dv, 5), positions: Int32Array.of(0) });
  const q = randomFloats(Hq * D, 6), out = new Float32Array(Hq * Dv), lse = new Float32Array(Hq);
  // The same objects every call, as a serving loop holds them: the call itself allocates nothing.
  const step = { q, out, lse }, one = { threads: 1 };
  const oneSlot = usPerCall(5000, () => kernel.decodeSync(tiny, step, one));
  const idle = kernel.createCache({ batch: 1, capacity: 16 });
  idle.release(0);
  const api = usPerCall(20000, () => kernel.decodeSync(idle, step, one));
  idle.dispose();
  const asyncTimes: number[] = [];
  for (let s = 0; s < 7; s++) {
    const t0 = performance.now();
    for (let i = 0; i < 500; i++) await kernel.decode(tiny, { q }, { threads: 1 });
    asyncTimes.push(((performance.now() - t0) * 1e3) / 500);
  }
  tiny.dispose();

  log('prefill of a 1024-token chunk...');
  const n = 1024;
  const pre = kernel.createCache({ batch: 1, capacity: n });
  const kk = randomFloats(Hkv * n * D, 8), vv = randomFloats(Hkv * n * Dv, 9), qq = randomFloats(Hq * n * D, 10);
  const positions = Int32Array.from({ length: n }, (_, i) => i);
  // The cache takes token-major rows [n, Hkv, D]; run() takes [1, Hkv, n, D]: same values.
  const toTokenMajor = (x: Float32Array, H: number, d: number) => {
    const t = new Float32Array(x.length);
    for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) t.set(x.subarray((h * n + i) * d, (h * n + i + 1) * d), (i * H + h) * d);
    return t;
  };
  pre.append(0, { k: toTokenMajor(kk, Hkv, D), v: toTokenMajor(vv, Hkv, Dv), positions });
  const qTok = toTokenMajor(qq, Hq, D);
  const counts = [n];
  const samples = await interleave([
    { name: 'cache', run: async () => { await kernel.prefill(pre, { q: qTok, positions, counts }, { threads: o.threads }); } },
    { name: 'run', run: async () => { await kernel.run({ q: qq, k: kk, v: vv, B: 1, Lq: n, Lk: n }, { threads: o.threads }); } },
  ], { warmup: 2, reps: Math.max(15, o.reps) }); // ~35 ms a sample, ±20% apart on a shared machine: many rounds
  pre.dispose();

  return {
    readGBs: median(rows.map((r) => r.dramGBs)),
    rows,
    appendUs,
    overheadUs: { api, oneSlot, async: median(asyncTimes) },
    prefill: { cacheMs: median(samples.get('cache')!), runMs: median(samples.get('run')!) },
  };
}

export function formatCacheBench(r: CacheBenchReport): string {
  const f = (x: number | null, d = 3) => (x === null ? '—' : x.toFixed(d));
  const lines = [
    '',
    `KV cache decode through the TS API (decodeSync, caches rotated past L3), Hq=32 Hkv=4 D=64, ${L} slots per sequence (ragged: 512..${L}); DRAM read ${r.readGBs.toFixed(1)} GB/s (median of probes between the samples)`,
    `${'case'.padEnd(26)} ${'kvforge ms'.padStart(10)} ${'ORT GQA ms'.padStart(10)} ${'vs ORT'.padStart(7)} ${'GB/s'.padStart(7)} ${'DRAM GB/s'.padStart(9)} ${'of DRAM'.padStart(8)}`,
  ];
  for (const row of r.rows) {
    lines.push([row.name.padEnd(26), f(row.kvforgeMs).padStart(10), f(row.ortMs).padStart(10),
      (row.ortMs === null ? '—' : `${(row.ortMs / row.kvforgeMs).toFixed(2)}x`).padStart(7), row.gbs.toFixed(1).padStart(7),
      row.dramGBs.toFixed(1).padStart(9), `${(row.share * 100).toFixed(0)}%`.padStart(8)].join(' ') + (row.ortMs === null && row.name.includes('bf16') ? '  (ORT CPU GQA has no bf16)' : ''));
  }
  lines.push(`append one token per sequence: ${r.appendUs.b1.toFixed(1)} µs (B=1), ${r.appendUs.b16.toFixed(1)} µs (B=16)`);
  lines.push(`per-call overhead: decodeSync with no rows ${r.overheadUs.api.toFixed(1)} µs (the API alone), over a one-slot cache ${r.overheadUs.oneSlot.toFixed(1)} µs (plus the kernel's fixed cost), async decode ${r.overheadUs.async.toFixed(1)} µs`);
  lines.push(`prefill of a 1024-token chunk: into a cache ${r.prefill.cacheMs.toFixed(2)} ms, typed-array run() ${r.prefill.runMs.toFixed(2)} ms (${(r.prefill.runMs / r.prefill.cacheMs).toFixed(2)}x)`);
  return lines.join('\n');
}
