/**
 * `kvforge bench-policies`: what cache policies cost and save (issue 9's benchmark), figures
 * printed, measured side by side in one run.
 *
 * 1. The attention-mass output against plain attention (kernel interface v3): decodeSync and a
 *    1024-row prefill over the same K/V, from a cache without slot statistics and from one whose
 *    every call adds the mass to its slots, interleaved round by round; medians and their ratio.
 * 2. Decode on the executor under each policy at two contexts: the prompt is prefilled (its
 *    compression timed apart), then `steps` decode steps; the median step time (compression after
 *    each step included), the median compression time per step (one token per step), and the KV bytes held, against
 *    the full cache at the same context.
 */
import os from 'node:os';
import { scheme } from '../../dsl/scheme/scheme.ts';
import { causal } from '../../dsl/builtins.ts';
import { defineAttention } from '../../dsl/attention.ts';
import { adaptiveCache, fullCache, pyramidCache, sinkCache, type CachePolicySpec } from '../../dsl/policy/policy.ts';
import { compile, type CompileOptions } from '../api/compile.ts';
import type { CompiledAttention } from '../api/kernels.ts';
import type { CacheDType, KvCache } from '../cache/kvCache.ts';
import { Executor } from '../model/executor.ts';
import { seededWeights } from '../model/weights.ts';
import { randomFloats, rng } from '../verify/random.ts';
import { withPolicy } from './compressReport.ts';
import { interleave, median } from './stats.ts';

export interface PolicyBenchOptions {
  readonly contexts: readonly number[];
  readonly steps: number;
  readonly threads: number;
  readonly reps: number;
  readonly compile?: CompileOptions;
}

export interface MassCostRow { readonly name: string; readonly plainMs: number; readonly massMs: number }
export interface PolicyDecodeRow {
  readonly context: number;
  readonly policy: string;
  readonly stepMs: number;
  /** Median over the steps of the compression after each (one token per step), microseconds. */
  readonly compressUsPerToken: number;
  readonly promptCompressMs: number;
  readonly kvBytes: number;
  readonly fullKvBytes: number;
}
export interface PolicyBenchReport { readonly threads: number; readonly mass: readonly MassCostRow[]; readonly decode: readonly PolicyDecodeRow[] }

const L = 4096, Hq = 32, Hkv = 4, D = 64;

function filled(k: CompiledAttention, dtype: CacheDType, B: number, mass: boolean, seed: number): KvCache {
  const c = k.createCache({ batch: B, capacity: L, dtype, ...(mass ? { slotStats: { mass: true } } : {}) });
  const positions = new Int32Array(B * L);
  for (let b = 0; b < B; b++) for (let i = 0; i < L; i++) positions[b * L + i] = i;
  c.appendBatch(new Array(B).fill(L), { k: randomFloats(B * L * Hkv * D, seed), v: randomFloats(B * L * Hkv * D, seed + 1), positions });
  return c;
}

async function massCost(k: CompiledAttention, o: PolicyBenchOptions): Promise<MassCostRow[]> {
  const rows: MassCostRow[] = [];
  for (const [dtype, B] of [['f32', 1], ['bf16', 1], ['f32', 16]] as const) {
    const plain = filled(k, dtype, B, false, 5), massed = filled(k, dtype, B, true, 5);
    const q = randomFloats(B * Hq * D, 9), out = new Float32Array(B * Hq * D), lse = new Float32Array(B * Hq);
    const positions = new Int32Array(B).fill(L - 1);
    const inner = B === 1 ? 16 : 2, threads = { threads: o.threads };
    const s = await interleave([
      { name: 'plain', run: async () => { for (let r = 0; r < inner; r++) k.decodeSync(plain, { q, positions, out, lse }, threads); } },
      { name: 'mass', run: async () => { for (let r = 0; r < inner; r++) k.decodeSync(massed, { q, positions, out, lse }, threads); } },
    ], { warmup: 2, reps: o.reps });
    rows.push({ name: `decode B=${B} ${dtype} Lk=${L}`, plainMs: median(s.get('plain')!) / inner, massMs: median(s.get('mass')!) / inner });
    plain.dispose(), massed.dispose();
  }
  // Prefill of a 1024-token chunk over a cache holding it (causal), with and without the mass.
  const n = 1024;
  const chunkCache = (mass: boolean) => {
    const c = k.createCache({ batch: 1, capacity: n, ...(mass ? { slotStats: { mass: true } } : {}) });
    c.append(0, { k: randomFloats(n * Hkv * D, 3), v: randomFloats(n * Hkv * D, 4), positions: Int32Array.from({ length: n }, (_, i) => i) });
    return c;
  };
  const a = chunkCache(false), b = chunkCache(true);
  const x = { q: randomFloats(n * Hq * D, 6), positions: Int32Array.from({ length: n }, (_, i) => i), counts: [n] };
  const s = await interleave([
    { name: 'plain', run: async () => { await k.prefill(a, x, { threads: o.threads }); } },
    { name: 'mass', run: async () => { await k.prefill(b, x, { threads: o.threads }); } },
  ], { warmup: 1, reps: Math.max(5, Math.ceil(o.reps / 2)) });
  rows.push({ name: `prefill ${n} rows f32 causal`, plainMs: median(s.get('plain')!), massMs: median(s.get('mass')!) });
  a.dispose(), b.dispose();
  return rows;
}

