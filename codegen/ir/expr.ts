/**
 * Expr IR: the typed form of a mask or score body.
 *
 * Plain serialisable data (canonicalJson round-trips it, -0 included), a discriminated union on
 * `op`. No tree is deeper than MAX_IR_DEPTH (depth.ts), so passes may recurse. Every node carries
 * its result type. The semantics below are the contract: `interpret.ts` follows them, the
 * C-family printer emits code with the same meaning, and the interval pass bounds them.
 *
 * Types
 * - `int`:   an integer, exactly as JavaScript computes it: a double holding an integer, so it
 *            may be -0 (`-0`, `0 * -1`, `-3 % 3`, `-(q - k)` at q = k). Arithmetic is exact while
 *            every intermediate value stays within +-(2^53 - 1), JavaScript's safe range, and
 *            only there: kernels compute in int64 (C++ and CUDA alike; nothing narrows to
 *            int32), which agrees with JavaScript exactly on that range, and every call proves
 *            its range first (passes/checkIntegerRange.ts: q over the call's query positions, k
 *            over its key positions, b in [0, B-1], h in [0, Hq-1], parameters at their values),
 *            or fails with KVF3007 naming the sub-expression. The sign of a zero is invisible to
 *            int operations and comparisons; it shows only once the value becomes a float
 *            (`toFloat`, then a division), where the printer keeps it (printer.ts, toFloat).
 * - `float`: a real number. The interpreter computes in float64 (what the user's JavaScript
 *            does); kernels compute in float32. The tolerance table covers the difference.
 * - `bool`:  true or false.
 *
 * Nodes
 * - const  {type, value}: a literal: the number the JavaScript engine gives its token
 *          (frontend/literals.ts), -0 included. int values are safe integers; float values any
 *          double (kernels use Math.fround of it); bool values are booleans. Plain JSON drops
 *          the sign of -0: hash.ts (canonicalJson) keeps it.
 * - index  {name}: int. `b` batch, `h` query head, `q` query token position, `k` key token
 *          position (positions, never slot indices: semantics.md section 1).
 * - param  {name, type}: a declared parameter; its value is bound at build or call time.
 * - score  {}: float. The scaled score `s = scale * dot(q, k)`; only in score functions.
 * - unary  {fn, arg}:
 *     neg    int->int, float->float    -x
 *     not    bool->bool                !x
 *     abs    int->int, float->float    |x|
 *     floor  float->float              largest integer <= x (float result)
 *     toFloat int->float               the same number as a float (inserted by the front end
 *                                      wherever an int meets a float, as JavaScript does)
 *     tanh, exp, log, sqrt  float->float   the usual functions; log(x<0) and sqrt(x<0) are NaN
 * - binary {fn, lhs, rhs}: operands of one type (the front end inserts toFloat)
 *     add sub mul         int or float; int results are exact (see the int range above)
 *     div                 float only: IEEE division (x/0 = +-Inf, 0/0 = NaN)
 *     floorDiv            int only: floor(lhs / rhs), rounding toward -Inf, as JavaScript's
 *                         Math.floor(a / b) does (C's `/` truncates toward 0 instead).
 *                         rhs must be nonzero: the front end only accepts constant or parameter
 *                         divisors and parameter values are checked when bound.
 *     mod                 int only: lhs - rhs * trunc(lhs / rhs), the sign of the dividend, as
 *                         both JavaScript's and C's `%`. Same divisor rule as floorDiv.
 *     min max             int or float; for floats NaN in either operand gives NaN (Math.min)
 *     lt le gt ge         int or float -> bool; any comparison with NaN is false
 *     eq ne               same-typed operands -> bool (ne with NaN is true)
 *     and or              bool -> bool; both sides are pure, so short-circuit order is invisible
 * - select {cond, then, else}: `cond ? then : else`; then/else share the result type.
 */

export type ScalarType = 'int' | 'float' | 'bool';
export type IndexName = 'b' | 'h' | 'q' | 'k';

export type UnaryFn = 'neg' | 'not' | 'abs' | 'floor' | 'toFloat' | 'tanh' | 'exp' | 'log' | 'sqrt';
export type BinaryFn =
  | 'add' | 'sub' | 'mul' | 'div' | 'floorDiv' | 'mod' | 'min' | 'max'
  | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne' | 'and' | 'or';

