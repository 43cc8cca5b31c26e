/**
 * The model's dense layers in native memory: every projection of ModelWeights packed once
 * (runtime/native/include/kvforge/model/gemm.hpp) into a NativeDecoderModel of the addon that
 * holds the scheme's kernels, so a decode step runs natively end to end (NativeDecodeStep) and
 * the parallel prefill calls the same code a layer at a time.
 *
 * Weight storage: 'f32' as given, or 'bf16' (each value rounded to nearest even: half the bytes a
 * decode step streams). Accumulation is f32 either way. Round the weights first
 * (roundWeights(w, 'bf16')) to compare a bf16 executor with the reference model exactly.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { analyseLayers } from '../../codegen/scheme/layers.ts';
import type { NativeAddon, NativeDecoderModel, NativeDenseMatrix } from '../api/native.ts';
import { allocating } from '../api/nativeError.ts';
import type { ModelWeights } from './weights.ts';

export type WeightDType = 'f32' | 'bf16';
const DTYPE_NUMBER: Readonly<Record<WeightDType, number>> = { f32: 0, bf16: 2 };

export class NativeDecoder {
  #disposed = false;
  /**
   * @param weightBytes bytes of packed matrices: what a decode step streams (the embedding rows it
   *   gathers are not counted)
   */
  private constructor(readonly model: NativeDecoderModel, readonly weightBytes: number, readonly dtype: WeightDType) {}

  static create(addon: NativeAddon, w: ModelWeights, dtype: WeightDType = 'f32'): NativeDecoder {
    if (!(dtype in DTYPE_NUMBER)) throw new KvforgeError('KVF3001', `weight dtype must be 'f32' or 'bf16', received ${String(dtype)}`);
    const s = w.scheme, m = w.model;
    const { q: Hq, kv: Hkv } = s.heads;
    const D = s.headDim, Dv = s.valueDim, H = m.hiddenSize, I = m.intermediateSize, V = m.vocabSize;
    const matrices: NativeDenseMatrix[] = [];
    // One packed copy of an array used twice at the same shape (weights a converter shared).
    const packed = new Map<Float32Array, Map<string, NativeDenseMatrix>>();
    const pack = (name: string, a: Float32Array, rows: number, cols: number): NativeDenseMatrix => {
      const byShape = packed.get(a) ?? new Map<string, NativeDenseMatrix>();
      packed.set(a, byShape);
      const have = byShape.get(`${rows}x${cols}`);
      if (have) return have;
      const mat = allocating(`packed weights '${name}' (${rows} x ${cols}, ${dtype})`, 'less memory in use, or bf16 weights',
        () => new addon.DenseMatrix(a, rows, cols, DTYPE_NUMBER[dtype]));
      byShape.set(`${rows}x${cols}`, mat);
      matrices.push(mat);
      return mat;
    };
    try {
      const layers = analyseLayers(s).map((l, i) => {
        const lw = w.layers[i]!;
        const at = `layers[${i}]`;
        return {
          inputNorm: lw.inputNorm, postNorm: lw.postNorm,
          q: pack(`${at}.q`, lw.q, Hq * D, H),
          k: l.cachesKeys && lw.k ? pack(`${at}.k`, lw.k, Hkv * D, H) : null,
          v: l.cachesValues && lw.v ? pack(`${at}.v`, lw.v, Hkv * Dv, H) : null,
          o: pack(`${at}.o`, lw.o, H, Hq * Dv),
          gate: pack(`${at}.gate`, lw.gate, I, H), up: pack(`${at}.up`, lw.up, I, H), down: pack(`${at}.down`, lw.down, H, I),
        };
      });
      const lmHead = pack('lmHead', w.lmHead, V, H);
      const model = allocating('the decoder model', 'less memory in use', () => new addon.DecoderModel({
        hidden: H, intermediate: I, vocab: V, Hq, Hkv, D, Dv, eps: m.rmsNormEps, theta: m.ropeTheta,
        embed: w.embed, norm: w.norm, lmHead, layers,
      }));
      return new NativeDecoder(model, matrices.reduce((a, mat) => a + mat.bytes, 0), dtype);
    } finally {
      // The model holds what it uses; the JS handles are not needed past this point.
      for (const mat of matrices) mat.release();
    }
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Free the packed weights now (a finaliser does it otherwise). */
  dispose(): void {
    if (this.#disposed) return;
    this.model.release();
    this.#disposed = true;
  }
}
