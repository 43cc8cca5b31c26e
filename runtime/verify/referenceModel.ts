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
 * Caches keep every token: windows are masks here (retention is the executor's business). Keys
 * and values are stored rounded to the cache's dtype (float32 by default), as kernels read them.
 */
import { evaluateMask } from '../../dsl/mask.ts';
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { iterationPlan } from '../../codegen/scheme/iterationPlan.ts';
import { analyseLayers, type LayerInfo } from '../../codegen/scheme/layers.ts';
import type { ModelWeights } from '../model/weights.ts';
import { matVec, rmsNorm, ropeInPlace, swiglu } from './modelMath.ts';
import { referenceWith, type ReferenceVariant } from './reference.ts';
import { roundBf16, roundF16 } from './dtype.ts';

/** One layer's cache of one sequence: rotated keys, values and positions, token by token. */
interface LayerCache { keys: Float64Array[]; values: Float64Array[]; positions: number[] }

export interface ReferenceSequence {
  /** Index in its batch: the `b` masks and scores see. */
  readonly b: number;
  /** Tokens processed so far. */
  length: number;
  /** By layer: the cache of a KV-computing layer, else undefined. */
  readonly caches: ReadonlyArray<LayerCache | undefined>;
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
    return { b, length: 0, caches: this.layers.map((l) => (l.computesKv ? { keys: [], values: [], positions: [] } : undefined)) };
  }

  /** Token by token: the logits after `token` at position seq.length. */
  step(seq: ReferenceSequence, token: number): Float64Array {
    const t = seq.length;
    let h = this.embed(token);
    for (const l of this.layers) h = this.layerAt(seq, l, h, t, 'step');
    seq.length = t + 1;
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
        for (const l of members) H = this.layerParallel(seq, l, H, n);
      }
    }
    seq.length = n;
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

  private layerAt(seq: ReferenceSequence, l: LayerInfo, h: Float64Array, t: number, _mode: 'step'): Float64Array {
    const lw = this.w.layers[l.index];
    const { q, k, v } = this.project(l, rmsNorm(h, lw.inputNorm, this.w.model.rmsNormEps), t);
    const own = seq.caches[l.index];
    if (own) {
      own.keys.push(this.stored(k));
      own.values.push(this.stored(v));
      own.positions.push(t);
    }
    const literal = this.s.decode === 'lckvLiteralZeroFill' && l.attendsTop;
    return this.finish(l, h, this.attend(seq, l, q, t, literal ? t - 1 : Infinity, literal));
  }

  private layerParallel(seq: ReferenceSequence, l: LayerInfo, H: Float64Array[], n: number): Float64Array[] {
    const lw = this.w.layers[l.index];
    const proj = H.map((h, t) => this.project(l, rmsNorm(h, lw.inputNorm, this.w.model.rmsNormEps), t));
    const own = seq.caches[l.index];
    if (own) {
      own.keys = proj.map((p) => this.stored(p.k));
      own.values = proj.map((p) => this.stored(p.v));
      own.positions = proj.map((_, t) => t);
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
  private attend(seq: ReferenceSequence, l: LayerInfo, q: Float64Array, t: number, count: number, zeroSlot: boolean): Float64Array {
    const heads = this.s.heads, D = this.s.headDim, Dv = this.s.valueDim;
    const K = seq.caches[l.keysFrom]!, V = seq.caches[l.valuesFrom]!;
    const n = Math.max(0, Math.min(count, K.positions.length, V.positions.length));
    const k = new Float32Array(heads.kv * n * D), v = new Float32Array(heads.kv * n * Dv);
    for (let j = 0; j < n; j++) {
      for (let h = 0; h < heads.kv; h++) {
        k.set(K.keys[j].subarray(h * D, (h + 1) * D), (h * n + j) * D);
        v.set(V.values[j].subarray(h * Dv, (h + 1) * Dv), (h * n + j) * Dv);
      }
    }
    const { mask, score } = this.s.attention;
    const W = l.window;
    const variant: ReferenceVariant = {
      heads, headDim: D, valueDim: Dv, scale: this.s.attention.scale ?? 1 / Math.sqrt(D),
      admits: (_b, h, qp, kp) => (l.diagonalMasked ? kp < qp : kp <= qp) && (W === undefined || qp - W < kp) && (!mask || evaluateMask(mask, seq.b, h, qp, kp)),
      score: score && ((x, _b, h, qp, kp) => score.def.fn(x, seq.b, h, qp, kp, score.values)),
    };
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
