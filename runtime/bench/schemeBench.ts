/**
 * `kvforge bench-schemes`: the executor at the issue's fixed shape (12 layers, hidden 768, 12
 * query and 4 KV heads, head dim 64, MLP 2048, vocab 32000, seeded weights, bf16 caches) at
 * context 2048, for standard, LCKV, CLA-2 and YOCO, side by side in one run: KV bytes per token,
 * decode tokens/s at one equal batch, the largest batch whose KV fits one budget and tokens/s at
 * that batch, and the share of a decode step spent in attention calls (the rest is dense layers).
 * Caches are filled with 2047 synthetic tokens per sequence (a windowed cache with its last W),
 * so the first measured step appends token 2047. All schemes and batches are built first, then
 * timed side by side in rounds (one step of each per round), medians per column; "x std" is the
 * ratio to the standard scheme's median in the same run. Weights are bf16 (what a checkpoint
 * holds; a decode step streams every weight once, so they set the dense layers' floor).
 * MixAttention's pattern is given for 22 layers only (dsl/scheme/patterns.ts); at 12 layers the
 * benchmark runs its first 12 layers (two blocks of six: a full-attention layer whose KV the next
 * block's first layer reuses, sliding pairs and triples), window 1024, and says so.
 */
import { cla, layerTypes, lckv, scheme, standard, yoco, type KvPattern } from '../../dsl/index.ts';
import { maxBatch, memoryFigures, cachePlan } from '../../codegen/scheme/cachePlan.ts';
import os from 'node:os';
import { MAX_THREADS } from '../api/options.ts';
import { Executor, type ExecutorBatch } from '../model/executor.ts';
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { seededWeights } from '../model/weights.ts';
import { randomFloats } from '../verify/random.ts';
import { median } from './stats.ts';

export interface SchemeBenchRow {
  readonly scheme: string;
  readonly kvBytesPerToken: number;
  readonly tokensPerSecond: number;
  readonly maxBatch: number;
  readonly tokensPerSecondAtMax: number;
  readonly attentionShare: number;
  readonly attentionShareAtMax: number;
  /** Weights a decode step streams over the time it spends outside attention at the equal batch, GB/s. */
  readonly denseGBs: number;
  /** The machine's streaming read bandwidth, measured right after the timed rounds, GB/s. */
  readonly machineGBs: number;
}

/** MixAttention (pairs): the first 12 layers of LCKV's 22-layer string. */
export const MIX_ATTENTION_12 = '0_1s_1s_3s_3s_3s_0_7s_7s_9s_9s_9s';

const LAYERS = 12, CONTEXT = 2048;
const shape = { layers: LAYERS, heads: { q: 12, kv: 4 }, headDim: 64, dtype: 'bf16' } as const;
const model = { hiddenSize: 768, intermediateSize: 2048, vocabSize: 32000, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false };

/** One batch of one scheme, filled to the context, and its timed steps. */
interface Timed {
  readonly B: number;
  readonly batch: ExecutorBatch;
  readonly times: number[];
  readonly attention: number[];
}