/** The policies of the decode rows (budgets sized for the contexts measured). */
function benchPolicies(): [string, CachePolicySpec | undefined][] {
  return [
    ['full cache', undefined],
    ['sinks 4 + window 1024', sinkCache({ sinks: 4, windowLength: 1024 })],
    ['pyramid L0=1024 beta=2 mean', pyramidCache({ L0: 1024, beta: 2, sinks: 4, pooling: 'mean' })],
    ['pyramid L0=1024 beta=2 best (mass)', pyramidCache({ L0: 1024, beta: 2, sinks: 4, pooling: 'best', countBias: true })],
    ['adaptive T=0.95 (mass rule)', adaptiveCache({ T: 0.95, rF: 0.3, rL: 0.3, special: [1], punctuation: [13] })],
  ];
}

async function policyDecode(o: PolicyBenchOptions, log: (s: string) => void): Promise<PolicyDecodeRow[]> {
  const base = scheme({ layers: 4, heads: { q: 8, kv: 2 }, headDim: 64, dtype: 'bf16', name: 'bench4' });
  const model = { hiddenSize: 512, intermediateSize: 1024, vocabSize: 1000, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false };
  const w = seededWeights(base, model, 0);
  const ex = await Executor.create(w, { threads: o.threads, compile: o.compile });
  const rows: PolicyDecodeRow[] = [];
  try {
    for (const context of o.contexts) {
      const r = rng(context);
      const prompt = Array.from({ length: context - o.steps }, () => Math.floor(r() * model.vocabSize));
      let fullBytes = 0;
      for (const [name, policy] of benchPolicies()) {
        log(`  context ${context}: ${name}...`);
        const px = policy ? ex.withWeights({ ...w, scheme: withPolicy(base, policy) }) : ex;
        const b = px.newBatch(1);
        try {
          px.profile.compressMs = 0;
          await px.prefill(b, [prompt]);
          const promptCompressMs = px.profile.compressMs;
          px.profile.compressMs = 0;
          const times: number[] = [], compressUs: number[] = [];
          for (let i = 0; i < o.steps; i++) {
            const t0 = performance.now(), c0 = px.profile.compressMs;
            px.step(b, [Math.floor(r() * model.vocabSize)]);
            times.push(performance.now() - t0);
            compressUs.push((px.profile.compressMs - c0) * 1e3);
          }
          const kvBytes = b.caches.reduce((a, c) => a + (c ? c.lengths().reduce((x, n) => x + n, 0) * c.bytesPerSlot : 0), 0);
          if (!policy) fullBytes = kvBytes;
          rows.push({ context, policy: name, stepMs: median(times), compressUsPerToken: median(compressUs), promptCompressMs, kvBytes, fullKvBytes: fullBytes });
        } finally {
          px.disposeBatch(b);
          if (px !== ex) px.dispose();
        }
      }
    }
  } finally {
    ex.dispose();
  }
  return rows;
}

export async function runPolicyBench(o: PolicyBenchOptions, log: (s: string) => void = () => {}): Promise<PolicyBenchReport> {
  log('attention-mass output against plain attention...');
  const [k] = await compile([defineAttention({ heads: { q: Hq, kv: Hkv }, headDim: D, mask: causal, name: 'benchCausal' })], o.compile);
  const mass = await massCost(k!, o);
  log('decode under cache policies...');
  const decode = await policyDecode(o, log);
  return { threads: o.threads, mass, decode };
}

export function formatPolicyBench(r: PolicyBenchReport): string {
  const lines = [`threads ${r.threads}; medians of interleaved samples`, '', 'attention-mass output (AttnArgs v3) against plain attention, Hq=32 Hkv=4 D=64',
    'case                              plain ms    mass ms   extra'];
  for (const m of r.mass) lines.push(`${m.name.padEnd(32)} ${m.plainMs.toFixed(3).padStart(9)} ${m.massMs.toFixed(3).padStart(10)} ${(100 * (m.massMs / m.plainMs - 1)).toFixed(1).padStart(6)}%`);
  lines.push('', 'executor decode under cache policies (4 layers, hidden 512, heads 8/2, D 64, bf16 caches, batch 1)',
    'context  policy                                step ms  compress us/token  prompt compress ms     KV bytes  of full');
  for (const d of r.decode) {
    lines.push(`${String(d.context).padStart(7)}  ${d.policy.padEnd(36)} ${d.stepMs.toFixed(3).padStart(9)} ${d.compressUsPerToken.toFixed(1).padStart(18)} ${d.promptCompressMs.toFixed(1).padStart(19)} ${String(d.kvBytes).padStart(12)} ${(100 * d.kvBytes / d.fullKvBytes).toFixed(1).padStart(7)}%`);
  }
  return lines.join('\n');
}

export const DEFAULT_POLICY_BENCH: PolicyBenchOptions = { contexts: [4096, 16384], steps: 16, threads: Math.min(os.availableParallelism(), 64), reps: 9 };
