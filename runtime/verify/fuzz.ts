/**
 * Fuzz campaigns: a compiled kernel against the float64 reference on random shapes, positions
 * and data, with fast-check (fixed seed, shrinking, the seed in every failure). Shared by the
 * test suite and `kvforge fuzz`, so a user's own variants get exactly the checks kvforge's get.
 * The reference runs the spec's own functions where the kernel has its spec (compile()), and the
 * unit's IR for a shipped kernel (reference.ts, kernelReference).
 */
import fc from 'fast-check';
import type { CompiledAttention } from '../api/kernels.ts';
import { kernelReference, unitReferenceAttention } from './reference.ts';
import { publicParams } from '../api/runParams.ts';
import { randomFloats, rng } from './random.ts';
import { compareArrays, TOLERANCES } from './tolerance.ts';
import type { AttentionInputs } from '../api/inputs.ts';
import { roundInputs } from './dtype.ts';

/** One random call: shape, positions and a data seed (data is derived, so cases stay small to print). */
export interface FuzzCase {
  readonly B: number;
  readonly Lq: number;
  readonly Lk: number;
  /** 'default' bottom-right; 'shifted' contiguous from an offset; 'gaps' increasing with gaps; 'shuffled' any order. */
  readonly positions: 'default' | 'shifted' | 'gaps' | 'shuffled';
  readonly seed: number;
  /** Scale of q and k values: large scales make softmax peaky. */
  readonly scale: number;
  /**
   * Worker threads for this case (CPU decode splits the key axis by thread count); absent: the
   * campaign's. Cases recorded before this field existed replay unchanged.
   */
  readonly threads?: number;
  /**
   * Values of the kernel's run-time parameters, for a kernel that has no spec to take them from
   * (a shipped one: a scheme's windowed variant serves every window, so the campaign draws them).
   */
  readonly params?: Readonly<Record<string, number>>;
}

export interface FuzzLimits {
  readonly maxB: number;
  readonly maxLq: number;
  readonly maxLk: number;
  /**
   * Longest key axis of the long-decode case class (Lq <= 8, Lk beyond one split), 0 for none.
   * Decode splits the keys: on the CPU into chunks of whole 128-key tiles when there are fewer
   * (b, kv head) pairs than 2 x threads (runtime/native/include/kvforge/cpu/decode.hpp), on CUDA
   * into splits of 8 chunks of 32 keys (256 keys, cuda/decode.cuh). 1100 keys reach several
   * splits of several tiles on both.
   */
  readonly maxDecodeLk?: number;
}

export const DEFAULT_LIMITS: FuzzLimits = { maxB: 2, maxLq: 80, maxLk: 300, maxDecodeLk: 1100 };

/**
 * Decode cases every campaign runs first (when its limits allow long keys), so each run reaches
 * the split paths whatever the seed draws: one query row over 1025 keys on 3 threads (CPU: 9
 * tiles in chunks of 3; CUDA: 33 chunks in splits of 8 and a ragged last one), and 4 rows over
 * 513 keys on 8 threads with two batches.
 */
export const DECODE_SPLIT_EXAMPLES: readonly FuzzCase[] = [
  { B: 1, Lq: 1, Lk: 1025, positions: 'default', seed: 7, scale: 1, threads: 3 },
  { B: 2, Lq: 4, Lk: 513, positions: 'gaps', seed: 11, scale: 2, threads: 8 },
];

/** Key lengths just past a split boundary are where split arithmetic goes wrong. */
const SPLIT_EDGES = [256, 257, 384, 511, 512, 513, 640, 1024, 1025];

export function fuzzCaseArb(l: FuzzLimits = DEFAULT_LIMITS): fc.Arbitrary<FuzzCase> {
  const len = (max: number) => fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 2) },
    { weight: 6, arbitrary: fc.integer({ min: 1, max }) },
  );
  const common = {
    B: fc.integer({ min: 1, max: l.maxB }),
    positions: fc.constantFrom('default' as const, 'default' as const, 'shifted' as const, 'gaps' as const, 'shuffled' as const),
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
    scale: fc.constantFrom(0.5, 1, 2),
  };
  const general = fc.record({ ...common, Lq: len(l.maxLq), Lk: len(l.maxLk) });
  const maxDecodeLk = l.maxDecodeLk ?? 0;
  if (maxDecodeLk <= l.maxLk) return general;
  // Decode over a long key axis, with a thread count that changes how the CPU splits it.
  const decode = fc.record({
    ...common,
    Lq: fc.integer({ min: 1, max: 8 }),
    Lk: fc.oneof(fc.constantFrom(...SPLIT_EDGES.filter((e) => e <= maxDecodeLk)), fc.integer({ min: l.maxLk + 1, max: maxDecodeLk })),
    threads: fc.constantFrom(1, 2, 3, 8),
  });
  return fc.oneof({ weight: 5, arbitrary: general }, { weight: 1, arbitrary: decode });
}

