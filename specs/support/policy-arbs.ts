/**
 * Random cache policies over the whole option grammar of dsl/policy (every kind, every pooling,
 * importance, countBias, both compatibility modes, both recovery rules, policyDecode), shared by
 * the reference invariants and the native slot-for-slot tests.
 */
import fc from 'fast-check';
import { adaptiveCache, fullCache, pyramidCache, sinkCache, slidingCache, type CachePolicySpec } from '../../dsl/policy/policy.ts';

export const policyArb: fc.Arbitrary<CachePolicySpec> = policyArbWith({});

/** `nativeOnly`: without what the native caches refuse (adaptive recoveryMaxError). */
export function policyArbWith(o: { readonly nativeOnly?: boolean }): fc.Arbitrary<CachePolicySpec> {
  return fc.oneof(
  fc.constant(null).map(() => fullCache()),
  fc.integer({ min: 1, max: 8 }).map((window) => slidingCache({ window })),
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 8 })).map(([sinks, extra]) => sinkCache({ sinks, windowLength: sinks + extra })),
  fc.record({
    W: fc.integer({ min: 1, max: 6 }), sinks: fc.integer({ min: 0, max: 4 }), groupSize: fc.integer({ min: 2, max: 4 }),
    pooling: fc.constantFrom('mean', 'max', 'best' as const), keyNorm: fc.boolean(), countBias: fc.boolean(),
    bestVote: fc.boolean(), literal: fc.boolean(),
  }).map((x) => {
    const bestVote = x.bestVote && x.pooling === 'best';
    return pyramidCache({
      budgets: [x.W], sinks: x.literal ? x.sinks & ~1 : x.sinks, groupSize: bestVote ? 2 : x.groupSize, pooling: x.pooling,
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

