/**
 * boundIntervals: interval arithmetic over the Expr IR. Given, for every index and parameter, a
 * closed range of the values it can take, return a closed range [lo, hi] that contains the value
 * of `e` for every combination. Booleans are the range {0 = false, 1 = true}: [0,0] is "always
 * false", [1,1] "always true", [0,1] "either". Sound by construction: each rule below takes the
 * extremes over the operand ranges (every int op used here is monotonic in each operand on the
 * regions the rules split on); an unknown or float-valued operand widens to (-inf, +inf).
 *
 * Used by classifyTiles, where soundness is what matters: a too-wide range only turns a skip into
 * a partial tile, a too-narrow one would be a wrong kernel.
 *
 * Bounds are computed in doubles. They are exact while every bound stays within +-2^53 (sums,
 * products and quotients of safe integers that are themselves safe are exact in double); past
 * that a bound could round inward. checkIntegerRange.ts runs these same rules before every call
 * and fails the call when any int bound leaves the safe range, so classifyTiles never sees one.
 */
import type { Expr, IndexName } from '../ir/expr.ts';

export interface Interval { readonly lo: number; readonly hi: number }
export type IntervalEnv = {
  readonly indices: Readonly<Record<IndexName, Interval>>;
  readonly params: Readonly<Record<string, Interval>>;
};

const ANY: Interval = { lo: -Infinity, hi: Infinity };
const BOOL_ANY: Interval = { lo: 0, hi: 1 };
const iv = (lo: number, hi: number): Interval => ({ lo, hi });
const point = (x: number): Interval => ({ lo: x, hi: x });
const isPoint = (a: Interval): boolean => a.lo === a.hi;

// 0 * Infinity is NaN in JS; as a bound of an integer product it is 0.
const mulB = (x: number, y: number): number => (x === 0 || y === 0 ? 0 : x * y);

export function boundIntervals(e: Expr, env: IntervalEnv): Interval {
  return nodeInterval(e, env, (c) => boundIntervals(c, env));
}

/**
 * The rule for one node, given how to bound its children (`bound`): boundIntervals recurses,
 * checkIntegerRange memoises and checks each node on the way. A select bounds only the branch
 * its condition leaves possible.
 */
export function nodeInterval(e: Expr, env: IntervalEnv, bound: (child: Expr) => Interval): Interval {
  switch (e.op) {
    case 'const':
      if (e.type === 'bool') return point(e.value ? 1 : 0);
      return e.type === 'int' ? point(e.value as number) : ANY;
    case 'index': return env.indices[e.name];
    case 'param': return e.type === 'int' ? (env.params[e.name] ?? ANY) : ANY;
    case 'score': return ANY;
    case 'unary': return unary(e.fn, e.type, bound(e.arg));
    case 'binary': return binary(e, bound);
    case 'select': {
      const c = bound(e.cond);
      if (c.lo === 1) return bound(e.then);
      if (c.hi === 0) return bound(e.else);
      return hull(bound(e.then), bound(e.else));
    }
  }
}

function hull(a: Interval, b: Interval): Interval {
  return iv(Math.min(a.lo, b.lo), Math.max(a.hi, b.hi));
}

function unary(fn: string, type: Expr['type'], a: Interval): Interval {
  if (type === 'float') return ANY;
  switch (fn) {
    case 'neg': return iv(-a.hi, -a.lo);
    case 'not': return iv(1 - a.hi, 1 - a.lo);
    case 'abs':
      if (a.lo >= 0) return a;
      if (a.hi <= 0) return iv(-a.hi, -a.lo);
      return iv(0, Math.max(-a.lo, a.hi));
    default: return type === 'bool' ? BOOL_ANY : ANY;
  }
}

function binary(e: Extract<Expr, { op: 'binary' }>, bound: (child: Expr) => Interval): Interval {
  // Comparisons of floats, and any float arithmetic, are not bounded: masks are integer logic.
  if (e.lhs.type === 'float') return e.type === 'bool' ? BOOL_ANY : ANY;
  const a = bound(e.lhs);
  const b = bound(e.rhs);
  switch (e.fn) {
    case 'add': return iv(a.lo + b.lo, a.hi + b.hi);
    case 'sub': return iv(a.lo - b.hi, a.hi - b.lo);
    case 'mul': {
      const c = [mulB(a.lo, b.lo), mulB(a.lo, b.hi), mulB(a.hi, b.lo), mulB(a.hi, b.hi)];
      return iv(Math.min(...c), Math.max(...c));
    }
    case 'min': return iv(Math.min(a.lo, b.lo), Math.min(a.hi, b.hi));
    case 'max': return iv(Math.max(a.lo, b.lo), Math.max(a.hi, b.hi));
    case 'floorDiv': return floorDiv(a, b);
    case 'mod': return mod(a, b);
    case 'lt': return tri(a.hi < b.lo, a.lo >= b.hi);
    case 'le': return tri(a.hi <= b.lo, a.lo > b.hi);
    case 'gt': return tri(a.lo > b.hi, a.hi <= b.lo);
    case 'ge': return tri(a.lo >= b.hi, a.hi < b.lo);
    case 'eq': return tri(isPoint(a) && isPoint(b) && a.lo === b.lo, a.hi < b.lo || b.hi < a.lo);
    case 'ne': return tri(a.hi < b.lo || b.hi < a.lo, isPoint(a) && isPoint(b) && a.lo === b.lo);
    case 'and': return iv(Math.min(a.lo, b.lo), Math.min(a.hi, b.hi));
    case 'or': return iv(Math.max(a.lo, b.lo), Math.max(a.hi, b.hi));
    case 'div': return ANY;
  }
}

/** A boolean range from "certainly true" / "certainly false". */
function tri(alwaysTrue: boolean, alwaysFalse: boolean): Interval {
  return alwaysTrue ? point(1) : alwaysFalse ? point(0) : BOOL_ANY;
}

// floor(x / y) with y of one sign is monotonic in x and in y separately, so its extremes lie at
// the corners of the box. A divisor range that contains 0 gives no bound (the front end makes
// divisors constants or parameters, and parameter values are checked nonzero).
function floorDiv(a: Interval, b: Interval): Interval {
  if (b.lo <= 0 && b.hi >= 0) return ANY;
  const c = [a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi].map((x) => (Number.isNaN(x) ? 0 : Math.floor(x)));
  return iv(Math.min(...c), Math.max(...c));
}

// x % m has the sign of x and |x % m| < |m|. When x stays within one period on one side of 0
// and does not wrap, the result is x's own range shifted, which keeps dilated masks tight.
function mod(a: Interval, b: Interval): Interval {
  if (b.lo <= 0 && b.hi >= 0) return ANY;
  const m = Math.max(Math.abs(b.lo), Math.abs(b.hi));
  if (isPoint(b) && Number.isFinite(a.lo) && Number.isFinite(a.hi) && a.hi - a.lo < m && (a.lo >= 0 || a.hi <= 0)) {
    const lo = a.lo % m;
    const hi = a.hi % m;
    if (lo <= hi) return iv(lo === 0 ? 0 : lo, hi === 0 ? 0 : hi);
  }
  if (a.lo >= 0) return iv(0, Math.min(m - 1, a.hi));
  if (a.hi <= 0) return iv(Math.max(-(m - 1), a.lo), 0);
  return iv(Math.max(-(m - 1), a.lo), Math.min(m - 1, a.hi));
}