export async function runSchemeBench(o: { batch: number; budgetMiB: number; steps: number; threads?: number }, say: (s: string) => void): Promise<SchemeBenchRow[]> {
  const patterns: Array<[string, KvPattern, number]> = [['standard', standard(), 4096], ['LCKV (warmup 2)', lckv({ warmup: 2 }), 4096], ['CLA-2', cla(2), 4096],
    ['YOCO', yoco(), 1024], ['MixAttention*', layerTypes(MIX_ATTENTION_12), 1024]];
  const cases: { name: string; s: SchemeSpec; ex: Executor; eq: Timed; max: Timed | undefined; big: number }[] = [];
  const fill = (s: SchemeSpec, ex: Executor, B: number): Timed => {
    const batch = ex.newBatch(B);
    for (const e of cachePlan(s)) {
      // Room for every timed step up front: a capacity doubling inside a timed step would copy the cache.
      batch.caches[e.owner]!.grow(CONTEXT + o.steps + 1);
      const keep = e.retention.kind === 'full' ? CONTEXT - 1 : Math.min(CONTEXT - 1, e.retention.window);
      const rowsN = B * keep, row = s.heads.kv * s.headDim;
      const positions = Int32Array.from({ length: rowsN }, (_, i) => CONTEXT - 1 - keep + (i % keep));
      batch.caches[e.owner]!.appendBatch(new Array(B).fill(keep), { k: randomFloats(rowsN * row, e.owner + 1, 0.5), v: randomFloats(rowsN * row, e.owner + 2), positions });
    }
    batch.lengths.fill(CONTEXT - 1);
    return { B, batch, times: [], attention: [] };
  };
  const step = (ex: Executor, t: Timed, record: boolean) => {
    const a0 = ex.profile.attentionMs, t0 = performance.now();
    ex.step(t.batch, new Array(t.B).fill(7));
    if (record) t.times.push(performance.now() - t0), t.attention.push(ex.profile.attentionMs - a0);
  };
  try {
    for (const [name, kv, window] of patterns) {
      const s = scheme({ ...shape, kv, window });
      say(`${name}: compiling, packing weights, filling caches...`);
      const ex = await Executor.create(seededWeights(s, model, 0), { threads: o.threads, weightDType: 'bf16' });
      const big = maxBatch(s, CONTEXT, o.budgetMiB * 2 ** 20);
      cases.push({ name, s, ex, eq: fill(s, ex, o.batch), max: big > 0 ? fill(s, ex, big) : undefined, big });
    }
    // Side by side: every round steps every scheme once at each batch, so load from other work on
    // a shared machine falls on all of them alike; the first round warms up.
    say(`${o.steps} rounds of one step per scheme and batch...`);
    for (let r = 0; r <= o.steps; r++) {
      for (const c of cases) {
        step(c.ex, c.eq, r > 0);
        if (c.max) step(c.ex, c.max, r > 0);
      }
    }
    const machineGBs = await cases[0]!.ex.addon.probeRead(o.threads ?? Math.min(os.availableParallelism(), MAX_THREADS), 256 * 2 ** 20, 0.3);
    return cases.map((c) => {
      const eqMs = median(c.eq.times), eqShare = median(c.eq.attention.map((a, i) => a / c.eq.times[i]!));
      const maxMs = c.max ? median(c.max.times) : NaN;
      return {
        scheme: c.name, kvBytesPerToken: memoryFigures(c.s, CONTEXT).bytesPerToken, tokensPerSecond: o.batch / (eqMs / 1000), maxBatch: c.big,
        tokensPerSecondAtMax: c.max ? c.max.B / (maxMs / 1000) : 0, attentionShare: eqShare,
        attentionShareAtMax: c.max ? median(c.max.attention.map((a, i) => a / c.max!.times[i]!)) : NaN,
        denseGBs: c.ex.dense.weightBytes / (eqMs * (1 - eqShare) * 1e6), machineGBs,
      };
    });
  } finally {
    for (const c of cases) {
      c.ex.disposeBatch(c.eq.batch);
      if (c.max) c.ex.disposeBatch(c.max.batch);
      c.ex.dispose();
    }
  }
}

export function formatSchemeBench(rows: readonly SchemeBenchRow[], o: { batch: number; budgetMiB: number }): string {
  const lines = [
    `executor, ${LAYERS} layers, hidden 768, heads 12/4, D 64, MLP 2048, vocab 32000, bf16 weights and caches, context ${CONTEXT}, native decode step`,
    `scheme             KV B/token   tok/s @B=${o.batch} (x std)   attention   dense GB/s (read probe)   max batch in ${o.budgetMiB} MiB   tok/s @max (x std)   attention @max`,
  ];
  const std = rows.find((r) => r.scheme === 'standard');
  const x = (v: number, base: number | undefined) => (base ? `(${(v / base).toFixed(2)})` : '');
  const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');
  for (const r of rows) {
    lines.push(`${r.scheme.padEnd(18)} ${r.kvBytesPerToken.toFixed(0).padStart(10)}   ${`${r.tokensPerSecond.toFixed(1)} ${x(r.tokensPerSecond, std?.tokensPerSecond)}`.padStart(18)}   ${pct(r.attentionShare).padStart(9)}   ${`${r.denseGBs.toFixed(1)} (${r.machineGBs.toFixed(1)})`.padStart(23)}   ${String(r.maxBatch).padStart(17)}   ${`${r.tokensPerSecondAtMax.toFixed(1)} ${x(r.tokensPerSecondAtMax, std?.tokensPerSecondAtMax)}`.padStart(18)}   ${pct(r.attentionShareAtMax).padStart(14)}`);
  }
  lines.push(`* MixAttention (pairs) is given for 22 layers only; this row runs its first 12 layers, ${MIX_ATTENTION_12}, window 1024`);
  lines.push('attention: share of a decode step in attention calls (the rest: embedding, dense layers, cache appends, LM head)');
  lines.push('dense GB/s: bf16 weights a step streams (every weight once) over the step time outside attention; read probe: the machine\'s streaming read in the same run');
  return lines.join('\n');
}
