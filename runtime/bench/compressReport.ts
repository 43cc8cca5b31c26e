/**
 * The memory and quality trade-off of a cache policy on a scheme (issue 9 part 6): for each budget
 * of a sweep, the executor decodes the same tokens under the policy and with full caches, and the
 * report gives the KV bytes the caches hold against the full ones, the error the policy brings in
 * and the agreement of greedy tokens.
 *
 * Method (one process, same weights and prompt for every row):
 * - the full-cache run prefills a seeded prompt and decodes `steps` greedy tokens; those tokens
 *   are then fed to every policy run too (teacher forcing), so each step's error is what the
 *   compressed caches change at that step, not a drift after a first different token;
 * - KV bytes: the K/V slots the caches hold after the last step (all caches, all KV heads, the
 *   cache dtype) against the full run's; slot statistics (count, mass, bias: 12 bytes per slot
 *   and head) are reported apart;
 * - attention error: per step and layer, ||a - a_full|| / ||a_full|| of the layer's attention
 *   output (all query heads), mean and max over steps and layers;
 * - logits error: max |logit - logit_full| per step, mean and max over steps; top-1: the fraction
 *   of steps whose argmax equals the full run's.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { scheme } from '../../dsl/scheme/scheme.ts';
import type { ModelShape } from '../../dsl/scheme/modelShape.ts';
import { adaptiveCache, pyramidCache, sinkCache, slidingCache, type CachePolicySpec, type Pooling } from '../../dsl/policy/policy.ts';
import { Executor, type ExecutorBatch } from '../model/executor.ts';
import { argmax } from '../model/greedy.ts';
import { seededWeights, type ModelWeights } from '../model/weights.ts';
import { rng } from '../verify/random.ts';
import { plotPng } from './plot.ts';

export type PolicyFamily = 'pyramid' | 'sinks' | 'sliding' | 'adaptive';

export interface CompressReportOptions {
  /** The scheme (its own policies are replaced by each row's). */
  readonly scheme: SchemeSpec;
  readonly family: PolicyFamily;
  /** pyramid: L0; sinks: windowLength; sliding: window; adaptive: T. */
  readonly budgets: readonly number[];
  /** Loaded weights of `scheme`; else seeded ones of `model`. */
  readonly weights?: ModelWeights;
  readonly model?: ModelShape;
  readonly prompt: number;
  readonly steps: number;
  readonly seed: number;
  readonly sinks?: number;
  readonly beta?: number;
  readonly pooling?: Pooling;
  readonly threads?: number;
}

export interface CompressRow {
  readonly policy: string;
  readonly budget: number;
  readonly kvBytes: number;
  readonly fullKvBytes: number;
  readonly statsBytes: number;
  readonly attentionErrorMean: number;
  readonly attentionErrorMax: number;
  readonly logitErrorMean: number;
  readonly logitErrorMax: number;
  readonly top1: number;
}

export const DEFAULT_REPORT_MODEL: ModelShape = { hiddenSize: 256, intermediateSize: 512, vocabSize: 1000, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false };

/** The policy of one row. */
export function policyOf(o: Pick<CompressReportOptions, 'family' | 'sinks' | 'beta' | 'pooling'>, budget: number): CachePolicySpec {
  const sinks = o.sinks ?? 4;
  switch (o.family) {
    case 'pyramid': return pyramidCache({ L0: budget, beta: o.beta ?? 2, sinks, pooling: o.pooling ?? 'mean' });
    case 'sinks': return sinkCache({ sinks, windowLength: budget });
    case 'sliding': return slidingCache({ window: budget });
    case 'adaptive': return adaptiveCache({ T: budget });
  }
}

function describe(p: CachePolicySpec): string {
  switch (p.kind) {
    case 'pyramid': return `pyramid L0=${p.budget.kind === 'pyramid' ? p.budget.L0 : '-'} beta=${p.budget.kind === 'pyramid' ? p.budget.beta : '-'} sinks=${p.sinks} ${p.pooling}`;
    case 'sinks': return `sinks ${p.sinks} + window ${p.windowLength}`;
    case 'sliding': return `sliding ${p.window}`;
    case 'adaptive': return `adaptive T=${p.T}`;
    case 'full': return 'full';
  }
}

