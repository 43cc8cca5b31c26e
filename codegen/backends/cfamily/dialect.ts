/**
 * What differs between C-family targets when printing an Expr: a table, not code. The C++ CPU
 * backend and the CUDA backend print through the same printer with their own dialect.
 * Helpers named `kvf::...` live in runtime/native/include/kvforge/expr_ops.hpp (host and device).
 */
import type { IndexName, UnaryFn } from '../../ir/expr.ts';

export interface Dialect {
  readonly intType: string;
  readonly floatType: string;
  /** Spelling of float functions (float overloads). */
  readonly floatFn: Readonly<Record<Extract<UnaryFn, 'tanh' | 'exp' | 'log' | 'sqrt' | 'floor'>, string>>;
  readonly helpers: {
    readonly floorDiv: string;
    readonly imin: string; readonly imax: string; readonly iabs: string;
    readonly fmin: string; readonly fmax: string; readonly fabs: string;
  };
  /**
   * Integer arithmetic in double, for an int value that becomes a float and may be -0 (printer.ts,
   * `toFloat`): exact within +-2^53 and with JavaScript's sign of zero. `dmin`/`dmax` are
   * Math.min/max of two doubles without NaN (-0 < +0), written as an immediately called lambda
   * so each operand is evaluated once (no helper outside the generated expression is needed).
   */
  readonly double: {
    readonly type: string;
    readonly fmod: string; readonly floor: string; readonly fabs: string;
    readonly dmin: string; readonly dmax: string;
  };
  /** C names of the indices and the score inside mask()/score(). */
  readonly index: Readonly<Record<IndexName, string>>;
  readonly score: string;
  readonly param: (name: string) => string;
}

export const CPP_DIALECT: Dialect = {
  intType: 'int64_t',
  floatType: 'float',
  floatFn: { tanh: 'tanhf', exp: 'expf', log: 'logf', sqrt: 'sqrtf', floor: 'floorf' },
  helpers: {
    floorDiv: 'kvf::floor_div', imin: 'kvf::imin', imax: 'kvf::imax', iabs: 'kvf::iabs',
    fmin: 'kvf::js_fmin', fmax: 'kvf::js_fmax', fabs: 'fabsf',
  },
  double: {
    type: 'double', fmod: 'fmod', floor: 'floor', fabs: 'fabs',
    dmin: '[](double x, double y) { return x < y || (x == y && std::signbit(x)) ? x : y; }',
    dmax: '[](double x, double y) { return x > y || (x == y && !std::signbit(x)) ? x : y; }',
  },
  index: { b: 'b', h: 'h', q: 'q', k: 'k' },
  score: 's',
  param: (name) => `p_${name}`,
};

/**
 * CUDA differs from C++ only where the kernels are compiled, not in how expressions print: the
 * float functions and kvf:: helpers are __host__ __device__. Kept as its own table so that a
 * difference (say, fast intrinsics) is one line here. Integers are int64_t on the device as on
 * the host: nothing narrows to int32 (a mask value is exact wherever it is within +-2^53, the
 * range the run-time check codegen/passes/checkIntegerRange.ts proves).
 */
export const CUDA_DIALECT: Dialect = { ...CPP_DIALECT };
