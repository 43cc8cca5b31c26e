/**
 * Cache policies in the DSL (semantics.md section 3, issue 9 part 1): what the constructors accept,
 * the coded errors (KVF2012 at the user's file:line) for what they refuse, and the per-layer
 * budgets of the pyramid formula.
 */
import { describe, expect, it } from 'vitest';
import { adaptiveCache, fullCache, pyramidCache, sinkCache, slidingCache, isCachePolicy } from '../dsl/policy/policy.ts';
import { budgetOf, pyramidBudget } from '../dsl/policy/budget.ts';
import { caught } from './support/caught.ts';

const here = (e: { location?: { file: string; line: number } }) => (e.location?.file.endsWith('policy-dsl.test.ts') ? e.location.line : -1);

describe('policy constructors', () => {
  it('give frozen data with the defaults semantics names', () => {
    const p = pyramidCache({ L0: 512, beta: 2 });
    expect(p).toMatchObject({ kind: 'pyramid', budget: { kind: 'pyramid', L0: 512, beta: 2 }, sinks: 4, groupSize: 2, pooling: 'mean',
      importance: 'mass', countBias: false, bestVote: false, mergeLiteralDecode: false });
    expect(Object.isFrozen(p)).toBe(true);
    expect(adaptiveCache()).toMatchObject({ kind: 'adaptive', T: 0.95, rF: 0.3, rL: 0.3, special: [], punctuation: [], recovery: 'mass', policyDecode: false });
    expect(sinkCache({ sinks: 4, windowLength: 8 })).toMatchObject({ kind: 'sinks', sinks: 4, windowLength: 8 });
    expect(slidingCache({ window: 3 })).toMatchObject({ kind: 'sliding', window: 3 });
    expect(fullCache().kind).toBe('full');
    for (const q of [p, fullCache(), adaptiveCache(), sinkCache({ sinks: 0, windowLength: 1 })]) expect(isCachePolicy(q)).toBe(true);
    expect(isCachePolicy({ kind: 'full' })).toBe(false);
  });

  it('record where they were declared', () => {
    const line = new Error().stack!.split('\n')[1]!.match(/:(\d+):\d+\)?$/)![1];
    const p = pyramidCache({ budgets: [3, 2, 1], pooling: 'best', countBias: true });
    expect(p.site?.file.endsWith('policy-dsl.test.ts')).toBe(true);
    expect(p.site?.line).toBe(Number(line) + 1);
  });

  const bad: [string, () => unknown, RegExp][] = [
    ['sinks above windowLength', () => sinkCache({ sinks: 4, windowLength: 4 }), /windowLength \(4\) must be larger than sinks \(4\)/],
    ['negative sinks', () => sinkCache({ sinks: -1, windowLength: 4 }), /sinks must be an integer in 0\.\./],
    ['fractional window', () => slidingCache({ window: 2.5 }), /window must be an integer in 1\.\./],
    ['unknown option', () => sinkCache({ sinks: 1, windowLength: 4, window: 3 } as never), /unknown option\(s\) 'window'/],
    ['not an object', () => slidingCache(7 as never), /takes an options object, got number/],
    ['no budget', () => pyramidCache({ sinks: 2 }), /needs L0 and beta/],
    ['both budgets', () => pyramidCache({ L0: 4, beta: 2, budgets: [1] }), /either budgets or L0 and beta/],
    ['zero beta', () => pyramidCache({ L0: 4, beta: 0 }), /beta must be a finite number above 0/],
    ['NaN beta', () => pyramidCache({ L0: 4, beta: NaN }), /beta must be a finite number above 0/],
    ['zero budget', () => pyramidCache({ budgets: [4, 0] }), /budgets\[1\] must be an integer in 1\.\./],
    ['holey budgets', () => pyramidCache({ budgets: [4, , 2] as number[] }), /budgets\[1\]: missing entry/],
    ['group of one', () => pyramidCache({ L0: 4, beta: 2, groupSize: 1 }), /groupSize must be an integer in 2\.\.1024/],
    ['unknown pooling', () => pyramidCache({ L0: 4, beta: 2, pooling: 'median' as never }), /pooling must be one of 'mean', 'max', 'best', got 'median'/],
    ['importance without best', () => pyramidCache({ L0: 4, beta: 2, importance: 'keyNorm' }), /importance ranks the members of 'best' pooling/],
    ['bestVote with mean', () => pyramidCache({ L0: 4, beta: 2, compatibility: { bestVote: true } }), /bestVote replaces 'best' pooling over pairs/],
    ['bestVote in triples', () => pyramidCache({ L0: 4, beta: 2, pooling: 'best', groupSize: 3, compatibility: { bestVote: true } }), /groupSize: 2, got 'best' and 3/],
    ['literal decode, odd sinks', () => pyramidCache({ L0: 4, beta: 2, sinks: 3, compatibility: { mergeLiteralDecode: true } }), /odd number of sinks \(3\)/],
    ['unknown compatibility mode', () => pyramidCache({ L0: 4, beta: 2, compatibility: { literal: true } as never }), /compatibility: unknown option\(s\) 'literal'/],
    ['T above 1', () => adaptiveCache({ T: 1.5 }), /T must be a number in \[0, 1\], got 1.5/],
    ['bad token id', () => adaptiveCache({ special: [1, -2] }), /special\[1\] must be an integer in 0\.\./],
    ['ids not a list', () => adaptiveCache({ punctuation: 5 as never }), /punctuation must be a list of token ids/],
    ['unknown recovery', () => adaptiveCache({ recovery: 'max' as never }), /recovery must be 'mass' or 'recoveryMaxError', got 'max'/],
    ['policyDecode not boolean', () => adaptiveCache({ policyDecode: 1 as never }), /policyDecode must be true or false/],
  ];
  for (const [what, f, message] of bad) {
    it(`refuse ${what} with KVF2012 at the declaring line`, () => {
      const e = caught(f);
      expect(e.code).toBe('KVF2012');
      expect(e.detail).toMatch(message);
      expect(here(e)).toBeGreaterThan(0);
    });
  }
});

