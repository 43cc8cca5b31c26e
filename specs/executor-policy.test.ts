/**
 * The executor under compression policies (issue 9) against the reference model, whose policy
 * caches are the float64 policy references: random schemes (cycles, sliding readers), random
 * policies on the caches that may take one (every kind and option the CPU caches run; poolings
 * that select whole slots, best and bestVote, are checked slot for slot on identical inputs in
 * policy-cache.test.ts and here on regression examples only: see policyArbWith's `continuous`),
 * seeded weights, ragged batches; prefill, cached decode and token by token
 * (runtime/verify/schemeFuzz.ts).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { scheme, type LayerTable } from '../dsl/index.ts';
import type { CachePolicySpec } from '../dsl/policy/policy.ts';
import { Executor } from '../runtime/model/executor.ts';
import { seededWeights } from '../runtime/model/weights.ts';
import { checkSchemeCase, smallModel } from '../runtime/verify/schemeFuzz.ts';
import { policyArbWith } from './support/policy-arbs.ts';
import { checkPolicyRegressions } from './support/policy-cases.ts';
import { runs, SEED } from './support/random-expr.ts';
import { tableArb } from './support/scheme-arbs.ts';

const model = smallModel();
const shape = { heads: { q: 4, kv: 2 }, headDim: 8 } as const;

/** The policy list: a policy on each owner that can take one (not all of its readers slide). */
function policiesFor(table: LayerTable, pick: readonly CachePolicySpec[]): (CachePolicySpec | null)[] {
  return table.map((_, i) => {
    const readers = table.flatMap((l, r) => (l.keysFrom === i ? [r] : []));
    return readers.length > 0 && readers.some((r) => !table[r]!.sliding) ? pick[i % pick.length]! : null;
  });
}

const caseArb = tableArb(4).chain((table) => fc.record({
  table: fc.constant(table),
  window: fc.integer({ min: 1, max: 6 }),
  m: fc.integer({ min: 1, max: 3 }), b: fc.integer({ min: 0, max: 2 }),
  policies: fc.array(policyArbWith({ nativeOnly: true, layers: table.length, continuous: true }), { minLength: 1, maxLength: 4 }),
  weightSeed: fc.integer({ min: 0, max: 1 << 30 }),
  prompts: fc.array(fc.array(fc.integer({ min: 0, max: 31 }), { minLength: 1, maxLength: 9 }), { minLength: 1, maxLength: 3 }),
  decode: fc.integer({ min: 0, max: 5 }),
  // f32 caches: 16-bit caches are compared slot for slot in policy-cache.test.ts (the model-level
  // 16-bit tolerance is loose on cyclic schemes even without a policy; see the stop 17 note).
  dtype: fc.constant('f32' as const),
}));

describe(`executor under cache policies vs the reference model (seed ${SEED})`, () => {
  it('random schemes and policies: prefill, cached decode, token by token', async () => {
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const L = c.table.length;
      const kv = c.table.map((r) => ({ from: r.keysFrom, sliding: r.sliding }));
      const s = scheme({ ...shape, layers: L, kv, window: c.window, iterations: { m: c.m, b: c.b }, dtype: c.dtype, policy: policiesFor(c.table, c.policies) });
      const ex = await Executor.create(seededWeights(s, model, c.weightSeed), { cacheDType: c.dtype });
      const decode = c.prompts.map((p, i) => Array.from({ length: c.decode }, (_, j) => (p[0]! * 7 + i + j * 3) % 32));
      await checkSchemeCase(ex, model, { weightSeed: c.weightSeed, prompts: c.prompts, decode });
    }), { seed: SEED, numRuns: runs(25) });
  }, 600_000);

  it('regression examples: LCKV with a pyramid top cache, standard with sinks, YOCO-like with adaptive heads', async () => {
    await checkPolicyRegressions(shape, model, 'cpu');
  }, 600_000);
});
