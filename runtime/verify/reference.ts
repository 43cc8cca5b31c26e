/**
 * The reference attention of semantics.md section 1, in float64, running the user's original
 * JavaScript mask and score functions. Slow and plain on purpose: it is the judge.
 */
import { specScale, type AttentionSpec } from '../../dsl/attention.ts';
import { evaluateMask } from '../../dsl/mask.ts';
import { defaultQueryPositions, defaultKeyPositions, type AttentionInputs } from '../api/inputs.ts';

export interface ReferenceResult {
  /** [B, Hq, Lq, Dv] */
  readonly out: Float64Array;
  /** [B, Hq, Lq], natural log; -Infinity for rows with no admissible key. */
  readonly lse: Float64Array;
}

export function referenceAttention(spec: AttentionSpec, x: AttentionInputs): ReferenceResult {
  const { B, Lq, Lk } = x;
  const Hq = spec.heads.q;
  const Hkv = spec.heads.kv;
  const D = spec.headDim;
  const Dv = spec.valueDim;
  const group = Hq / Hkv;
  const scale = specScale(spec);
  const qpos = x.qpos ?? defaultQueryPositions(Lq, Lk);
  const kpos = x.kpos ?? defaultKeyPositions(Lk);
  const out = new Float64Array(B * Hq * Lq * Dv);
  const lse = new Float64Array(B * Hq * Lq);
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
          admitted[j] = spec.mask ? (evaluateMask(spec.mask, b, h, qp, kp) ? 1 : 0) : 1;
          if (!admitted[j]) continue;
          const kOff = ((b * Hkv + hk) * Lk + j) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += x.q[qOff + d]! * x.k[kOff + d]!;
          let s = scale * dot;
          if (spec.score) s = spec.score.def.fn(s, b, h, qp, kp, spec.score.values);
          logits[j] = s;
          if (Number.isNaN(s)) anyNaN = true;
          else if (s > max) max = s;
        }
        const o = row * Dv;
        if (anyNaN) {
          out.fill(NaN, o, o + Dv);
          lse[row] = NaN;
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
      }
    }
  }
  return { out, lse };
}
