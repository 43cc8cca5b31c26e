/**
 * `kvforge bench-schemes`: the executor at the fixed shape (12 layers, hidden 768, 12
 * query and 4 KV heads, head dim 64, MLP 2048, vocab 32000, seeded weights, bf16 caches) at
 * context 2048, for standard, LCKV, CLA-2 and YOCO, side by side in one run: KV bytes per token,
 * decode tokens/s at one equal batch, the largest batch whose KV fits one budget and tokens/s at
 * that batch, and the share of a decode step spent in attention calls (the rest is dense layers).
 * Caches are filled with 2047 synthetic tokens per sequence (a windowed cache with its last W),
 * so a measured step is the one that appends token 2047. MixAttention's pattern is given for 22
 * layers only (dsl/scheme/patterns.ts), so it is reported as not defined at 12.
 */
import { cla, lckv, scheme, standard, yoco, type KvPattern } from '../../dsl/index.ts';
import { maxBatch, memoryFigures, cachePlan } from '../../codegen/scheme/cachePlan.ts';
import { Executor } from '../model/executor.ts';
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
}

const LAYERS = 12, CONTEXT = 2048;
const shape = { layers: LAYERS, heads: { q: 12, kv: 4 }, headDim: 64, dtype: 'bf16' } as const;
const model = { hiddenSize: 768, intermediateSize: 2048, vocabSize: 32000, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false };

export async function runSchemeBench(o: { batch: number; budgetMiB: number; steps: number; threads?: number }, say: (s: string) => void): Promise<SchemeBenchRow[]> {
  const patterns: Array<[string, KvPattern]> = [['standard', standard()], ['LCKV (warmup 2)', lckv({ warmup: 2 })], ['CLA-2', cla(2)], ['YOCO', yoco()]];
  const rows: SchemeBenchRow[] = [];
  for (const [name, kv] of patterns) {
    const s = scheme({ ...shape, kv });
    say(`${name}: compiling, filling caches...`);
    const ex = await Executor.create(seededWeights(s, model, 0), { threads: o.threads });
    const measure = (B: number, steps: number) => {
      const batch = ex.newBatch(B);
      try {
        for (const e of cachePlan(s)) {
          const keep = e.retention.kind === 'full' ? CONTEXT - 1 : Math.min(CONTEXT - 1, e.retention.window);
          const rowsN = B * keep, row = s.heads.kv * s.headDim;
          const positions = Int32Array.from({ length: rowsN }, (_, i) => CONTEXT - 1 - keep + (i % keep));
          batch.caches[e.owner]!.appendBatch(new Array(B).fill(keep), { k: randomFloats(rowsN * row, e.owner + 1, 0.5), v: randomFloats(rowsN * row, e.owner + 2), positions });
        }
        batch.lengths.fill(CONTEXT - 1);
        ex.profile.stepMs = ex.profile.attentionMs = 0;
        const times: number[] = [];
        for (let i = 0; i < steps; i++) {
          const t0 = performance.now();
          ex.step(batch, new Array(B).fill(7));
          times.push(performance.now() - t0);
        }
        return { tps: B / (median(times) / 1000), share: ex.profile.attentionMs / ex.profile.stepMs };
      } finally {
        ex.disposeBatch(batch);
      }
    };
    const eq = measure(o.batch, o.steps);
    const big = maxBatch(s, CONTEXT, o.budgetMiB * 2 ** 20);
    say(`${name}: batch ${o.batch} ${eq.tps.toFixed(2)} tokens/s; largest batch ${big}...`);
    const atMax = big > 0 ? measure(big, 1) : { tps: 0, share: NaN };
    rows.push({ scheme: name, kvBytesPerToken: memoryFigures(s, CONTEXT).bytesPerToken, tokensPerSecond: eq.tps, maxBatch: big, tokensPerSecondAtMax: atMax.tps, attentionShare: eq.share });
  }
  return rows;
}

export function formatSchemeBench(rows: readonly SchemeBenchRow[], o: { batch: number; budgetMiB: number }): string {
  const lines = [
    `executor, ${LAYERS} layers, hidden 768, heads 12/4, D 64, MLP 2048, vocab 32000, bf16 caches, context ${CONTEXT} (dense layers in TypeScript)`,
    `scheme             KV B/token   tok/s @B=${o.batch}   max batch in ${o.budgetMiB} MiB   tok/s @max   attention share`,
  ];
  for (const r of rows) {
    lines.push(`${r.scheme.padEnd(18)} ${r.kvBytesPerToken.toFixed(0).padStart(10)}   ${r.tokensPerSecond.toFixed(2).padStart(10)}   ${String(r.maxBatch).padStart(17)}   ${r.tokensPerSecondAtMax.toFixed(2).padStart(10)}   ${(100 * r.attentionShare).toFixed(1).padStart(14)}%`);
  }
  lines.push('MixAttention: its pattern is given for 22 layers only, not defined at 12');
  return lines.join('\n');
}
