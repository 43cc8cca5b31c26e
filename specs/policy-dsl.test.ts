/**
 * Cache policies in the DSL (semantics.md section 3, issue 9 part 1): what the constructors accept,
 * the coded errors (KVF2012 at the user's file:line) for what they refuse, and the per-layer
 * budgets of the pyramid formula.
 */
import { describe, expect, it } from 'vitest';
import { adaptiveCache, fullCache, pyramidCache, sinkCache, slidingCache, isCachePolicy, policyData } from '../dsl/policy/policy.ts';
import { scheme } from '../dsl/index.ts';
import { declarationOf, schemeOfDeclaration } from '../codegen/scheme/manifestScheme.ts';
import { memoryFigures } from '../codegen/scheme/cachePlan.ts';
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

describe('policies on schemes', () => {
  const shape = { layers: 4, heads: { q: 4, kv: 2 }, headDim: 8 };
  it('one policy goes to every cache-owning layer; a list sets them per layer', () => {
    const p = sinkCache({ sinks: 2, windowLength: 64 });
    const s = scheme({ ...shape, kv: [0, 3, 3, 3], policy: p });
    // Layers 1 and 2 read layer 3's cache: layers 0 and 3 own caches.
    expect(s.policies.map((x) => x?.kind)).toEqual(['sinks', undefined, undefined, 'sinks']);
    const t = scheme({ ...shape, policy: [pyramidCache({ budgets: [8, 6, 4, 2] }), null, undefined, fullCache()] });
    expect(t.policies.map((x) => x?.kind)).toEqual(['pyramid', undefined, undefined, 'full']);
    expect(scheme(shape).policies).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('refuse a policy where no cache can take it, with KVF2009 at the scheme', () => {
    const p = sinkCache({ sinks: 2, windowLength: 64 });
    const at = (f: () => unknown) => {
      const e = caught(f);
      expect(here(e)).toBeGreaterThan(0);
      return e;
    };
    expect(at(() => scheme({ ...shape, kv: [0, 3, 3, 3], policy: [null, p, null, null] })).detail).toMatch(/policy\[1\]: layer 1 owns no cache/);
    expect(at(() => scheme({ ...shape, policy: [p, p] })).detail).toMatch(/policy lists 2 entries for 4 layers/);
    expect(at(() => scheme({ ...shape, policy: { kind: 'sinks', sinks: 1, windowLength: 4 } as never })).detail).toMatch(/must be a cache policy/);
    expect(at(() => scheme({ ...shape, kv: [0, { from: 1, sliding: true, window: 8 }, 2, 3], policy: [null, p, null, null] })).detail)
      .toMatch(/every reader of layer 1's cache slides/);
    expect(at(() => scheme({ ...shape, kv: [0, { keysFrom: 1, valuesFrom: 0 }, 2, 3], policy: [p, null, null, null] })).detail)
      .toMatch(/read together with another cache/);
    // Budgets: L0 = 2, beta = 8 over 4 layers: layer 3 gets floor(2 * (1 - 3/4 * 7/8)) = 0.
    const e = at(() => scheme({ ...shape, policy: pyramidCache({ L0: 2, beta: 8 }) }));
    expect(e.code).toBe('KVF2012');
    expect(e.detail).toMatch(/layer 3 of 4 is 0/);
  });

  it('round-trip through the manifest declaration', () => {
    const s = scheme({ ...shape, policy: [pyramidCache({ L0: 16, beta: 2, pooling: 'best', importance: 'keyNorm', countBias: true }), sinkCache({ sinks: 1, windowLength: 9 }),
      adaptiveCache({ T: 0.9, special: [1], punctuation: [13, 29889], policyDecode: true }), null] });
    const d = declarationOf(s);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    const back = schemeOfDeclaration(JSON.parse(JSON.stringify(d)));
    expect(back.policies.map((p) => p && policyData(p))).toEqual(s.policies.map((p) => p && policyData(p)));
    expect(declarationOf(scheme(shape))).not.toHaveProperty('policies');
  });

  it('memory figures count what the policies keep', () => {
    // 4 layers, 2 KV heads, D = Dv = 8, bf16: 64 bytes per token per layer. At context 1000 a
    // sink cache of windowLength 100 holds 100 slots: 4 * 64 * 100 bytes instead of 4 * 64 * 1000.
    const s = scheme({ ...shape, policy: sinkCache({ sinks: 4, windowLength: 100 }) });
    expect(memoryFigures(s, 1000).bytesPerSequence).toBe(4 * 64 * 100);
    expect(memoryFigures(scheme(shape), 1000).bytesPerSequence).toBe(4 * 64 * 1000);
    // Pyramid with W = 10, groups of 2, no sinks: the merged region settles near W / (g - 1).
    const py = memoryFigures(scheme({ ...shape, policy: pyramidCache({ budgets: [10, 10, 10, 10], sinks: 0 }) }), 1000).bytesPerSequence;
    expect(py).toBeLessThanOrEqual(4 * 64 * 21);
    expect(py).toBeGreaterThanOrEqual(4 * 64 * 11);
  });
});
