/**
 * The reference attention of semantics.md section 1, in float64. Slow and plain on purpose: it is
 * the judge. Two entries share one softmax (referenceWith):
 * - referenceAttention runs a spec's original JavaScript mask and score functions, so a kernel
 *   compared with it checks the whole chain, front end included;
 * - unitReferenceAttention evaluates a kernel unit's final IR with the interpreter
 *   (codegen/ir/interpret.ts): what a shipped kernel, loaded from generated/manifest.json without
 *   its spec, is checked against.
 */
import { specScale, type AttentionSpec } from '../../dsl/attention.ts';
import { evaluateMask } from '../../dsl/mask.ts';
import { interpret } from '../../codegen/ir/interpret.ts';
import type { KernelUnitData } from '../../codegen/unit.ts';
import { defaultQueryPositions, defaultKeyPositions, type AttentionInputs } from '../api/inputs.ts';
import { resolveRunParams } from '../api/runParams.ts';
import type { VariantShape } from '../api/validate.ts';

export interface ReferenceResult {
  /** [B, Hq, Lq, Dv] */
  readonly out: Float64Array;
  /** [B, Hq, Lq], natural log; -Infinity for rows with no admissible key. */
  readonly lse: Float64Array;
}

/** A variant as the reference computes it: shape, scale, and its mask and score as functions of positions. */
export interface ReferenceVariant extends VariantShape {
  readonly scale: number;
  /** Whether query position q of (b, h) may attend key position k; absent: every key. */
  readonly admits?: (b: number, h: number, q: number, k: number) => boolean;
  /** The score of scaled dot product s; absent: s. */
  readonly score?: (s: number, b: number, h: number, q: number, k: number) => number;
}

/** A spec as the reference computes it: with the user's own functions. */
export function specVariant(spec: AttentionSpec): ReferenceVariant {
  const { mask, score } = spec;
  return {
    heads: spec.heads, headDim: spec.headDim, valueDim: spec.valueDim, scale: specScale(spec),
    admits: mask && ((b, h, q, k) => evaluateMask(mask, b, h, q, k)),
    score: score && ((s, b, h, q, k) => score.def.fn(s, b, h, q, k, score.values)),
  };
}

/**
 * A unit as the reference computes it: its IR, interpreted. `params` are run-time values by the
 * names `run()` takes (the unit's bound values where absent), checked as `run()` checks them.
 */
export function unitVariant(unit: KernelUnitData, params?: Readonly<Record<string, number>>): ReferenceVariant {
  const values = resolveRunParams(unit.id, unit.params, params);
  const { mask, score } = unit;
  return {
    heads: unit.heads, headDim: unit.headDim, valueDim: unit.valueDim, scale: unit.scale,
    admits: mask && ((b, h, q, k) => interpret(mask, { b, h, q, k, params: values }) as boolean),
    score: score && ((s, b, h, q, k) => interpret(score, { b, h, q, k, s, params: values }) as number),
  };
}

/** The reference with the user's own functions. */
export function referenceAttention(spec: AttentionSpec, x: AttentionInputs): ReferenceResult {
  return referenceWith(specVariant(spec), x);
}

/** The reference from a unit's IR (see unitVariant). */
export function unitReferenceAttention(unit: KernelUnitData, x: AttentionInputs, params?: Readonly<Record<string, number>>): ReferenceResult {
  return referenceWith(unitVariant(unit, params), x);
}

/** The reference a kernel is judged by: its spec's functions when it has them, else its unit's IR. */
export function kernelReference(kernel: { readonly unit: KernelUnitData; readonly spec?: AttentionSpec }, x: AttentionInputs): ReferenceResult {
  return kernel.spec ? referenceAttention(kernel.spec, x) : unitReferenceAttention(kernel.unit, x);
}

/** Options of referenceWith for caches under a policy (semantics.md section 3). */
export interface ReferenceExtras {
  /** Per key slot [B, Hkv, Lk]: added to the logit after the score function (countBias: ln(count)). */
  readonly bias?: ArrayLike<number>;
  /** Also return every row's probabilities (a dense [B, Hq, Lq, Lk]: references only). */
  readonly probs?: boolean;
  /** What masks and scores see as b and h: the call's b + bOffset and h + hOffset (one head group of a larger batch). */
  readonly bOffset?: number;
  readonly hOffset?: number;
}

/** The softmax of semantics.md section 1 over `v`'s mask and score. */
export function referenceWith(v: ReferenceVariant, x: AttentionInputs, extras: ReferenceExtras = {}): ReferenceResult & { readonly probs?: Float64Array } {
  const { B, Lq, Lk } = x;
  const Hq = v.heads.q;
  const Hkv = v.heads.kv;
  const D = v.headDim;
  const Dv = v.valueDim;
  const group = Hq / Hkv;
  const scale = v.scale;
  const qpos = x.qpos ?? defaultQueryPositions(Lq, Lk);
  const kpos = x.kpos ?? defaultKeyPositions(Lk);
  const out = new Float64Array(B * Hq * Lq * Dv);
  const lse = new Float64Array(B * Hq * Lq);
  const probs = extras.probs ? new Float64Array(B * Hq * Lq * Lk) : undefined;
  const bOff = extras.bOffset ?? 0, hOff = extras.hOffset ?? 0;
  const bias = extras.bias;
  const logits = new Float64Array(Lk);
  const admitted = new Uint8Array(Lk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / group);
      for (let i = 0; i < Lq; i++) {
        const qOff = ((b * Hq + h) * Lq + i) * D;
        const row = (b * Hq + h) * Lq + i;
        let max = -Infinity;
        let anyNaN = false;
        for (let j = 0; j < Lk; j++) {
          const qp = qpos[i]!;
          const kp = kpos[j]!;
          admitted[j] = v.admits ? (v.admits(b + bOff, h + hOff, qp, kp) ? 1 : 0) : 1;
          if (!admitted[j]) continue;
          const kOff = ((b * Hkv + hk) * Lk + j) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += x.q[qOff + d]! * x.k[kOff + d]!;
          let s = scale * dot;
          if (v.score) s = v.score(s, b + bOff, h + hOff, qp, kp);
          if (bias) s += bias[(b * Hkv + hk) * Lk + j]!;
          logits[j] = s;
          if (Number.isNaN(s)) anyNaN = true;
          else if (s > max) max = s;
        }
        const o = row * Dv;
        if (anyNaN) {
          out.fill(NaN, o, o + Dv);
          lse[row] = NaN;
          if (probs) for (let j = 0; j < Lk; j++) if (admitted[j]) probs[row * Lk + j] = NaN;
          continue;
        }
        if (max === -Infinity) {
          // No admissible key, or every admissible score is -inf: output 0, LSE -inf.
          lse[row] = -Infinity;
          continue;
        }
        let sum = 0;
        for (let j = 0; j < Lk; j++) {
          if (!admitted[j]) continue;
          const p = Math.exp(logits[j]! - max);
          sum += p;
          const vOff = ((b * Hkv + hk) * Lk + j) * Dv;
          for (let d = 0; d < Dv; d++) out[o + d]! += p * x.v[vOff + d]!;
        }
        for (let d = 0; d < Dv; d++) out[o + d]! /= sum;
        lse[row] = max + Math.log(sum);
        if (probs) for (let j = 0; j < Lk; j++) if (admitted[j]) probs[row * Lk + j] = Math.exp(logits[j]! - max) / sum;
      }
    }
  }
  return probs ? { out, lse, probs } : { out, lse };
}
