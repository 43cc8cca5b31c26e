/**
 * The one check of a parameter value, shared by `.with({...})` (binding at declaration) and by
 * run-time values (`run(x, { params })`): the same rule, the same KVF2002 error, whichever path a
 * value takes into a kernel.
 *
 * - int32: an integer in [-2^31, 2^31 - 1] (kernels read it as int64, but the declared type is the
 *   contract, and the reference and the interval pass reason about the declared range).
 * - float32: a finite number whose float32 rounding is finite too (1e300 would become Infinity in
 *   the kernel and NaN downstream). The value is rounded once, here, so the reference, the tile
 *   classifier and the kernel all see the same float32 number.
 */
import { KvforgeError, type SourceLocation } from './diagnostics.ts';
import type { ParamType } from './types.ts';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function describe(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'bigint') return `the bigint ${v}n`;
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (v === null) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

/**
 * `value` checked against `type` and normalised (float32 rounded); `what` names it in the error,
 * e.g. "parameter 'window' of 'slidingWindow'".
 */
export function checkParamValue(what: string, type: ParamType, value: unknown, location?: SourceLocation): number {
  if (type === 'int32') {
    if (typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) return value === 0 ? 0 : value;
    throw new KvforgeError('KVF2002', `${what} must be an integer in the int32 range [-2147483648, 2147483647], got ${describe(value)}`, { location });
  }
  if (typeof value === 'number' && Number.isFinite(value) && Number.isFinite(Math.fround(value))) return Math.fround(value);
  throw new KvforgeError('KVF2002', `${what} must be a finite float32 (|x| <= 3.4028235e38), got ${describe(value)}`, {
    location, hint: typeof value === 'number' && Number.isFinite(value) ? 'it rounds to Infinity in float32' : undefined,
  });
}