export interface ConstExpr { readonly op: 'const'; readonly type: ScalarType; readonly value: number | boolean }
export interface IndexExpr { readonly op: 'index'; readonly type: 'int'; readonly name: IndexName }
export interface ParamExpr { readonly op: 'param'; readonly type: 'int' | 'float'; readonly name: string }
export interface ScoreExpr { readonly op: 'score'; readonly type: 'float' }
export interface UnaryExpr { readonly op: 'unary'; readonly type: ScalarType; readonly fn: UnaryFn; readonly arg: Expr }
export interface BinaryExpr {
  readonly op: 'binary'; readonly type: ScalarType; readonly fn: BinaryFn; readonly lhs: Expr; readonly rhs: Expr;
}
export interface SelectExpr {
  readonly op: 'select'; readonly type: ScalarType; readonly cond: Expr; readonly then: Expr; readonly else: Expr;
}

export type Expr = ConstExpr | IndexExpr | ParamExpr | ScoreExpr | UnaryExpr | BinaryExpr | SelectExpr;

// Every function name, checked complete by the Record types (readers of serialised IR use them).
const UNARY_TABLE: Readonly<Record<UnaryFn, true>> = { neg: true, not: true, abs: true, floor: true, toFloat: true, tanh: true, exp: true, log: true, sqrt: true };
const BINARY_TABLE: Readonly<Record<BinaryFn, true>> = {
  add: true, sub: true, mul: true, div: true, floorDiv: true, mod: true, min: true, max: true,
  lt: true, le: true, gt: true, ge: true, eq: true, ne: true, and: true, or: true,
};
export const UNARY_FNS = Object.keys(UNARY_TABLE) as readonly UnaryFn[];
export const BINARY_FNS = Object.keys(BINARY_TABLE) as readonly BinaryFn[];
export const INDEX_NAMES: readonly IndexName[] = ['b', 'h', 'q', 'k'];

export const COMPARISONS: ReadonlySet<BinaryFn> = new Set(['lt', 'le', 'gt', 'ge', 'eq', 'ne']);
export const LOGICAL: ReadonlySet<BinaryFn> = new Set(['and', 'or']);
export const FLOAT_FUNCS: ReadonlySet<UnaryFn> = new Set(['tanh', 'exp', 'log', 'sqrt', 'floor']);

/** Result type of a binary op given its operand type. */
export function binaryResultType(fn: BinaryFn, operand: ScalarType): ScalarType {
  return COMPARISONS.has(fn) || LOGICAL.has(fn) ? 'bool' : operand;
}

// Small constructors: every pass and test builds nodes through these so types stay consistent.
export const E = {
  int: (value: number): ConstExpr => ({ op: 'const', type: 'int', value }),
  float: (value: number): ConstExpr => ({ op: 'const', type: 'float', value }),
  bool: (value: boolean): ConstExpr => ({ op: 'const', type: 'bool', value }),
  index: (name: IndexName): IndexExpr => ({ op: 'index', type: 'int', name }),
  param: (name: string, type: 'int' | 'float'): ParamExpr => ({ op: 'param', type, name }),
  score: (): ScoreExpr => ({ op: 'score', type: 'float' }),
  unary: (fn: UnaryFn, arg: Expr): UnaryExpr => ({
    op: 'unary', fn, arg, type: fn === 'not' ? 'bool' : fn === 'toFloat' || FLOAT_FUNCS.has(fn) ? 'float' : arg.type,
  }),
  binary: (fn: BinaryFn, lhs: Expr, rhs: Expr): BinaryExpr => ({
    op: 'binary', fn, lhs, rhs, type: binaryResultType(fn, lhs.type),
  }),
  select: (cond: Expr, then: Expr, otherwise: Expr): SelectExpr => ({
    op: 'select', cond, then, else: otherwise, type: then.type,
  }),
};

/** Children of a node, in evaluation order. */
export function children(e: Expr): Expr[] {
  switch (e.op) {
    case 'unary': return [e.arg];
    case 'binary': return [e.lhs, e.rhs];
    case 'select': return [e.cond, e.then, e.else];
    default: return [];
  }
}

/** Names of indices, parameters and whether the score is read, anywhere in `e`. */
export function freeVariables(e: Expr): { indices: Set<IndexName>; params: Set<string>; usesScore: boolean } {
  const indices = new Set<IndexName>();
  const params = new Set<string>();
  let usesScore = false;
  const visit = (n: Expr): void => {
    if (n.op === 'index') indices.add(n.name);
    else if (n.op === 'param') params.add(n.name);
    else if (n.op === 'score') usesScore = true;
    children(n).forEach(visit);
  };
  visit(e);
  return { indices, params, usesScore };
}