/** Materialise a case's inputs for `kernel`'s shape. */
export function makeInputs(kernel: CompiledAttention, c: FuzzCase): AttentionInputs {
  const { heads, headDim: D, valueDim: Dv } = kernel.unit;
  const x: AttentionInputs = {
    B: c.B, Lq: c.Lq, Lk: c.Lk,
    q: randomFloats(c.B * heads.q * c.Lq * D, c.seed, c.scale),
    k: randomFloats(c.B * heads.kv * c.Lk * D, c.seed + 1, c.scale),
    v: randomFloats(c.B * heads.kv * c.Lk * Dv, c.seed + 2),
  };
  if (c.positions === 'default') return x;
  const r = rng(c.seed + 3);
  const offset = Math.floor(r() * 64);
  const make = (n: number): Int32Array => {
    const p = new Int32Array(n);
    let at = offset;
    for (let i = 0; i < n; i++) {
      p[i] = c.positions === 'shuffled' ? Math.floor(r() * (2 * n + 8)) - 4 : at;
      at += c.positions === 'gaps' ? 1 + Math.floor(r() * 3) : 1;
    }
    return p;
  };
  const kpos = make(c.Lk);
  // Query positions sit among the keys' positions, so every mask sees both sides of the diagonal.
  const qpos = Int32Array.from({ length: c.Lq }, () => (c.Lk ? kpos[Math.floor(r() * c.Lk)]! : 0) + Math.floor(r() * 3) - 1);
  return { ...x, qpos, kpos };
}

/** Run one case; throws with a description when the kernel and the reference disagree. */
export async function checkCase(kernel: CompiledAttention, c: FuzzCase, threads?: number): Promise<void> {
  const x = makeInputs(kernel, c);
  const dtype = kernel.unit.plan.dtype;
  const params = needsParams(kernel) ? c.params : undefined;
  const ref = params ? unitReferenceAttention(kernel.unit, roundInputs(x, dtype), params) : kernelReference(kernel, roundInputs(x, dtype));
  const got = await kernel.run(x, { threads: c.threads ?? threads, ...(params ? { params } : {}) });
  const tol = TOLERANCES[dtype];
  const o = compareArrays(got.out, ref.out, tol.out);
  const l = compareArrays(got.lse, ref.lse, tol.lse);
  if (!o.ok || !l.ok) {
    const what = !o.ok ? `out[${o.first!.index}] = ${o.first!.got}, reference ${o.first!.expected}` : `lse[${l.first!.index}] = ${l.first!.got}, reference ${l.first!.expected}`;
    throw new Error(`kernel ${kernel.id} (${kernel.backend}, ${dtype}) disagrees with the reference: ${what} (case ${JSON.stringify(c)})`);
  }
}

export interface CampaignOptions {
  readonly runs: number;
  readonly seed: number;
  readonly limits?: FuzzLimits;
  readonly threads?: number;
  /** Counterexamples found earlier, replayed first (fast-check `examples`). */
  readonly examples?: readonly FuzzCase[];
}

export interface CampaignReport {
  readonly kernel: string;
  readonly runs: number;
  readonly seed: number;
  readonly ok: boolean;
  readonly seconds: number;
  /** fast-check's report (seed, shrunk counterexample, replay path) when it failed. */
  readonly failure?: string;
  readonly counterexample?: FuzzCase;
}

/** A kernel with run-time parameters and no spec to read their values from. */
function needsParams(kernel: CompiledAttention): boolean {
  return kernel.spec === undefined && kernel.unit.runtimeParams.length > 0;
}

/**
 * Values for the run-time parameters of a spec-less kernel: integers from 0 (a window of nothing)
 * to past the longest key axis, small ones often; floats of either sign and size.
 */
function paramsArb(kernel: CompiledAttention): fc.Arbitrary<Record<string, number>> {
  return fc.record(Object.fromEntries(publicParams(kernel.unit.runtimeParams).map((p) => [p.name, p.type === 'int32'
    ? fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 1200 }))
    : fc.oneof(fc.double({ min: 0.25, max: 64, noNaN: true }), fc.double({ min: -64, max: -0.25, noNaN: true }))])));
}

export async function fuzzKernel(kernel: CompiledAttention, o: CampaignOptions): Promise<CampaignReport> {
  const t0 = performance.now();
  const withParams = needsParams(kernel);
  const cases = withParams
    ? fc.tuple(fuzzCaseArb(o.limits), paramsArb(kernel)).map(([c, params]) => ({ ...c, params }))
    : fuzzCaseArb(o.limits);
  const prop = fc.asyncProperty(cases, (c) => checkCase(kernel, c, o.threads));
  const limits = o.limits ?? DEFAULT_LIMITS;
  // Fixed examples of a kernel that needs parameters get them from the sampled parameter space.
  const fill = (e: FuzzCase): FuzzCase => (withParams && !e.params ? { ...e, params: fc.sample(paramsArb(kernel), { seed: e.seed, numRuns: 1 })[0] } : e);
  const decode = DECODE_SPLIT_EXAMPLES.filter((e) => e.Lk <= (limits.maxDecodeLk ?? 0) && e.B <= limits.maxB);
  const examples = [...decode, ...(o.examples ?? [])].map((e) => [fill(e)] as [FuzzCase]);
  const details = await fc.check(prop, { seed: o.seed, numRuns: o.runs, examples });
  const seconds = (performance.now() - t0) / 1000;
  if (!details.failed) return { kernel: kernel.id, runs: o.runs, seed: o.seed, ok: true, seconds };
  const counterexample = details.counterexample?.[0];
  const failure = [
    `kernel ${kernel.id} failed after ${details.numRuns} runs (seed ${o.seed}, path "${details.counterexamplePath}", shrunk ${details.numShrinks} times)`,
    `counterexample: ${JSON.stringify(counterexample)}`,
    `${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`,
    `replay: FUZZ_SEED=${o.seed} (and fast-check path ${details.counterexamplePath})`,
  ].join('\n');
  return { kernel: kernel.id, runs: o.runs, seed: o.seed, ok: false, seconds, failure, counterexample };
}
