/**
 * The reference model's own contract (semantics.md section 2), on random schemes (cycles, sliding
 * layers, separate key and value sources, forceNoDiagonal), shapes and weights:
 * - parallel prefill equals token by token for prompts of at most m + b tokens, and for the first
 *   m + b tokens of longer ones (tokens 0..k-1 are exact after k passes);
 * - a top-attending layer attends to nothing at token 0 (so its attention output is 0);
 * - lckvLiteralZeroFill equals the exact decode where it must (no top-attending layer, token 0)
 *   and differs where the public code does (it drops token t-1);
 * - a sliding window wider than the prompt changes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scheme, type SchemeSpec } from '../dsl/index.ts';
import type { ModelShape } from '../dsl/scheme/modelShape.ts';
import { seededWeights } from '../runtime/model/weights.ts';
import { ReferenceModel } from '../runtime/verify/referenceModel.ts';
import { tableArb } from './support/scheme-arbs.ts';

const seed = Number(process.env.FUZZ_SEED ?? 42);
const numRuns = Number(process.env.FUZZ_RUNS ?? 40);

const tiny = (H: number, vocab = 24): ModelShape => ({ hiddenSize: H, intermediateSize: 2 * H, vocabSize: vocab, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false });

const caseArb = fc.record({
  table: tableArb(5),
  heads: fc.constantFrom({ q: 2, kv: 1 }, { q: 2, kv: 2 }, { q: 4, kv: 2 }),
  headDim: fc.constantFrom(2, 4, 6),
  window: fc.integer({ min: 1, max: 6 }),
  forceNoDiagonal: fc.boolean(),
  split: fc.boolean(),
  m: fc.integer({ min: 1, max: 4 }), b: fc.integer({ min: 0, max: 2 }),
  weightSeed: fc.integer({ min: 0, max: 1 << 30 }),
  tokens: fc.array(fc.integer({ min: 0, max: 23 }), { minLength: 1, maxLength: 9 }),
}).map((c) => {
  const L = c.table.length;
  const kv = c.table.map((r, i) => (c.split && i % 2 === 1 ? { keysFrom: r.keysFrom, valuesFrom: (r.keysFrom + 1) % L, sliding: r.sliding } : { from: r.keysFrom, sliding: r.sliding }));
  const s = scheme({ layers: L, heads: c.heads, headDim: c.headDim, kv, window: c.window, forceNoDiagonal: c.forceNoDiagonal, iterations: { m: c.m, b: c.b }, dtype: 'f32' });
  return { s, model: tiny(8), weightSeed: c.weightSeed, tokens: c.tokens };
});

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

function bothWays(s: SchemeSpec, model: ModelShape, weightSeed: number, tokens: readonly number[]) {
  const ref = new ReferenceModel(seededWeights(s, model, weightSeed));
  const a = ref.newSequence(), b = ref.newSequence();
  const parallel = ref.prefill(a, tokens);
  const sequential = tokens.map((t) => ref.step(b, t));
  return { ref, parallel, sequential, a, b };
}

describe(`reference model (seed ${seed})`, () => {
  it('parallel prefill = token by token for the first m + b tokens (all of a prompt of at most m + b)', () => {
    fc.assert(fc.property(caseArb, ({ s, model, weightSeed, tokens }) => {
      const { parallel, sequential, ref, a, b } = bothWays(s, model, weightSeed, tokens);
      const exact = Math.min(tokens.length, s.iterations.m + s.iterations.b);
      for (let t = 0; t < exact; t++) expect(maxDiff(parallel[t], sequential[t])).toBeLessThan(1e-9);
      if (tokens.length <= s.iterations.m + s.iterations.b) {
        // And the caches the two leave behind.
        for (const l of ref.layers) {
          const ca = a.caches[l.index], cb = b.caches[l.index];
          if (!ca || !cb) continue;
          ca.keys.forEach((k, t) => expect(maxDiff(k, cb.keys[t])).toBeLessThan(1e-9));
          ca.values.forEach((v, t) => expect(maxDiff(v, cb.values[t])).toBeLessThan(1e-9));
        }
      }
    }), { seed, numRuns });
  });

  it('without a top-attending layer, parallel prefill equals token by token at any length', () => {
    const s = scheme({ layers: 3, heads: { q: 4, kv: 2 }, headDim: 4, kv: '0_0s_1', window: 3, dtype: 'f32' });
    const { parallel, sequential } = bothWays(s, tiny(8), 7, [1, 5, 2, 9, 3, 3, 0, 11, 4, 8, 20, 1]);
    parallel.forEach((p, t) => expect(maxDiff(p, sequential[t])).toBeLessThan(1e-9));
  });

  it('regression: a cycle (1_2s_0) with one pass is exact for token 0 only, and visibly not after', () => {
    const s = scheme({ layers: 3, heads: { q: 2, kv: 1 }, headDim: 4, kv: '1_2s_0', window: 4, iterations: { m: 1, b: 0 }, dtype: 'f32' });
    const { parallel, sequential } = bothWays(s, tiny(8), 3, [4, 1, 7, 2]);
    expect(maxDiff(parallel[0], sequential[0])).toBeLessThan(1e-9);
    expect(maxDiff(parallel[3], sequential[3])).toBeGreaterThan(1e-6);
  });

  it('a top-attending layer attends to nothing at token 0; literal zero fill agrees there and drops token t-1 after', () => {
    const base = { layers: 3, heads: { q: 2, kv: 1 }, headDim: 4, kv: '0_2_2', dtype: 'f32' } as const;
    const exact = new ReferenceModel(seededWeights(scheme(base), tiny(8), 11));
    const literal = new ReferenceModel(seededWeights(scheme({ ...base, decode: 'lckvLiteralZeroFill' }), tiny(8), 11));
    const e = exact.newSequence(), l = literal.newSequence();
    const tokens = [3, 8, 1, 6];
    const outs = tokens.map((t) => [exact.step(e, t), literal.step(l, t)]);
    expect(maxDiff(outs[0][0], outs[0][1])).toBe(0);
    // Token 1: exact attends to the target's token 0; literal only to the zero slot.
    for (let t = 1; t < tokens.length; t++) expect(maxDiff(outs[t][0], outs[t][1])).toBeGreaterThan(1e-6);
    // Without a top-attending layer the mode changes nothing.
    const plain = { layers: 2, heads: { q: 2, kv: 1 }, headDim: 4, kv: '0_0', dtype: 'f32' } as const;
    const p1 = new ReferenceModel(seededWeights(scheme(plain), tiny(8), 5)), p2 = new ReferenceModel(seededWeights(scheme({ ...plain, decode: 'lckvLiteralZeroFill' }), tiny(8), 5));
    const s1 = p1.newSequence(), s2 = p2.newSequence();
    for (const t of tokens) expect(maxDiff(p1.step(s1, t), p2.step(s2, t))).toBe(0);
  });

  it('a window wider than the prompt changes nothing; a narrow one does', () => {
    const tokens = [2, 9, 4, 4, 1, 7];
    const run = (kv: string, window: number) => {
      const ref = new ReferenceModel(seededWeights(scheme({ layers: 2, heads: { q: 2, kv: 1 }, headDim: 4, kv, window, dtype: 'f32' }), tiny(8), 9));
      const sq = ref.newSequence();
      return tokens.map((t) => ref.step(sq, t));
    };
    const full = run('0_1', 4096), wide = run('0s_1s', tokens.length), narrow = run('0s_1s', 2);
    wide.forEach((w, t) => expect(maxDiff(w, full[t])).toBe(0));
    expect(maxDiff(narrow[5], full[5])).toBeGreaterThan(1e-6);
  });

  it('tied embeddings use the embedding matrix as the LM head; a token outside the vocabulary is refused', () => {
    const s = scheme({ layers: 1, heads: { q: 2, kv: 1 }, headDim: 4, dtype: 'f32' });
    const w = seededWeights(s, { ...tiny(8), tieWordEmbeddings: true }, 1);
    expect(w.lmHead).toBe(w.embed);
    const ref = new ReferenceModel(w);
    expect(() => ref.step(ref.newSequence(), 24)).toThrow(/outside the vocabulary/);
  });
});
