/**
 * Regression examples of the executor under cache policies, run on each target (executor-policy
 * on the CPU, executor-cuda on the CUDA backend): LCKV with a pyramid top cache (best pooling,
 * countBias: the bias and the mass), a standard scheme with sinks, a YOCO-like scheme with
 * adaptive heads (the mass rule and policyDecode), each against the reference model.
 */
import { expect } from 'vitest';
import { scheme } from '../../dsl/index.ts';
import { adaptiveCache, pyramidCache, sinkCache, type CachePolicySpec } from '../../dsl/policy/policy.ts';
import type { ModelShape } from '../../dsl/scheme/modelShape.ts';
import { Executor } from '../../runtime/model/executor.ts';
import { seededWeights } from '../../runtime/model/weights.ts';
import { checkSchemeCase } from '../../runtime/verify/schemeFuzz.ts';

export const POLICY_REGRESSIONS: readonly (readonly [string, CachePolicySpec])[] = [
  ['0_3_3_3', pyramidCache({ budgets: [2, 2, 2, 2], sinks: 1, pooling: 'best', countBias: true })],
  ['0_1_2_3', sinkCache({ sinks: 1, windowLength: 3 })],
  ['0_1_2_2', adaptiveCache({ T: 0.8, special: [1], punctuation: [5, 9], rF: 0.3, rL: 0.3, policyDecode: true })],
];

export async function checkPolicyRegressions(shape: { heads: { q: number; kv: number }; headDim: number }, model: ModelShape, target: 'cpu' | 'cuda'): Promise<void> {
  for (const [kv, policy] of POLICY_REGRESSIONS) {
    const s = scheme({ ...shape, layers: 4, kv, window: 3, iterations: { m: 2, b: 1 }, dtype: 'f32', policy });
    const ex = await Executor.create(seededWeights(s, model, 5), { target });
    try {
      const b = ex.newBatch(1);
      expect(b.caches[0]!.backend).toBe(target === 'cpu' ? 'cpu' : ex['kernels'].get('causal')!.backend);
      ex.disposeBatch(b);
      await checkSchemeCase(ex, model, { weightSeed: 11, prompts: [[1, 2, 3, 4, 5, 6, 7], [9, 8, 1]], decode: [[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]] });
    } finally {
      ex.dispose();
    }
  }
}