/**
 * The scheme with `policy` on every cache that can take one (its own shape, table and overrides):
 * not on a cache all of whose readers slide (it keeps their window already), nor on one a layer
 * reads together with another cache (KVF2009 there). KVF2012 when no cache can take it.
 */
export function withPolicy(s: SchemeSpec, policy: CachePolicySpec | undefined): SchemeSpec {
  let list: (CachePolicySpec | null)[] | undefined;
  if (policy) {
    const linked = new Set(s.table.flatMap((l) => (l.keysFrom !== l.valuesFrom ? [l.keysFrom, l.valuesFrom] : [])));
    list = s.table.map((_, i) => {
      const readers = s.table.filter((l) => l.keysFrom === i || l.valuesFrom === i);
      return readers.length > 0 && readers.some((l) => !l.sliding) && !linked.has(i) ? policy : null;
    });
    if (list.every((p) => p === null)) {
      throw new KvforgeError('KVF2012', `scheme '${s.name}': no cache can take a policy (each is read only by sliding layers, or together with another cache)`);
    }
  }
  return scheme({
    name: s.name, layers: s.layers, heads: s.heads, headDim: s.headDim, valueDim: s.valueDim,
    kv: s.table.map((l) => ({ keysFrom: l.keysFrom, valuesFrom: l.valuesFrom, sliding: l.sliding, ...(l.window !== undefined ? { window: l.window } : {}) })),
    window: s.window, forceNoDiagonal: s.forceNoDiagonal, iterations: s.iterations, decode: s.decode, dtype: s.dtype,
    attention: { score: s.attention.score, mask: s.attention.mask, scale: s.attention.scale },
    ...(list ? { policy: list } : {}),
  });
}

interface Run { logits: Float32Array[]; attention: Float32Array[]; kvBytes: number; statsBytes: number; tokens: number[] }

/** Prefill `prompt`, then one step per token of `feed` (or greedy tokens when absent). */
async function decodeRun(ex: Executor, prompt: readonly number[], steps: number, feed?: readonly number[]): Promise<Run> {
  const b: ExecutorBatch = ex.newBatch(1);
  try {
    const V = ex.w.model.vocabSize, s = ex.scheme;
    const pre = await ex.prefill(b, [prompt]);
    let next = argmax(pre, (prompt.length - 1) * V, V);
    const run: Run = { logits: [], attention: [], kvBytes: 0, statsBytes: 0, tokens: [] };
    for (let i = 0; i < steps; i++) {
      const tok = feed ? feed[i]! : next;
      run.tokens.push(tok);
      const attention = new Float32Array(s.layers * s.heads.q * s.valueDim);
      const logits = ex.step(b, [tok], { attention });
      run.logits.push(logits), run.attention.push(attention);
      next = argmax(logits, 0, V);
    }
    for (const c of b.caches) {
      if (!c) continue;
      const held = c.lengths().reduce((a, n) => a + n, 0);
      run.kvBytes += held * c.bytesPerSlot;
      if (c.hasStats) run.statsBytes += held * 12;
    }
    return run;
  } finally {
    ex.disposeBatch(b);
  }
}

