/**
 * Storage dtypes: what K and V are stored in (queries, accumulation and outputs are float32). The
 * reference is given the same rounded K and V, so the tolerance table measures the kernel, not the
 * rounding.
 */
import type { StorageDType } from '../../codegen/planner/plan.ts';
import type { AttentionInputs } from '../api/inputs.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16: the upper 16 bits of a float32, rounded to nearest even. */
export function roundBf16(x: number): number {
  f32[0] = x;
  if (Number.isNaN(f32[0]!)) return Number.NaN;
  const bits = u32[0]!;
  u32[0] = ((bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000) >>> 0;
  return f32[0]!;
}

/** IEEE binary16, rounded to nearest even (subnormals below 2^-14, overflow to infinity). */
export function roundF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(Math.fround(x));
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const n = a / ulp;
  const fl = Math.floor(n);
  const r = n - fl > 0.5 || (n - fl === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  const v = r * ulp;
  return Math.sign(x) * (v >= 65520 ? Infinity : v);
}

const ROUND: Readonly<Record<StorageDType, ((x: number) => number) | null>> = { f32: null, f16: roundF16, bf16: roundBf16 };

/** The inputs as a kernel storing `dtype` sees them. */
export function roundInputs(x: AttentionInputs, dtype: StorageDType): AttentionInputs {
  const r = ROUND[dtype];
  if (!r) return x;
  return { ...x, k: x.k.map(r), v: x.v.map(r) };
}
