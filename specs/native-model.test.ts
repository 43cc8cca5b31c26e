/**
 * The model executor's native half (runtime/native/src/napi_model*.cpp): DenseMatrix,
 * DecoderModel and DecodeStep refuse bad arguments with errors naming them (never a crash), the
 * executor with bf16 weights equals the reference model given the same rounded weights, and a
 * disposed executor or a batch whose step failed part-way refuse further use. (The GEMM's
 * accuracy and invariances: runtime/native/test/check_gemm.cpp, in native-harness.test.ts.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { scheme } from '../dsl/index.ts';
import type { ModelShape } from '../dsl/scheme/modelShape.ts';
import type { NativeAddon } from '../runtime/api/native.ts';
import { Executor } from '../runtime/model/executor.ts';
import { roundWeights, seededWeights } from '../runtime/model/weights.ts';
import { fuzzScheme } from '../runtime/verify/schemeFuzz.ts';
import { caught } from './support/caught.ts';

/** Whatever a call throws (the addon throws plain TypeError / RangeError). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, nothing was thrown');
}

const model: ModelShape = { hiddenSize: 16, intermediateSize: 32, vocabSize: 32, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false };
const s = scheme({ heads: { q: 4, kv: 2 }, headDim: 8, layers: 3, kv: '0_1_2', dtype: 'f32' });
let ex: Executor;
let addon: NativeAddon;

beforeAll(async () => {
  ex = await Executor.create(seededWeights(s, model, 1));
  addon = ex.addon;
}, 600_000);

describe('DenseMatrix', () => {
  it('refuses wrong sizes, dtypes, threads and released matrices, naming the argument', () => {
    const w = new Float32Array(12);
    expect(thrown(() => new addon.DenseMatrix(w, 4, 4, 0))).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/'w'.*rows\*cols = 4\*4/) });
    expect(thrown(() => new addon.DenseMatrix(w, 3, 4, 1))).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/'dtype' must be 0 \(f32\) or 2 \(bf16\)/) });
    expect(thrown(() => new addon.DenseMatrix(w, 0, 4, 0))).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/'rows'/) });
    const m = new addon.DenseMatrix(w, 3, 4, 2);
    expect(m.bytes).toBe(16 * 4 * 2); // one panel of 16 columns, bf16
    expect(thrown(() => m.apply(new Float32Array(7), 2, new Float32Array(6), false, 1))).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/'x'.*m\*cols = 2\*4/) });
    expect(thrown(() => m.apply(new Float32Array(8), 2, new Float32Array(6), false, 0))).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/'threads'/) });
    expect(thrown(() => m.apply(new Float32Array(8), 2, new Float32Array(6), 1 as unknown as boolean, 1))).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/'accumulate' must be a boolean/) });
    const y = new Float32Array(6);
    m.apply(Float32Array.from({ length: 8 }, () => 1), 2, y, false, 1);
    expect(Array.from(y)).toEqual(new Array(6).fill(0));
    m.release();
    expect(thrown(() => m.apply(new Float32Array(8), 2, new Float32Array(6), false, 1)).message).toMatch(/released DenseMatrix/);
  });
});

describe('DecoderModel and DecodeStep', () => {
  const dims = { hidden: 4, intermediate: 4, vocab: 3, Hq: 2, Hkv: 1, D: 2, Dv: 2, eps: 1e-6, theta: 10000 };
  const mat = (r: number, c: number) => new addon.DenseMatrix(new Float32Array(r * c).fill(0.1), r, c, 0);
  const layer = () => ({ inputNorm: new Float32Array(4), postNorm: new Float32Array(4), q: mat(4, 4), k: mat(2, 4), v: mat(2, 4), o: mat(4, 4), gate: mat(4, 4), up: mat(4, 4), down: mat(4, 4) });
  const config = () => ({ ...dims, embed: new Float32Array(12), norm: new Float32Array(4), lmHead: mat(3, 4), layers: [layer()] });

  it('refuses configurations that do not fit, naming the entry', () => {
    expect(thrown(() => new addon.DecoderModel({ ...config(), lmHead: {} as never }))).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/'lmHead' must be a DenseMatrix/) });
    expect(thrown(() => new addon.DecoderModel({ ...config(), layers: [{ ...layer(), q: mat(3, 4) }] }))).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/'layers\[0\]\.q' must be 4 x 4, received 3 x 4/) });
    expect(thrown(() => new addon.DecoderModel({ ...config(), D: 3, Dv: 3 }))).toMatchObject({ message: expect.stringMatching(/'D' must be even/) });
    expect(thrown(() => new addon.DecoderModel({ ...config(), embed: new Float32Array(11) }))).toMatchObject({ message: expect.stringMatching(/'embed'/) });
    expect(thrown(() => new addon.DecoderModel({ ...config(), layers: [] }))).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/'layers' must be a non-empty array/) });
  });

  it('checks every call: layer index, token ids, array lengths; a released model refuses', () => {
    const m = new addon.DecoderModel(config());
    const h = new Float32Array(8);
    expect(thrown(() => m.embed(Int32Array.of(0, 3), h)).message).toMatch(/'tokens'\[1\] = 3 is not a token id in 0\.\.2/);
    m.embed(Int32Array.of(0, 2), h);
    expect(thrown(() => m.project(1, h, Int32Array.of(0, 1), new Float32Array(8), null, null, 1)).message).toMatch(/'layer' must be below 1/);
    expect(thrown(() => m.project(0, h, Int32Array.of(0), new Float32Array(8), null, null, 1)).message).toMatch(/'positions'/);
    expect(thrown(() => m.finish(0, h, new Float32Array(3), 1)).message).toMatch(/'attn'/);
    expect(thrown(() => m.logits(new Float32Array(5), new Float32Array(6), 1)).message).toMatch(/'h' must hold rows\*hidden floats/);
    m.release();
    expect(thrown(() => m.embed(Int32Array.of(0), new Float32Array(4))).message).toMatch(/the model was released/);
  });

  it('DecodeStep refuses a model, plans and caches it cannot use', () => {
    const m = new addon.DecoderModel(config());
    expect(thrown(() => new addon.DecodeStep({} as never, 1, []))).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/'model' must be a DecoderModel/) });
    expect(thrown(() => new addon.DecodeStep(m, 1, []))).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/one entry per model layer \(1\)/) });
    expect(thrown(() => new addon.DecodeStep(m, 1, [{ plan: {} as never, append: null, literal: false }]))).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/'layers\[0\]\.plan' must be an AttendPlan/) });
    // A real plan of another shape (the executor's Hkv 2, D 8) is refused by shape.
    const b = ex.newBatch(1);
    const p = ex['kernels'].get('causal')!.bindDecode(b.caches[0]!).plan;
    expect(thrown(() => new addon.DecodeStep(m, 1, [{ plan: p, append: null, literal: false }])).message).toMatch(/'layers\[0\]\.plan' reads B 1, Hq 4, Hkv 2, D 8, Dv 8; the model and batch are B 1, Hq 2, Hkv 1, D 2, Dv 2/);

    ex.disposeBatch(b);
  });

  it('DecodeStep: a layers array that a getter grows while it is read is counted once, never read past the model', () => {
    // Real plans of the executor's own shape, so only the count could go wrong.
    const b = ex.newBatch(1);
    const plan = (i: number) => ex['kernels'].get('causal')!.bindDecode(b.caches[i]!).plan;
    const layers: unknown[] = [0, 1, 2].map((i) => ({ plan: plan(i), append: b.caches[i]!.native, literal: false }));
    let grown = 0;
    Object.defineProperty(layers[0] as object, 'plan', { get: () => { grown++; layers.push({ plan: {}, append: null, literal: false }); return plan(0); } });
    const step = new addon.DecodeStep(ex.dense.model, 1, layers as never); // the pushed entries (not plans) are never read
    expect(grown).toBe(1); // each property read once
    const logits = new Float32Array(model.vocabSize);
    step.run(Int32Array.of(1), Int32Array.of(0), logits, 1, new Float64Array(2));
    expect(logits.every(Number.isFinite)).toBe(true);
    expect(Array.from(b.caches[2]!.native.lengths())).toEqual([1, 1]);
    ex.disposeBatch(b);
  });
});

describe('executor', () => {
  it('a weight dtype other than f32 or bf16 is KVF3001', async () => {
    await expect(Executor.create(seededWeights(s, model, 1), { weightDType: 'f16' as never })).rejects.toMatchObject({ code: 'KVF3001', message: expect.stringMatching(/weight dtype must be 'f32' or 'bf16', received f16/) });
  });

  it('bf16 weights: the executor equals the reference model given the same rounded weights', async () => {
    const bf = await Executor.create(roundWeights(seededWeights(s, model, 1), 'bf16'), { weightDType: 'bf16' });
    expect(bf.weightDType).toBe('bf16');
    const r = await fuzzScheme(bf, { runs: 4, seed: 42, model });
    expect(r.failure).toBeUndefined();
    expect(r.ok).toBe(true);
    // The rounding is real: f32 and bf16 storage of unrounded weights give different logits.
    const w = seededWeights(s, model, 5);
    const a = ex.withWeights(w), c = bf.withWeights(w);
    const [la, lc] = await Promise.all([a, c].map(async (e) => {
      const b = e.newBatch(1);
      try { return await e.prefill(b, [[1, 2, 3]]); } finally { e.disposeBatch(b); }
    }));
    expect(la!.some((x, i) => x !== lc![i])).toBe(true);
  });

  it('a refused step changes nothing; one that fails inside the native call leaves the batch KVF3010; a disposed executor is KVF3012', async () => {
    const e = ex.withWeights(seededWeights(s, model, 2));
    const b = e.newBatch(2);
    await e.prefill(b, [[1, 2], [3]]);
    e.step(b, [4, 5]);
    expect(caught(() => e.step(b, [4, 99])).code).toBe('KVF3004'); // refused before anything ran
    const lengths = b.caches.map((c) => Array.from(c!.lengths()));
    b.caches[1]!.dispose();
    expect(caught(() => e.step(b, [6, 7])).code).toBe('KVF3012'); // refused by reserveStep: no cache changed
    expect(b.caches.map((c, i) => (i === 1 ? lengths[1] : Array.from(c!.lengths())))).toEqual(lengths);
    // A failure inside the native step (a cache freed behind the executor's back).
    const c = ex.withWeights(seededWeights(s, model, 2));
    const b2 = c.newBatch(1);
    await c.prefill(b2, [[1, 2]]);
    c.step(b2, [5]); // binds the native step
    b2.caches[2]!.native.release();
    expect(thrown(() => c.step(b2, [3])).message).toMatch(/DecodeStep\.run: layer 2: .*released/);
    expect(caught(() => c.step(b2, [3]))).toMatchObject({ code: 'KVF3010', message: expect.stringMatching(/failed part-way/) });
    c.disposeBatch(b2);
    e.disposeBatch(b);
    const later = e.newBatch(1);
    e.dispose();
    expect(caught(() => e.step(later, [1])).code).toBe('KVF3012');
    e.disposeBatch(later);
  });
});
