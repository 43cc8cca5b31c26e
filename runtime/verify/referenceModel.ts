/**
 * The reference model: the oracle of every scheme test (semantics.md section 2). Float64, written
 * from the contract, independent of the kernels and of the executor: each position's attention is
 * the attention reference of section 1 (reference.ts) over the gathered slots, with the layer's
 * mask written from the contract and the scheme's own JavaScript mask and score functions.
 *
 * One sequence at a time (a batch is independent sequences; `b` is its index, what masks see).
 * - step(): token by token. At position t the layers run bottom to top; a KV-computing layer
 *   appends its rotated key and value for t before it attends; a top-attending layer reads its
 *   target's tokens 0..t-1 (the target has not run for t yet), or, in decode mode
 *   'lckvLiteralZeroFill', a zero slot (logit 0, zero value, always admissible, no score function)
 *   followed by tokens 0..t-2.
 * - prefill(): parallel over a prompt, group by group (codegen/scheme/iterationPlan.ts): a plain
 *   group once; a cyclic group m + b passes from the same input, its layers' KV for the prompt
 *   starting as zeros and overwritten by every pass, so a top-attending layer reads the previous
 *   pass's KV of its target.
 * Caches keep every token: windows are masks here (retention is the executor's business), except
 * a cache under a compression policy (the scheme's `policy`), which is its policy reference
 * (policy/policyCache.ts): appended to, attended over in one call per layer (prefill: all prompt
 * rows at once, as the executor's call), and compressed after the prefill and after every step.
 * Keys and values are stored rounded to the cache's dtype (float32 by default), as kernels read them.
 */
import { evaluateMask } from '../../dsl/mask.ts';
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { iterationPlan } from '../../codegen/scheme/iterationPlan.ts';
import { analyseLayers, type LayerInfo } from '../../codegen/scheme/layers.ts';
import type { ModelWeights } from '../model/weights.ts';
import { matVec, rmsNorm, ropeInPlace, swiglu } from './modelMath.ts';
import { referenceWith, type ReferenceVariant } from './reference.ts';
import { roundBf16, roundF16 } from './dtype.ts';
import type { HeadProbs } from './policy/adaptive.ts';
import { attendPolicyCache, PolicyCacheRef } from './policy/policyCache.ts';

/** One layer's cache of one sequence: rotated keys, values and positions, token by token. */
interface LayerCache { keys: Float64Array[]; values: Float64Array[]; positions: number[] }

/** A cache under a compression policy: the policy reference, and the prompt probabilities since its last fill. */
interface PolicyLayer { readonly ref: PolicyCacheRef; probs: HeadProbs[][] }

export interface ReferenceSequence {
  /** Index in its batch: the `b` masks and scores see. */
  readonly b: number;
  /** Tokens processed so far. */
  length: number;
  /** By layer: the cache of a KV-computing layer, else undefined. */
  readonly caches: ReadonlyArray<LayerCache | undefined>;
  /** By layer: the cache of an owner under a compression policy (then `caches` is unused for it). */
  readonly policies: ReadonlyArray<PolicyLayer | undefined>;
}

export interface ReferenceOptions {
  /**
   * Storage dtype of the caches: keys and values are rounded to it when they are stored (what a
   * kernel over a bf16 cache reads), everything else stays float64. @defaultValue 'f32'
   */
  readonly cacheDType?: 'f32' | 'f16' | 'bf16';
}

export class ReferenceModel {
  readonly layers: readonly LayerInfo[];
  private readonly s: SchemeSpec;
  private readonly round: (x: number) => number;

  constructor(readonly w: ModelWeights, o: ReferenceOptions = {}) {
    this.s = w.scheme;
    this.layers = analyseLayers(w.scheme);
    const d = o.cacheDType ?? 'f32';
    this.round = d === 'bf16' ? roundBf16 : d === 'f16' ? roundF16 : Math.fround;
  }

  private stored(x: Float64Array | undefined): Float64Array {
    return x ? x.map(this.round) : new Float64Array(0);
  }

  newSequence(b = 0): ReferenceSequence {
    const { kv } = this.s.heads;
    return {
      b, length: 0,
      caches: this.layers.map((l) => (l.computesKv ? { keys: [], values: [], positions: [] } : undefined)),
      policies: this.layers.map((l) => {
        const p = l.computesKv ? this.s.policies[l.index] : undefined;
        if (!p || p.kind === 'full') return undefined;
        return { ref: new PolicyCacheRef(p, { batch: 1, kvHeads: kv, headDim: this.s.headDim, valueDim: this.s.valueDim, layer: l.index, layers: this.s.layers, round: this.round }), probs: [] };
      }),
    };
  }

  /** Token by token: the logits after `token` at position seq.length. */
  step(seq: ReferenceSequence, token: number): Float64Array {
    const t = seq.length;
    let h = this.embed(token);
    for (const l of this.layers) h = this.layerAt(seq, l, h, t, token);
    seq.length = t + 1;
    // Policies cut back after the step's attention (semantics.md section 3).
    for (const pl of seq.policies) pl?.ref.compress(0, 'decode');
    return this.logits(h);
  }

