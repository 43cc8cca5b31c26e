/**
 * The standard scheme (every layer its own KV) is plain per-layer attention: a Llama forward
 * written here from scratch in float64 (no scheme, no iteration plan, no cache: each layer's
 * causal GQA attention over its own keys and values of the whole sequence), against the executor
 * in parallel prefill, cached decode and token by token, and against the reference model.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scheme, standard } from '../dsl/index.ts';
import type { ModelShape } from '../dsl/scheme/modelShape.ts';
import { Executor } from '../runtime/model/executor.ts';
import { seededWeights, type ModelWeights } from '../runtime/model/weights.ts';
import { ReferenceModel } from '../runtime/verify/referenceModel.ts';

const seed = Number(process.env.FUZZ_SEED ?? 42);
const model: ModelShape = { hiddenSize: 16, intermediateSize: 24, vocabSize: 20, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: true };
const Hq = 4, Hkv = 2, D = 8;

/** Logits after every token of `tokens`, [T][V]. */
function plainLlama(w: ModelWeights, tokens: readonly number[]): number[][] {
  const H = model.hiddenSize, I = model.intermediateSize, V = model.vocabSize, T = tokens.length;
  const mv = (W: Float32Array, x: number[], rows: number) => Array.from({ length: rows }, (_, r) => x.reduce((a, xi, c) => a + W[r * x.length + c]! * xi, 0));
  const norm = (x: number[], g: Float32Array) => {
    const inv = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length + model.rmsNormEps);
    return x.map((v, i) => v * inv * g[i]!);
  };
  const rope = (x: number[], heads: number, t: number) => {
    const y = x.slice();
    for (let h = 0; h < heads; h++) for (let j = 0; j < D / 2; j++) {
      const a = t * model.ropeTheta ** (-2 * j / D), o = h * D;
      y[o + j] = x[o + j]! * Math.cos(a) - x[o + j + D / 2]! * Math.sin(a);
      y[o + j + D / 2] = x[o + j + D / 2]! * Math.cos(a) + x[o + j]! * Math.sin(a);
    }
    return y;
  };
  let hs = tokens.map((t) => Array.from(w.embed.subarray(t * H, (t + 1) * H)));
  w.layers.forEach((L) => {
    const xs = hs.map((h) => norm(h, L.inputNorm));
    const q = xs.map((x, t) => rope(mv(L.q, x, Hq * D), Hq, t));
    const k = xs.map((x, t) => rope(mv(L.k!, x, Hkv * D), Hkv, t));
    const v = xs.map((x) => mv(L.v!, x, Hkv * D));
    hs = hs.map((h, t) => {
      const attn: number[] = [];
      for (let hq = 0; hq < Hq; hq++) {
        const g = Math.floor(hq / (Hq / Hkv));
        const s = Array.from({ length: t + 1 }, (_, j) => q[t]!.slice(hq * D, (hq + 1) * D).reduce((a, qi, d) => a + qi * k[j]![g * D + d]!, 0) / Math.sqrt(D));
        const m = Math.max(...s), e = s.map((x) => Math.exp(x - m)), z = e.reduce((a, b) => a + b, 0);
        for (let d = 0; d < D; d++) attn.push(e.reduce((a, p, j) => a + (p / z) * v[j]![g * D + d]!, 0));
      }
      const h1 = h.map((x, i) => x + mv(L.o, attn, H)[i]!);
      const x2 = norm(h1, L.postNorm);
      const gate = mv(L.gate, x2, I), up = mv(L.up, x2, I);
      const act = gate.map((gi, i) => (gi / (1 + Math.exp(-gi))) * up[i]!);
      const down = mv(L.down, act, H);
      return h1.map((x, i) => x + down[i]!);
    });
  });
  return hs.map((h) => mv(w.lmHead, norm(h, w.norm), V));
}

describe(`the standard scheme is plain per-layer attention (seed ${seed})`, () => {
  it('executor (prefill, cached decode, token by token) and reference model against a from-scratch Llama', async () => {
    const s = scheme({ layers: 3, heads: { q: Hq, kv: Hkv }, headDim: D, kv: standard(), dtype: 'f32' });
    const ex = await Executor.create(seededWeights(s, model, 1));
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 1 << 20 }), fc.array(fc.integer({ min: 0, max: model.vocabSize - 1 }), { minLength: 2, maxLength: 9 }), fc.integer({ min: 1, max: 8 }), async (ws, tokens, split) => {
      const w = seededWeights(s, model, ws);
      const want = plainLlama(w, tokens);
      const e = ex.withWeights(w);
      const ref = new ReferenceModel(w);
      const cut = Math.min(split, tokens.length - 1);
      const b = e.newBatch(1), one = e.newBatch(1);
      try {
        const V = model.vocabSize;
        const pre = await e.prefill(b, [tokens.slice(0, cut)]);
        const got: Float32Array[] = Array.from({ length: cut }, (_, t) => pre.subarray(t * V, (t + 1) * V));
        for (const t of tokens.slice(cut)) got.push(e.step(b, [t]));
        const rs = ref.newSequence(0);
        tokens.forEach((tok, t) => {
          const byToken = e.step(one, [tok]);
          const r = ref.step(rs, tok);
          for (let i = 0; i < V; i++) {
            expect(Math.abs(got[t]![i]! - want[t]![i]!)).toBeLessThan(2e-4);
            expect(Math.abs(byToken[i]! - want[t]![i]!)).toBeLessThan(2e-4);
            // (The reference stores K and V rounded to the cache dtype, f32 here: 1e-7 apart.)
            expect(Math.abs(r[i]! - want[t]![i]!)).toBeLessThan(1e-6);
          }
        });
      } finally {
        e.disposeBatch(b);
        e.disposeBatch(one);
        e.dispose();
      }
    }), { seed, numRuns: 8 });
  }, 600_000);
});
