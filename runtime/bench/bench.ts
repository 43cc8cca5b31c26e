/**
 * `kvforge bench`: the shipped kernels against the TS reference and onnxruntime-node's
 * GroupQueryAttention, side by side in one run, with this machine's limits measured in the same
 * run (FMA throughput for prefill, DRAM read bandwidth for decode). Prints medians and ratios.
 */
import type { CompiledAttention } from '../api/kernels.ts';
import type { Shipped } from '../api/shipped.ts';
import { loadAddon } from '../api/native.ts';
import { kernelReference, unitVariant } from '../verify/reference.ts';
import { randomFloats } from '../verify/random.ts';
import { skippedFraction } from '../../codegen/passes/classifyTiles.ts';
import type { OrtGqaRunner } from './ort-gqa.ts';
import { loadOrtPeer, type OrtPeer } from './peer.ts';
import { interleave, median } from './stats.ts';
import { formatCacheBench, runCacheBench, type CacheBenchReport } from './cacheBench.ts';
import { openDramProbe } from './dramProbe.ts';
import { lastLevelCache, probeBytes, rotationBytes, type LastLevelCache } from './machineCache.ts';

export interface BenchOptions {
  readonly threads: number;
  readonly reps: number;
  readonly warmup: number;
  /** Fewer and smaller cases (the `npm start` summary). */
  readonly quick: boolean;
}

export interface BenchRow {
  readonly name: string;
  readonly kvforgeMs: number;
  readonly ortMs: number | null;
  /** What ORT computes in that row, when it is not the same variant. */
  readonly ortNote?: string;
  readonly referenceMs: number | null;
  /** ORT time / kvforge time: above 1, kvforge is faster. */
  readonly speedupVsOrt: number | null;
  readonly tilesSkipped: number;
  readonly limit: 'fma' | 'dram';
  readonly limitMs: number;
  /** limitMs / kvforgeMs: the share of this machine's limit reached. */
  readonly limitShare: number;
}

export interface BenchReport {
  readonly threads: number;
  readonly fmaGflops: number;
  readonly readGBs: number;
  /** The last-level cache the decode rows rotate past and the read probe's buffer exceeds. */
  readonly llc: LastLevelCache;
  readonly rows: BenchRow[];
  /** Decode over KV caches through the TS API, append, per-call overhead, chunked prefill. */
  readonly cache: CacheBenchReport;
}

interface Case {
  readonly name: string;
  readonly kernel: string;
  readonly Lq: number;
  readonly Lk: number;
  readonly window?: number;
  /** ORT has no variant of its own for it: it runs causal, said so in the row. */
  readonly ortNote?: string;
  readonly reference: boolean;
  /** Rotate through distinct K/V inputs past the last-level cache, so decode reads DRAM. */
  readonly rotate?: boolean;
}

const CASES: Case[] = [
  { name: 'causal prefill L=1024', kernel: 'causalAttention', Lq: 1024, Lk: 1024, reference: true },
  { name: 'causal prefill L=4096', kernel: 'causalAttention', Lq: 4096, Lk: 4096, reference: false },
  { name: 'window 256 prefill L=4096', kernel: 'window256', Lq: 4096, Lk: 4096, window: 256, reference: false },
  { name: 'noDiagonal prefill L=1024', kernel: 'noDiagonalAttention', Lq: 1024, Lk: 1024, ortNote: 'ORT runs causal (it has no noDiagonal)', reference: true },
  { name: 'decode Lq=1 Lk=4096', kernel: 'causalAttention', Lq: 1, Lk: 4096, reference: true, rotate: true },
];

const QUICK = new Set(['causal prefill L=1024', 'window 256 prefill L=4096', 'decode Lq=1 Lk=4096']);