export async function runCompressReport(o: CompressReportOptions, log: (s: string) => void = () => {}): Promise<CompressRow[]> {
  const base = withPolicy(o.scheme, undefined);
  const w0 = o.weights ?? seededWeights(base, o.model ?? DEFAULT_REPORT_MODEL, o.seed);
  const w = { ...w0, scheme: base };
  const V = w.model.vocabSize;
  const r = rng(o.seed + 1);
  const prompt = Array.from({ length: o.prompt }, () => Math.floor(r() * V));
  log(`compress-report: ${base.name}, ${base.layers} layers, prompt ${o.prompt}, ${o.steps} decode steps, ${o.family} sweep ${o.budgets.join(', ')}`);
  const ex = await Executor.create(w, { threads: o.threads, cacheDType: base.dtype });
  try {
    const full = await decodeRun(ex, prompt, o.steps);
    const rows: CompressRow[] = [];
    for (const budget of o.budgets) {
      const policy = policyOf(o, budget);
      log(`  ${describe(policy)}...`);
      const px = ex.withWeights({ ...w, scheme: withPolicy(base, policy) });
      try {
        const run = await decodeRun(px, prompt, o.steps, full.tokens);
        rows.push(compareRuns(describe(policy), budget, run, full, base, V));
      } finally {
        px.dispose();
      }
    }
    return rows;
  } finally {
    ex.dispose();
  }
}

function compareRuns(policy: string, budget: number, run: Run, full: Run, s: SchemeSpec, V: number): CompressRow {
  const per = s.heads.q * s.valueDim;
  const attn: number[] = [], logit: number[] = [];
  let agree = 0;
  run.logits.forEach((lg, i) => {
    const f = full.logits[i]!;
    let m = 0;
    for (let j = 0; j < V; j++) m = Math.max(m, Math.abs(lg[j]! - f[j]!));
    logit.push(m);
    if (argmax(lg, 0, V) === argmax(f, 0, V)) agree++;
    for (let l = 0; l < s.layers; l++) {
      let num = 0, den = 0;
      for (let j = l * per; j < (l + 1) * per; j++) {
        const d = run.attention[i]![j]! - full.attention[i]![j]!;
        num += d * d, den += full.attention[i]![j]! ** 2;
      }
      attn.push(den > 0 ? Math.sqrt(num / den) : Math.sqrt(num));
    }
  });
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : 0);
  return {
    policy, budget, kvBytes: run.kvBytes, fullKvBytes: full.kvBytes, statsBytes: run.statsBytes,
    attentionErrorMean: mean(attn), attentionErrorMax: Math.max(0, ...attn),
    logitErrorMean: mean(logit), logitErrorMax: Math.max(0, ...logit), top1: run.logits.length ? agree / run.logits.length : 1,
  };
}

export function formatCompressReport(rows: readonly CompressRow[]): string {
  const head = 'policy                                   KV bytes   of full  saved  +stats    attn err mean/max   logit err mean/max   top-1';
  const lines = rows.map((r) => {
    const frac = r.fullKvBytes ? r.kvBytes / r.fullKvBytes : 1;
    return `${r.policy.padEnd(38)} ${String(r.kvBytes).padStart(10)} ${(100 * frac).toFixed(1).padStart(8)}% ${(100 * (1 - frac)).toFixed(1).padStart(5)}% ${String(r.statsBytes).padStart(7)}   ${r.attentionErrorMean.toExponential(2)} / ${r.attentionErrorMax.toExponential(2)}   ${r.logitErrorMean.toExponential(2)} / ${r.logitErrorMax.toExponential(2)}   ${(100 * r.top1).toFixed(1).padStart(5)}%`;
  });
  return [head, ...lines].join('\n');
}

/** Colours of the report plot's series (what a test looks for in the PNG). */
export const REPORT_COLORS = { attention: '#1f77b4', top1: '#d62728' } as const;

/** The trade-off as a PNG: per row, KV bytes as % of full against attention error and 1 - top-1. */
export function compressReportPng(rows: readonly CompressRow[], title: string): Buffer {
  const x = (r: CompressRow) => (r.fullKvBytes ? (100 * r.kvBytes) / r.fullKvBytes : 100);
  return plotPng({
    title, xLabel: 'KV bytes held, % of the full cache', yLabel: 'error',
    series: [
      { name: 'attention error (mean)', color: REPORT_COLORS.attention, points: rows.map((r) => ({ x: x(r), y: r.attentionErrorMean, label: String(r.budget) })) },
      { name: '1 - top-1 agreement', color: REPORT_COLORS.top1, points: rows.map((r) => ({ x: x(r), y: 1 - r.top1 })) },
    ],
  });
}
