/**
 * The executor with attention on kvforge's CUDA kernels, run here on the CUDA emulator (the same
 * .cu source compiled as host C++; on a machine with a device, on the device): the equivalences
 * of the CPU suite (executor vs reference model in each mode, token by token = cached decode,
 * parallel prefill = token by token up to m + b, the literal zero-fill decode) for bf16, f16 and
 * f32 caches, on a cycle with a sliding layer, LCKV and a YOCO-like scheme; and under cache
 * policies (the cache ops, the per-slot bias and the attention mass on the CUDA backend).
 */
import { describe, expect, it } from 'vitest';
import { scheme } from '../dsl/index.ts';
import type { ModelShape } from '../dsl/scheme/modelShape.ts';
import { Executor } from '../runtime/model/executor.ts';
import { seededWeights } from '../runtime/model/weights.ts';
import { checkSchemeCase, fuzzScheme } from '../runtime/verify/schemeFuzz.ts';
import { checkPolicyRegressions } from './support/policy-cases.ts';

const seed = Number(process.env.FUZZ_SEED ?? 42);
const model: ModelShape = { hiddenSize: 16, intermediateSize: 32, vocabSize: 32, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false };
// The CUDA backend takes head dims in multiples of 32.
const shape = { heads: { q: 2, kv: 1 }, headDim: 32 } as const;

describe(`executor on CUDA kernels (emulated without a device; seed ${seed})`, () => {
  it('cycles, sliding layers, LCKV, YOCO-like: every mode against the reference, per cache dtype', async () => {
    for (const dtype of ['bf16', 'f16', 'f32'] as const) {
      const s = scheme({ ...shape, layers: 4, kv: dtype === 'f32' ? '0_3_3_3' : '1_2s_0_3s', window: 3, iterations: { m: 2, b: 1 }, dtype });
      const ex = await Executor.create(seededWeights(s, model, 3), { target: 'cuda' });
      expect(['cuda', 'cuda-emu']).toContain(ex['kernels'].get('causal')!.backend);
      expect(ex.newBatch(1).caches[0]!.backend).toBe(ex['kernels'].get('causal')!.backend);
      expect(ex.cacheDType).toBe(dtype);
      await checkSchemeCase(ex, model, { weightSeed: 29, prompts: [[1, 2, 3, 4, 5], [9, 8]], decode: [[3, 1, 4], [1, 5, 9]] });
      const r = await fuzzScheme(ex, { runs: 2, seed, model });
      expect(r.ok, r.failure).toBe(true);
    }
    const yocoLike = scheme({ ...shape, layers: 4, kv: '0s_1s_2_2', window: 2, dtype: 'bf16' });
    const ex = await Executor.create(seededWeights(yocoLike, model, 4), { target: 'cuda' });
    await checkSchemeCase(ex, model, { weightSeed: 5, prompts: [[4, 4, 2, 7, 1, 3]], decode: [[2, 9, 9, 1]] });
  }, 900_000);

  it("lckvLiteralZeroFill on CUDA kernels: token by token is LCKV's literal decode", async () => {
    const s = scheme({ ...shape, layers: 3, kv: '0_2_2', decode: 'lckvLiteralZeroFill', dtype: 'bf16' });
    const ex = await Executor.create(seededWeights(s, model, 23), { target: 'cuda' });
    const r = await fuzzScheme(ex, { runs: 2, seed, model });
    expect(r.ok, r.failure).toBe(true);
  }, 900_000);

  it('cache policies on CUDA caches: pyramid best with countBias on LCKV, sinks, adaptive heads', async () => {
    await checkPolicyRegressions(shape, model, 'cuda');
  }, 900_000);

  it('a target other than cpu or cuda is KVF3001', async () => {
    const s = scheme({ ...shape, layers: 2, kv: '0_1', dtype: 'f32' });
    await expect(Executor.create(seededWeights(s, model, 1), { target: 'tpu' as never })).rejects.toMatchObject({ code: 'KVF3001' });
  });
});