  /** Parallel prefill of a prompt into an empty sequence: the logits after each prompt token. */
  prefill(seq: ReferenceSequence, tokens: readonly number[]): Float64Array[] {
    if (seq.length !== 0) throw new Error('prefill: the reference prefills an empty sequence');
    const n = tokens.length;
    let H = tokens.map((tok) => this.embed(tok));
    for (const g of iterationPlan(this.s)) {
      const members = this.layers.slice(g.first, g.last + 1);
      if (g.kind === 'cyclic') {
        for (const l of members) {
          const pl = seq.policies[l.index];
          if (pl) this.fillPolicy(pl, tokens, tokens.map(() => new Float64Array(this.s.heads.kv * this.s.headDim)), tokens.map(() => new Float64Array(this.s.heads.kv * this.s.valueDim)));
          const c = seq.caches[l.index];
          if (c) {
            c.keys = tokens.map(() => new Float64Array(this.s.heads.kv * this.s.headDim));
            c.values = tokens.map(() => new Float64Array(this.s.heads.kv * this.s.valueDim));
            c.positions = tokens.map((_, t) => t);
          }
        }
      }
      const input = H;
      for (let pass = 0; pass < g.passes; pass++) {
        H = input.map((x) => Float64Array.from(x));
        for (const l of members) H = this.layerParallel(seq, l, H, n, tokens);
      }
    }
    seq.length = n;
    for (const pl of seq.policies) pl?.ref.compress(0, 'prefill', pl.probs);
    return H.map((x) => this.logits(x));
  }

  private embed(token: number): Float64Array {
    const H = this.w.model.hiddenSize;
    if (!Number.isInteger(token) || token < 0 || token >= this.w.model.vocabSize) throw new RangeError(`token ${token} is outside the vocabulary`);
    return Float64Array.from(this.w.embed.subarray(token * H, (token + 1) * H));
  }

  private logits(h: Float64Array): Float64Array {
    const { hiddenSize: H, vocabSize: V, rmsNormEps } = this.w.model;
    return matVec(this.w.lmHead, rmsNorm(h, this.w.norm, rmsNormEps), V, H);
  }

  /** Rotated queries, and (when the layer computes KV) rotated keys and values, of one position. */
  private project(l: LayerInfo, x: Float64Array, pos: number) {
    const { q: Hq, kv: Hkv } = this.s.heads;
    const D = this.s.headDim, Dv = this.s.valueDim, H = this.w.model.hiddenSize, theta = this.w.model.ropeTheta;
    const lw = this.w.layers[l.index];
    const q = matVec(lw.q, x, Hq * D, H);
    ropeInPlace(q, Hq, D, pos, theta);
    let k: Float64Array | undefined, v: Float64Array | undefined;
    if (lw.k) {
      k = matVec(lw.k, x, Hkv * D, H);
      ropeInPlace(k, Hkv, D, pos, theta);
    }
    if (lw.v) v = matVec(lw.v, x, Hkv * Dv, H);
    return { q, k, v };
  }

  /** The rest of a layer after attention: o_proj, residual, MLP, residual. */
  private finish(l: LayerInfo, h: Float64Array, attn: Float64Array): Float64Array {
    const { hiddenSize: H, intermediateSize: I, rmsNormEps } = this.w.model;
    const lw = this.w.layers[l.index];
    const o = matVec(lw.o, attn, H, this.s.heads.q * this.s.valueDim);
    const h1 = h.map((x, i) => x + o[i]);
    const m = swiglu(rmsNorm(h1, lw.postNorm, rmsNormEps), lw.gate, lw.up, lw.down, H, I);
    return h1.map((x, i) => x + m[i]);
  }

  /** A policy cache holding the prompt's (stored) keys and values, as a fresh fill. */
  private fillPolicy(pl: PolicyLayer, tokens: readonly number[], keys: readonly Float64Array[], values: readonly Float64Array[]): void {
    pl.ref.release(0);
    pl.probs = [];
    pl.ref.append(0, { k: keys.flatMap((x) => Array.from(x)), v: values.flatMap((x) => Array.from(x)), positions: tokens.map((_, t) => t), ids: tokens });
  }

  private layerAt(seq: ReferenceSequence, l: LayerInfo, h: Float64Array, t: number, token: number): Float64Array {
    const lw = this.w.layers[l.index];
    const { q, k, v } = this.project(l, rmsNorm(h, lw.inputNorm, this.w.model.rmsNormEps), t);
    const pl = seq.policies[l.index];
    if (pl) pl.ref.append(0, { k: this.stored(k), v: this.stored(v), positions: [t], ids: [token] });
    const own = seq.caches[l.index];
    if (own) {
      own.keys.push(this.stored(k));
      own.values.push(this.stored(v));
      own.positions.push(t);
    }
    const literal = this.s.decode === 'lckvLiteralZeroFill' && l.attendsTop;
    return this.finish(l, h, this.attend(seq, l, q, t, literal ? t - 1 : Infinity, literal));
  }

