/**
 * The executor (kvforge's kernels over KV caches, dense layers around them) against the float64
 * reference model, on random schemes (cycles, sliding layers, forceNoDiagonal, m + b), ragged
 * batches and seeded weights, in each mode: parallel prefill, token by token, prefill then cached
 * decode; token by token equals cached decode; literal zero-fill against the reference's.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheme, type SchemeSpec } from '../dsl/index.ts';
import type { ModelShape } from '../dsl/scheme/modelShape.ts';
import { Executor } from '../runtime/model/executor.ts';
import { WINDOW_SLACK } from '../codegen/scheme/cachePlan.ts';
import { seededWeights } from '../runtime/model/weights.ts';
import { ReferenceModel } from '../runtime/verify/referenceModel.ts';
import { tableArb } from './support/scheme-arbs.ts';
import { checkSchemeCase, fuzzScheme } from '../runtime/verify/schemeFuzz.ts';
import { caughtAsync } from './support/caught.ts';

const seed = Number(process.env.FUZZ_SEED ?? 42);
const numRuns = Number(process.env.FUZZ_RUNS ?? 12);
const model: ModelShape = { hiddenSize: 16, intermediateSize: 32, vocabSize: 32, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false };
const shape = { heads: { q: 4, kv: 2 }, headDim: 8 } as const;

const TOL = 2e-4;
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>, at = 0) => {
  let d = 0;
  for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(a[at + i] - b[i]));
  return d;
};

async function compare(s: SchemeSpec, weightSeed: number, prompts: number[][], decode: number[][]) {
  const ex = await Executor.create(seededWeights(s, model, weightSeed));
  await checkSchemeCase(ex, model, { weightSeed, prompts, decode });
}

const caseArb = fc.record({
  table: tableArb(4),
  window: fc.integer({ min: 1, max: 6 }),
  forceNoDiagonal: fc.boolean(),
  m: fc.integer({ min: 1, max: 3 }), b: fc.integer({ min: 0, max: 2 }),
  weightSeed: fc.integer({ min: 0, max: 1 << 30 }),
  prompts: fc.array(fc.array(fc.integer({ min: 0, max: 31 }), { minLength: 1, maxLength: 7 }), { minLength: 1, maxLength: 3 }),
  decode: fc.integer({ min: 0, max: 3 }),
  // Per layer, whether it takes its values from another layer than its keys (and which).
  split: fc.array(fc.option(fc.nat(), { nil: undefined }), { minLength: 4, maxLength: 4 }),
});

describe(`executor vs reference model (seed ${seed})`, () => {
  it('random schemes, ragged batches: prefill, cached decode, token by token', async () => {
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const L = c.table.length;
      const kv = c.table.map((r, i) => (c.split[i] === undefined ? { from: r.keysFrom, sliding: r.sliding } : { keysFrom: r.keysFrom, valuesFrom: c.split[i]! % L, sliding: r.sliding }));
      const s = scheme({ ...shape, layers: L, kv, window: c.window, forceNoDiagonal: c.forceNoDiagonal, iterations: { m: c.m, b: c.b }, dtype: 'f32' });
      const decodeTokens = c.prompts.map((p, i) => Array.from({ length: c.decode }, (_, j) => (p[0] * 7 + i + j * 3) % 32));
      await compare(s, c.weightSeed, c.prompts, decodeTokens);
    }), { seed, numRuns });
  }, 600_000);

  it('regression examples: LCKV, a cycle with a sliding layer, YOCO-like', async () => {
    for (const kv of ['0_1_2_3', '0_3_3_3', '1_2s_0_3', '0s_1s_2_2']) {
      const s = scheme({ ...shape, layers: 4, kv, window: 3, iterations: { m: 2, b: 1 }, dtype: 'f32' });
      await compare(s, 17, [[1, 2, 3, 4, 5], [9, 8]], [[3, 1, 4], [1, 5, 9]]);
    }
  }, 600_000);

  it('bf16 and f16 caches, against the reference that stores K and V rounded the same way', async () => {
    for (const cacheDType of ['bf16', 'f16'] as const) {
      for (const kv of ['0_3_3_3', '1_2s_0_3s']) {
        const s = scheme({ ...shape, layers: 4, kv, window: 3, iterations: { m: 2, b: 1 }, dtype: cacheDType });
        const ex = await Executor.create(seededWeights(s, model, 3), { cacheDType });
        await checkSchemeCase(ex, model, { weightSeed: 29, prompts: [[1, 2, 3, 4, 5], [9, 8]], decode: [[3, 1, 4], [1, 5, 9]] });
        await fuzzScheme(ex, { runs: 3, seed, model }).then((r) => expect(r.ok, r.failure).toBe(true));
      }
    }
  }, 600_000);

  it("lckvLiteralZeroFill: the executor's decode equals the reference's literal decode", async () => {
    const s = scheme({ ...shape, layers: 3, kv: '0_2_2', decode: 'lckvLiteralZeroFill', dtype: 'f32' });
    const w = seededWeights(s, model, 23);
    const ex = await Executor.create(w);
    const ref = new ReferenceModel(w);
    const b = ex.newBatch(1), rs = ref.newSequence(0);
    for (const tok of [4, 7, 1, 30, 2]) expect(maxDiff(ex.step(b, [tok]), ref.step(rs, tok))).toBeLessThan(TOL);
    ex.disposeBatch(b);
  }, 600_000);

  it('greedy generation of a ragged batch equals token-by-token argmax on the reference', async () => {
    const s = scheme({ ...shape, layers: 3, kv: '0_2_2', dtype: 'f32' });
    const w = seededWeights(s, model, 5);
    const ex = await Executor.create(w);
    const ref = new ReferenceModel(w);
    const prompts = [[1, 2, 3], [7]];
    const got = await ex.generate(prompts, 4);
    prompts.forEach((p, bi) => {
      const rs = ref.newSequence(bi);
      let logits = p.map((t) => ref.step(rs, t)).pop()!;
      const want: number[] = [];
      for (let i = 0; i < 4; i++) {
        const t = logits.indexOf(Math.max(...logits));
        want.push(t);
        logits = ref.step(rs, t);
      }
      expect(got[bi]).toEqual(want);
    });
  }, 600_000);

  it('a campaign reports the scheme, the seed and a shrunk case when the executor is wrong', async () => {
    const s = scheme({ ...shape, layers: 2, kv: '0_1', dtype: 'f32' });
    const ex = await Executor.create(seededWeights(s, model, 1));
    expect((await fuzzScheme(ex, { runs: 3, seed, model })).ok).toBe(true);
    // A broken executor: its prefill forgets the output projection and MLP of every layer.
    const broken = Object.create(ex) as Executor;
    const real = ex.withWeights.bind(ex);
    broken.withWeights = (w) => {
      const e = real(w);
      const m = e.dense.model;
      (e.dense as { model: unknown }).model = { embed: m.embed.bind(m), project: m.project.bind(m), finish: () => {}, logits: m.logits.bind(m), release: m.release.bind(m) };
      return e;
    };
    const r = await fuzzScheme(broken, { runs: 5, seed, model });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatch(/^scheme custom \(0_1, window 4096, m \+ b = 7 \+ 2\) failed after 1 runs \(seed \d+/);
    expect(r.failure).toMatch(/counterexample: \{"weightSeed":\d+,"prompts":\[\[\d+\]\],"decode":\[\[\]\]\}/);
    expect(r.failure).toMatch(/prefill, sequence 0, token 0: executor \S+ and reference \S+ at logit \d+/);
  }, 600_000);

  it('windowed caches keep the last W tokens (the cache plan), and attention is unchanged', async () => {
    // Layers 0 and 1 slide over their own caches (window 3); layer 2 reads layer 1's cache with
    // full attention, so cache 1 keeps everything; layer 3 reads its own full cache.
    const s = scheme({ ...shape, layers: 4, kv: '0s_1s_1_3', window: 3, dtype: 'f32' });
    const w = seededWeights(s, model, 41);
    const ex = await Executor.create(w);
    const b = ex.newBatch(2);
    const prompts = [Array.from({ length: 20 }, (_, i) => i % 30), [7, 8]];
    await ex.prefill(b, prompts);
    // A windowed cache is cut back to W = 3 once it holds W + WINDOW_SLACK (the cache plan's peak).
    const held = (n: number) => (n >= 3 + WINDOW_SLACK ? 3 : n);
    expect(Array.from(b.caches[0]!.lengths())).toEqual([held(20), held(20), 2, 2]);
    expect(Array.from(b.caches[1]!.lengths())).toEqual([20, 20, 2, 2]);
    let seen = [20, 2], cut = [held(20), 2];
    for (let i = 0; i < 40; i++) {
      ex.step(b, [i % 30, (i + 1) % 30]);
      seen = seen.map((n) => n + 1);
      const next = cut.map((n) => n + 1);
      cut = next.some((n) => n >= 3 + WINDOW_SLACK) ? next.map((n) => Math.min(n, 3)) : next;
      expect(Array.from(b.caches[0]!.lengths())).toEqual([cut[0], cut[0], cut[1], cut[1]]);
      expect(Math.max(...b.caches[0]!.lengths())).toBeLessThan(3 + WINDOW_SLACK);
    }
    expect(Array.from(b.caches[3]!.lengths())).toEqual([seen[0], seen[0], seen[1], seen[1]]);
    ex.disposeBatch(b);
    await checkSchemeCase(ex, model, { weightSeed: 41, prompts: [[1, 2, 3, 4, 5, 6], [7, 8]], decode: [[0, 1, 2, 3], [1, 2, 3, 4]] });
  }, 600_000);

  it('keys and values from different layers (FusedKV-Lite style, a top-attending split, linked windows)', async () => {
    const kvs = [
      [0, { keysFrom: 1, valuesFrom: 0 }],
      [0, 1, { keysFrom: 1, valuesFrom: 0 }, { keysFrom: 1, valuesFrom: 0 }],
      // Layer 0 keys from itself, values from layer 2 (above): a cycle; at a decode step its own
      // keys are one token ahead of layer 2's values (the call reads the slots both hold).
      [{ keysFrom: 0, valuesFrom: 2 }, 1, 2],
      [{ keysFrom: 2, valuesFrom: 0 }, 1, 2],
      // Cache 0 is read by sliding layers only, cache 1 in full: linked by layer 2, both keep all.
      [{ from: 0, sliding: true }, 1, { keysFrom: 0, valuesFrom: 1, sliding: true }],
    ] as const;
    for (const kv of kvs) {
      const s = scheme({ ...shape, layers: kv.length, kv: kv as never, window: 2, iterations: { m: 2, b: 1 }, dtype: 'f32' });
      await compare(s, 13, [[1, 2, 3, 4, 5], [9, 8]], [[3, 1, 4], [1, 5, 9]]);
      const ex = await Executor.create(seededWeights(s, model, 2));
      const r = await fuzzScheme(ex, { runs: 3, seed, model });
      expect(r.ok, r.failure).toBe(true);
    }
  }, 600_000);

  it('what the executor does not run yet is KVF2011', async () => {
    const slidingLiteral = scheme({ ...shape, layers: 2, kv: '1s_1', decode: 'lckvLiteralZeroFill', dtype: 'f32' });
    expect((await caughtAsync(() => Executor.create(seededWeights(slidingLiteral, model, 1)))).code).toBe('KVF2011');
  });
});

describe('executor regressions from a hostile review', () => {
  it('withWeights checks what create checks; weights that do not fit are KVF3004 naming the tensor', async () => {
    const s = scheme({ ...shape, layers: 2, kv: '0_0', dtype: 'f32' });
    const ex = await Executor.create(seededWeights(s, model, 1));
    const literal = scheme({ ...shape, layers: 2, kv: '1s_1', decode: 'lckvLiteralZeroFill', dtype: 'f32' });
    expect(() => ex.withWeights(seededWeights(literal, model, 1))).toThrow(/KVF2011/);
    const w = seededWeights(s, model, 2);
    expect(() => ex.withWeights({ ...w, lmHead: new Float32Array(3) })).toThrow(/KVF3004.*lmHead holds 3 values, the shape needs 512/);
    expect(() => ex.withWeights({ ...w, layers: [{ ...w.layers[0], k: undefined }, w.layers[1]] })).toThrow(/layers\[0\]\.k is missing/);
    expect(() => ex.withWeights({ ...w, layers: [w.layers[0]] })).toThrow(/1 layers for the scheme's 2/);
    expect(() => ex.withWeights({ ...w, layers: [w.layers[0], { ...w.layers[1], k: w.layers[0].k }] })).toThrow(/layers\[1\]\.k is given, but no layer reads layer 1's keys/);
  });
  it('an empty prompt is KVF3004; generate takes a positive count of new tokens', async () => {
    const s = scheme({ ...shape, layers: 2, kv: '0_1', dtype: 'f32' });
    const ex = await Executor.create(seededWeights(s, model, 1));
    expect((await caughtAsync(() => ex.generate([[5, 6], []], 3))).message).toMatch(/prompt 1 is empty/);
    for (const n of [0, -1, 2.5, NaN]) expect((await caughtAsync(() => ex.generate([[1]], n))).code).toBe('KVF3004');
    expect((await ex.generate([[1], [2, 3]], 1)).map((t) => t.length)).toEqual([1, 1]);
  });
  it("the caches default to the scheme's dtype", async () => {
    const s = scheme({ ...shape, layers: 2, kv: '0_1', dtype: 'bf16' });
    expect((await Executor.create(seededWeights(s, model, 1))).cacheDType).toBe('bf16');
  });
  it('a literal zero-fill scheme passes its own campaign (token by token is literal, prefill is not)', async () => {
    const s = scheme({ ...shape, layers: 3, kv: '0_2_2', decode: 'lckvLiteralZeroFill', dtype: 'f32' });
    const r = await fuzzScheme(await Executor.create(seededWeights(s, model, 1)), { runs: 4, seed, model });
    expect(r.ok, r.failure).toBe(true);
  });
});
