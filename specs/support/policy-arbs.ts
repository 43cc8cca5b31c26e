/**
 * Random cache policies over the whole option grammar of dsl/policy (every kind, every pooling,
 * importance, countBias, both compatibility modes, both recovery rules, policyDecode), shared by
 * the reference invariants and the native slot-for-slot tests.
 */
import fc from 'fast-check';
import { adaptiveCache, fullCache, pyramidCache, sinkCache, slidingCache, type CachePolicySpec } from '../../dsl/policy/policy.ts';

export const policyArb: fc.Arbitrary<CachePolicySpec> = policyArbWith({});

/**
 * `nativeOnly`: without what the native caches refuse (adaptive recoveryMaxError). `layers`: the
 * model the pyramid budgets are for (a list of that many budgets, or L0 and beta). @defaultValue 1
 * `continuous`: poolings whose result moves continuously with the slots' values (mean, max), for
 * tests whose two sides compute the values apart (the float32 executor and the float64 reference
 * model differ in the last bits, which can flip a `best` or `bestVote` selection between slots of
 * nearly equal importance: repeated tokens whose keys RoPE only rotates have equal norms).
 */
export function policyArbWith(o: { readonly nativeOnly?: boolean; readonly layers?: number; readonly continuous?: boolean }): fc.Arbitrary<CachePolicySpec> {
  const L = o.layers ?? 1;
  return fc.oneof(
  fc.constant(null).map(() => fullCache()),
  fc.integer({ min: 1, max: 8 }).map((window) => slidingCache({ window })),
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 8 })).map(([sinks, extra]) => sinkCache({ sinks, windowLength: sinks + extra })),
  fc.record({
    W: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: L, maxLength: L }), formula: fc.boolean(), beta: fc.constantFrom(0.5, 1, 2, 4),
    sinks: fc.integer({ min: 0, max: 4 }), groupSize: fc.integer({ min: 2, max: 4 }),
    pooling: o.continuous ? fc.constantFrom('mean', 'max' as const) : fc.constantFrom('mean', 'max', 'best' as const), keyNorm: fc.boolean(), countBias: fc.boolean(),
    bestVote: fc.boolean(), literal: fc.boolean(),
  }).map((x) => {
    const bestVote = x.bestVote && x.pooling === 'best';
    return pyramidCache({
      // The pyramid formula with L0 = 6: every budget stays >= 1 for these betas and up to 64 layers.
      ...(x.formula ? { L0: 6, beta: x.beta } : { budgets: x.W }), sinks: x.literal ? x.sinks & ~1 : x.sinks, groupSize: bestVote ? 2 : x.groupSize, pooling: x.pooling,
      ...(x.pooling === 'best' && !bestVote ? { importance: x.keyNorm ? 'keyNorm' : 'mass' } : {}),
      countBias: x.countBias, compatibility: { bestVote, mergeLiteralDecode: x.literal },
    });
  }),
  fc.record({
    T: fc.oneof(fc.constantFrom(0, 1), fc.double({ min: 0, max: 1, noNaN: true })),
    rF: fc.double({ min: 0, max: 1, noNaN: true }), rL: fc.double({ min: 0, max: 1, noNaN: true }),
    special: fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }), punctuation: fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
    recovery: o.nativeOnly ? fc.constant('mass' as const) : fc.constantFrom('mass', 'recoveryMaxError' as const), policyDecode: fc.boolean(),
  }).map((a) => adaptiveCache(a)),
  );
}