describe('pyramid budgets', () => {
  it('follow W_k = floor(L0 * (1 + k/m * (1/beta - 1))), denominator m', () => {
    // L0 = 512, beta = 4, m = 4: factors 1, 1 - 3/16, 1 - 6/16, 1 - 9/16 -> 512, 416, 320, 224 (the top layer is not L0/beta = 128).
    const p = pyramidCache({ L0: 512, beta: 4 });
    expect([0, 1, 2, 3].map((k) => budgetOf(p, k, 4))).toEqual([512, 416, 320, 224]);
    // beta = 3, L0 = 10, m = 3, k = 1: 10 * (1 + 1/3 * (1/3 - 1)) = 7.777... -> 7.
    expect(pyramidBudget(10, 3, 1, 3)).toBe(7);
    expect(budgetOf(pyramidCache({ budgets: [5, 3] }), 1, 2)).toBe(3);
  });

  it('refuse a budget below 1, a list of the wrong length, and a layer outside the model', () => {
    // L0 = 1, beta = 4, m = 2, k = 1: floor(1 * (1 - 0.375)) = 0.
    const e = caught(() => budgetOf(pyramidCache({ L0: 1, beta: 4 }), 1, 2));
    expect(e.code).toBe('KVF2012');
    expect(e.detail).toMatch(/the pyramid budget of layer 1 of 2 is 0/);
    expect(here(e)).toBeGreaterThan(0);
    expect(caught(() => budgetOf(pyramidCache({ budgets: [5, 3] }), 0, 3)).detail).toMatch(/budgets lists 2 budgets for a 3-layer model/);
    expect(caught(() => budgetOf(pyramidCache({ budgets: [5, 3] }), 2, 2)).detail).toMatch(/layer 2 is not a layer of a 2-layer model/);
  });
});