/** Admissible (query, key) pairs of a kernel's mask at default positions: the useful work. */
function admissiblePairs(k: CompiledAttention, Lq: number, Lk: number): number {
  const admits = unitVariant(k.unit).admits;
  if (!admits) return Lq * Lk;
  let n = 0;
  for (let i = 0; i < Lq; i++) for (let j = 0; j < Lk; j++) if (admits(0, 0, Lk - Lq + i, j)) n++;
  return n;
}

export async function runBench(shipped: Shipped, o: BenchOptions, log: (s: string) => void = () => {}): Promise<BenchReport> {
  const native = loadAddon(shipped.addon.path);
  // Before any case: a missing peer is a KVF4009 now, not after minutes of measuring.
  const peer = await loadOrtPeer();
  const llc = lastLevelCache();
  const measured: Array<{ c: Case; kernel: CompiledAttention; m: Measured }> = [];
  for (const c of CASES) {
    if (o.quick && !QUICK.has(c.name)) continue;
    const kernel = shipped.kernels.get(c.kernel);
    if (!kernel) throw new Error(`bench: configs/ has no export '${c.kernel}'`);
    log(`${c.name}...`);
    measured.push({ c, kernel, m: await measureCase(kernel, c, o, peer, llc) });
  }
  // The limits are probed after the cases, in the same run: probing first (a 256 MiB buffer, every
  // core busy) was seen to slow the first case that followed.
  log(`measuring this machine's limits on ${o.threads} threads...`);
  const fmaGflops = await native.probeFma(o.threads, 0.5);
  const readGBs = await native.probeRead(o.threads, probeBytes(llc), 0.5);
  const rows = measured.map(({ c, kernel, m }) => toRow(kernel, c, m, fmaGflops, readGBs));
  const causal = shipped.kernels.get('causalAttention');
  if (!causal) throw new Error("bench: configs/ has no export 'causalAttention'");
  log('KV cache section...');
  // The bandwidth the cache rows are judged by is probed again right after them.
  // Its rows' shares divide by DRAM probes taken between their samples, over one buffer.
  const dram = openDramProbe(native, o.threads, probeBytes(llc));
  let cache: CacheBenchReport;
  try {
    cache = await runCacheBench(causal, { ...o, llc }, dram, peer, log);
  } finally {
    dram.dispose();
  }
  return { threads: o.threads, fmaGflops, readGBs, llc, rows, cache };
}

interface Measured {
  readonly kvforgeMs: number;
  readonly ortMs: number | null;
  readonly referenceMs: number | null;
}

async function measureCase(kernel: CompiledAttention, c: Case, o: BenchOptions, peer: OrtPeer, llc: LastLevelCache): Promise<Measured> {
  const { heads, headDim: D, valueDim: Dv } = kernel.unit;
  const B = 1;
  const cacheBytes = B * heads.kv * c.Lk * (D + Dv) * 4;
  const sets = c.rotate ? Math.ceil(rotationBytes(llc) / cacheBytes) + 1 : 1;
  const inputs = Array.from({ length: sets }, (_, i) => ({
    B, Lq: c.Lq, Lk: c.Lk,
    q: randomFloats(B * heads.q * c.Lq * D, 100 + 3 * i),
    k: randomFloats(B * heads.kv * c.Lk * D, 101 + 3 * i),
    v: randomFloats(B * heads.kv * c.Lk * Dv, 102 + 3 * i),
  }));
  let ort: OrtGqaRunner | null = null;
  if (D === Dv && D % 8 === 0) {
    ort = await peer.createOrtGqa({ B, Hq: heads.q, Hkv: heads.kv, D, Lq: c.Lq, Lk: c.Lk, window: c.window, threads: o.threads });
    ort.prepare(inputs);
  }
  let ki = 0;
  let oi = 0;
  // Decode steps are short: time a batch of calls per sample so timer resolution does not matter.
  const inner = c.Lq === 1 ? 16 : 1;
  const cases = [{
    name: 'kvforge',
    run: async () => { for (let r = 0; r < inner; r++) await kernel.run(inputs[ki++ % sets]!, { threads: o.threads }); },
  }];
  if (ort) {
    const runner = ort;
    cases.push({ name: 'ort', run: async () => { for (let r = 0; r < inner; r++) await runner.runPrepared(oi++); } });
  }
  const samples = await interleave(cases, { warmup: 2, reps: o.reps });
  await ort?.release();
  const kvforgeMs = median(samples.get('kvforge')!) / inner;
  const ortMs = ort ? median(samples.get('ort')!) / inner : null;
  let referenceMs: number | null = null;
  if (c.reference && !(o.quick && c.Lq > 1)) {
    const t0 = performance.now();
    kernelReference(kernel, inputs[0]!);
    referenceMs = performance.now() - t0;
  }
  return { kvforgeMs, ortMs, referenceMs };
}

