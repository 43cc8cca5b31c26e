/**
 * The weights of the Llama-style model around a scheme (semantics.md section 2, "The model around
 * a scheme"), in Hugging Face's layout: every projection row-major [out, in] (PyTorch Linear), so
 * a loaded checkpoint is used as it is. A layer has K / V projections only when its cache holds
 * keys / values (codegen/scheme/cachePlan.ts): LCKV's non-computing layers have none.
 */
import type { ModelShape } from '../../dsl/scheme/modelShape.ts';
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { analyseLayers } from '../../codegen/scheme/layers.ts';
import { rng } from '../verify/random.ts';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { roundBf16 } from '../verify/dtype.ts';

export interface LayerWeights {
  /** input_layernorm [H] */
  readonly inputNorm: Float32Array;
  /** q_proj [Hq * D, H] */
  readonly q: Float32Array;
  /** k_proj [Hkv * D, H], when this layer's keys are read */
  readonly k: Float32Array | undefined;
  /** v_proj [Hkv * Dv, H], when this layer's values are read */
  readonly v: Float32Array | undefined;
  /** o_proj [H, Hq * Dv] */
  readonly o: Float32Array;
  /** post_attention_layernorm [H] */
  readonly postNorm: Float32Array;
  /** gate_proj, up_proj [I, H]; down_proj [H, I] */
  readonly gate: Float32Array;
  readonly up: Float32Array;
  readonly down: Float32Array;
}

export interface ModelWeights {
  readonly scheme: SchemeSpec;
  readonly model: ModelShape;
  /** embed_tokens [V, H] */
  readonly embed: Float32Array;
  readonly layers: readonly LayerWeights[];
  /** norm [H] */
  readonly norm: Float32Array;
  /** lm_head [V, H]; the embeddings themselves when tieWordEmbeddings */
  readonly lmHead: Float32Array;
}

/**
 * Seeded random weights: projections uniform in +-sqrt(3 / fan_in) (unit variance per output for
 * unit inputs), norms around 1. Same seed, same weights, on every machine.
 */
export function seededWeights(scheme: SchemeSpec, model: ModelShape, seed: number): ModelWeights {
  const r = rng(seed);
  const H = model.hiddenSize, I = model.intermediateSize, V = model.vocabSize;
  const { q: Hq, kv: Hkv } = scheme.heads;
  const D = scheme.headDim, Dv = scheme.valueDim;
  const alloc = (n: number) => {
    try {
      return new Float32Array(n);
    } catch {
      throw new KvforgeError('KVF3005', `seeded weights: a tensor of ${n} floats cannot be allocated (hidden ${H}, MLP ${I}, vocab ${V})`);
    }
  };
  const mat = (rows: number, cols: number, gain = 1) => {
    const a = alloc(rows * cols);
    const s = gain * Math.sqrt(3 / cols);
    for (let i = 0; i < a.length; i++) a[i] = (2 * r() - 1) * s;
    return a;
  };
  const norm = () => {
    const a = new Float32Array(H);
    for (let i = 0; i < H; i++) a[i] = 1 + 0.2 * (2 * r() - 1);
    return a;
  };
  const info = analyseLayers(scheme);
  const embed = mat(V, H, Math.sqrt(H / 3));
  const layers = info.map((l): LayerWeights => ({
    inputNorm: norm(), q: mat(Hq * D, H),
    k: l.cachesKeys ? mat(Hkv * D, H) : undefined, v: l.cachesValues ? mat(Hkv * Dv, H) : undefined,
    // Residual branches scaled down so activations stay O(1) through many layers.
    o: mat(H, Hq * Dv, 0.5), postNorm: norm(), gate: mat(I, H), up: mat(I, H), down: mat(H, I, 0.5),
  }));
  return { scheme, model, embed, layers, norm: norm(), lmHead: model.tieWordEmbeddings ? embed : mat(V, H) };
}

/**
 * Check weights against their scheme and model shape: one layer per scheme layer, every array of
 * its exact length, K / V projections exactly where the cache plan reads them, an even head dim
 * (RoPE rotates pairs). KVF3004 naming the tensor, before anything runs on them.
 */
export function checkWeights(w: ModelWeights): void {
  const s = w.scheme, m = w.model;
  const fail = (detail: string): never => {
    throw new KvforgeError('KVF3004', `weights of scheme '${s.name}': ${detail}`);
  };
  if (s.headDim % 2 !== 0) fail(`head dim ${s.headDim} is odd; RoPE (rotate-half) needs an even head dim`);
  const H = m.hiddenSize, I = m.intermediateSize, V = m.vocabSize;
  const { q: Hq, kv: Hkv } = s.heads;
  const D = s.headDim, Dv = s.valueDim;
  const len = (name: string, a: Float32Array | undefined, n: number) => {
    if (!(a instanceof Float32Array)) fail(`${name} is missing`);
    if (a!.length !== n) fail(`${name} holds ${a!.length} values, the shape needs ${n}`);
  };
  len('embed', w.embed, V * H);
  len('norm', w.norm, H);
  len('lmHead', w.lmHead, V * H);
  if (!Array.isArray(w.layers) || w.layers.length !== s.layers) fail(`${Array.isArray(w.layers) ? w.layers.length : 'no'} layers for the scheme's ${s.layers}`);
  analyseLayers(s).forEach((l, i) => {
    const lw = w.layers[i];
    len(`layers[${i}].inputNorm`, lw.inputNorm, H);
    len(`layers[${i}].q`, lw.q, Hq * D * H);
    len(`layers[${i}].o`, lw.o, H * Hq * Dv);
    len(`layers[${i}].postNorm`, lw.postNorm, H);
    len(`layers[${i}].gate`, lw.gate, I * H);
    len(`layers[${i}].up`, lw.up, I * H);
    len(`layers[${i}].down`, lw.down, H * I);
    if (l.cachesKeys) len(`layers[${i}].k`, lw.k, Hkv * D * H);
    else if (lw.k) fail(`layers[${i}].k is given, but no layer reads layer ${i}'s keys`);
    if (l.cachesValues) len(`layers[${i}].v`, lw.v, Hkv * Dv * H);
    else if (lw.v) fail(`layers[${i}].v is given, but no layer reads layer ${i}'s values`);
  });
}

/**
 * The same weights with every value rounded to bf16 (nearest even), still as Float32Arrays: what
 * an executor with bf16 weight storage multiplies, so the reference model can be given exactly
 * those values. Tied embeddings stay tied.
 */
export function roundWeights(w: ModelWeights, dtype: 'bf16'): ModelWeights {
  if (dtype !== 'bf16') throw new KvforgeError('KVF3001', `roundWeights rounds to 'bf16', received ${String(dtype)}`);
  const r = (a: Float32Array) => Float32Array.from(a, roundBf16);
  const r1 = (a: Float32Array | undefined) => (a ? r(a) : undefined);
  const embed = r(w.embed);
  return {
    ...w, embed, norm: r(w.norm), lmHead: w.lmHead === w.embed ? embed : r(w.lmHead),
    layers: w.layers.map((l) => ({ inputNorm: r(l.inputNorm), q: r(l.q), k: r1(l.k), v: r1(l.v), o: r(l.o), postNorm: r(l.postNorm), gate: r(l.gate), up: r(l.up), down: r(l.down) })),
  };
}
