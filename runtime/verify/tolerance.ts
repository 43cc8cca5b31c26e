/**
 * The one tolerance table: how far a kernel may be from the float64 reference, per storage dtype.
 * An element passes when |kernel - ref| <= atol + rtol * |ref|; NaN must meet NaN, and infinities
 * must match exactly (an LSE of -inf marks a row with no admissible key: compared exactly).
 *
 * f32: inputs and accumulation in float32; dot products of up to 256 terms and a polynomial exp2
 * (relative error ~2e-7) put typical errors near 1e-6 on unit-scale data; the bounds leave ~20x room.
 * f16, bf16: the reference gets the same rounded inputs (runtime/verify/dtype.ts) and accumulation is
 * float32, so the remaining error is the kernel's own; a little more room for the f32 conversions.
 */
import type { StorageDType } from '../../codegen/planner/plan.ts';

export type DType = StorageDType;

export interface Tolerance { readonly atol: number; readonly rtol: number }

export const TOLERANCES: Readonly<Record<DType, { readonly out: Tolerance; readonly lse: Tolerance }>> = {
  f32: { out: { atol: 2e-5, rtol: 2e-4 }, lse: { atol: 2e-5, rtol: 2e-5 } },
  f16: { out: { atol: 4e-5, rtol: 4e-4 }, lse: { atol: 4e-5, rtol: 4e-5 } },
  bf16: { out: { atol: 4e-5, rtol: 4e-4 }, lse: { atol: 4e-5, rtol: 4e-5 } },
};

export interface Mismatch {
  readonly index: number;
  readonly got: number;
  readonly expected: number;
}

export interface Comparison {
  readonly ok: boolean;
  /** Largest |got - expected| / (atol + rtol * |expected|) over finite pairs (<= 1 passes). */
  readonly worstRatio: number;
  readonly first?: Mismatch;
}

export function compareArrays(got: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): Comparison {
  let worst = 0;
  let first: Mismatch | undefined;
  for (let i = 0; i < expected.length; i++) {
    const g = got[i]!;
    const e = expected[i]!;
    let bad: boolean;
    if (Number.isNaN(e) || Number.isNaN(g) || !Number.isFinite(e) || !Number.isFinite(g)) {
      bad = !Object.is(Number.isNaN(e), Number.isNaN(g)) || (!Number.isNaN(e) && g !== e);
    } else {
      const r = Math.abs(g - e) / (tol.atol + tol.rtol * Math.abs(e));
      if (r > worst) worst = r;
      bad = r > 1;
    }
    if (bad && !first) first = { index: i, got: g, expected: e };
  }
  return { ok: first === undefined && got.length === expected.length, worstRatio: worst, first };
}