function toRow(kernel: CompiledAttention, c: Case, m: Measured, fmaGflops: number, readGBs: number): BenchRow {
  const { heads, headDim: D, valueDim: Dv } = kernel.unit;
  const B = 1;
  const cacheBytes = B * heads.kv * c.Lk * (D + Dv) * 4;
  const { kvforgeMs, ortMs, referenceMs } = m;
  const tilesSkipped = skippedFraction(kernel.tileMap({ B, Lq: c.Lq, Lk: c.Lk }));
  let limit: 'fma' | 'dram';
  let limitMs: number;
  if (c.Lq === 1) {
    limit = 'dram';
    limitMs = (cacheBytes / (readGBs * 1e9)) * 1e3;
  } else {
    limit = 'fma';
    const flops = 2 * (D + Dv) * heads.q * B * admissiblePairs(kernel, c.Lq, c.Lk);
    limitMs = (flops / (fmaGflops * 1e9)) * 1e3;
  }
  return {
    name: c.name, kvforgeMs, ortMs, ortNote: c.ortNote, referenceMs,
    speedupVsOrt: ortMs === null ? null : ortMs / kvforgeMs,
    tilesSkipped, limit, limitMs, limitShare: limitMs / kvforgeMs,
  };
}

/** The report as a fixed-width table. */
export function formatBench(r: BenchReport): string {
  const f = (x: number | null, d = 2) => (x === null ? '—' : x.toFixed(d));
  const lines = [
    `threads ${r.threads}; limits measured in this run: FMA ${r.fmaGflops.toFixed(0)} GFLOP/s, DRAM read ${r.readGBs.toFixed(1)} GB/s; last-level cache ${(r.llc.bytes / 2 ** 20).toFixed(0)} MiB (${r.llc.source}), decode inputs rotate over ${(rotationBytes(r.llc) / 2 ** 20).toFixed(0)} MiB`,
    `B=1 Hq=32 Hkv=4 D=64 f32; medians in ms; "vs ORT" = ORT time / kvforge time`,
    '',
    `${'case'.padEnd(28)} ${'kvforge'.padStart(9)} ${'ORT GQA'.padStart(9)} ${'vs ORT'.padStart(7)} ${'TS ref'.padStart(9)} ${'skipped'.padStart(8)} ${'limit'.padStart(12)} ${'of limit'.padStart(9)}`,
  ];
  for (const row of r.rows) {
    lines.push([
      row.name.padEnd(28), f(row.kvforgeMs).padStart(9), f(row.ortMs).padStart(9),
      (row.speedupVsOrt === null ? '—' : `${row.speedupVsOrt.toFixed(2)}x`).padStart(7),
      f(row.referenceMs, 0).padStart(9), `${(row.tilesSkipped * 100).toFixed(1)}%`.padStart(8),
      `${row.limitMs.toFixed(2)} ${row.limit}`.padStart(12), `${(row.limitShare * 100).toFixed(0)}%`.padStart(9),
    ].join(' ') + (row.ortNote ? `  (${row.ortNote})` : ''));
  }
  return `${lines.join('\n')}\n${formatCacheBench(r.cache)}`;
}