  private layerParallel(seq: ReferenceSequence, l: LayerInfo, H: Float64Array[], n: number, tokens: readonly number[]): Float64Array[] {
    const lw = this.w.layers[l.index];
    const proj = H.map((h, t) => this.project(l, rmsNorm(h, lw.inputNorm, this.w.model.rmsNormEps), t));
    const pl = seq.policies[l.index];
    if (pl) this.fillPolicy(pl, tokens, proj.map((p) => this.stored(p.k)), proj.map((p) => this.stored(p.v)));
    const own = seq.caches[l.index];
    if (own) {
      own.keys = proj.map((p) => this.stored(p.k));
      own.values = proj.map((p) => this.stored(p.v));
      own.positions = proj.map((_, t) => t);
    }
    const src = seq.policies[l.keysFrom];
    if (src) {
      // One attention call over the policy cache for all n rows (the executor's prefill call), whose
      // probabilities the adaptive policy profiles on; every row sees the whole prompt under the mask.
      const { q: Hq } = this.s.heads, D = this.s.headDim, Dv = this.s.valueDim;
      const qAll = new Float64Array(Hq * n * D);
      proj.forEach((p, t) => { for (let h = 0; h < Hq; h++) for (let d = 0; d < D; d++) qAll[(h * n + t) * D + d] = Math.fround(p.q[h * D + d]!); });
      const r = attendPolicyCache(this.variantOf(seq, l), src.ref, 0, qAll, tokens.map((_, t) => t));
      r.probs.forEach((hp, hk) => { src.probs[hk] = [...(src.probs[hk] ?? []), ...hp]; });
      return H.map((h, t) => {
        const out = new Float64Array(Hq * Dv);
        for (let hh = 0; hh < Hq; hh++) for (let d = 0; d < Dv; d++) out[hh * Dv + d] = r.out[(hh * n + t) * Dv + d]!;
        return this.finish(l, h, out);
      });
    }
    return H.map((h, t) => this.finish(l, h, this.attend(seq, l, proj[t].q, t, n, false)));
  }

  /**
   * Attention of one position's queries over the first `count` slots of the sources' caches,
   * through the attention reference of semantics.md section 1 (reference.ts: softmax, rows
   * without an admissible key, NaN propagation), under the layer's mask written here from the
   * contract: causal or noDiagonal, the window when sliding, the scheme's extra mask; the scheme's
   * score function. Queries go in as float32, as kernels take them. `zeroSlot`: LCKV's literal
   * decode, a slot of logit 0 and value 0 besides, which scales the output by
   * e^lse / (e^lse + 1) = 1 / (1 + e^-lse).
   */
  /** The layer's attention as the reference computes it: its mask written from the contract, the scheme's overrides. */
  private variantOf(seq: ReferenceSequence, l: LayerInfo): ReferenceVariant {
    const heads = this.s.heads, D = this.s.headDim, Dv = this.s.valueDim;
    const { mask, score } = this.s.attention;
    const W = l.window;
    return {
      heads, headDim: D, valueDim: Dv, scale: this.s.attention.scale ?? 1 / Math.sqrt(D),
      admits: (_b, h, qp, kp) => (l.diagonalMasked ? kp < qp : kp <= qp) && (W === undefined || qp - W < kp) && (!mask || evaluateMask(mask, seq.b, h, qp, kp)),
      score: score && ((x, _b, h, qp, kp) => score.def.fn(x, seq.b, h, qp, kp, score.values)),
    };
  }

  private attend(seq: ReferenceSequence, l: LayerInfo, q: Float64Array, t: number, count: number, zeroSlot: boolean): Float64Array {
    const heads = this.s.heads, D = this.s.headDim, Dv = this.s.valueDim;
    const pl = seq.policies[l.keysFrom];
    if (pl) return Float64Array.from(attendPolicyCache(this.variantOf(seq, l), pl.ref, 0, Float64Array.from(q, Math.fround), [t]).out);
    const K = seq.caches[l.keysFrom]!, V = seq.caches[l.valuesFrom]!;
    const n = Math.max(0, Math.min(count, K.positions.length, V.positions.length));
    const k = new Float32Array(heads.kv * n * D), v = new Float32Array(heads.kv * n * Dv);
    for (let j = 0; j < n; j++) {
      for (let h = 0; h < heads.kv; h++) {
        k.set(K.keys[j].subarray(h * D, (h + 1) * D), (h * n + j) * D);
        v.set(V.values[j].subarray(h * Dv, (h + 1) * Dv), (h * n + j) * Dv);
      }
    }
    const variant = this.variantOf(seq, l);
    const r = referenceWith(variant, { B: 1, Lq: 1, Lk: n, q: Float32Array.from(q), k, v, qpos: Int32Array.of(t), kpos: Int32Array.from(K.positions.slice(0, n)) });
    const out = Float64Array.from(r.out);
    if (zeroSlot) {
      for (let h = 0; h < heads.q; h++) {
        const f = r.lse[h] === -Infinity ? 0 : 1 / (1 + Math.exp(-r.lse[h]));
        for (let d = 0; d < Dv; d++) out[h * Dv + d] *= f;
      }
    }
    return out;
  }
}
