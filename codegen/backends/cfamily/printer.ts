/**
 * The C-family expression printer, shared by every C-like backend. Operators print from one
 * precedence table (as esbuild does), so parentheses are minimal and never wrong; everything
 * target-specific comes from the Dialect.
 */
import type { BinaryFn, Expr } from '../../ir/expr.ts';
import { boundIntervals, type IntervalEnv } from '../../passes/boundIntervals.ts';
import { internalError } from '../../../dsl/diagnostics.ts';
import type { Dialect } from './dialect.ts';
import { printDoubleLiteral, printFloatLiteral, printIntLiteral } from './literals.ts';

// C precedence levels (higher binds tighter).
const PREC = { ternary: 3, or: 4, and: 5, equality: 9, relational: 10, additive: 12, multiplicative: 13, unary: 14, primary: 16 };

const INFIX: Partial<Record<BinaryFn, { op: string; prec: number }>> = {
  add: { op: '+', prec: PREC.additive }, sub: { op: '-', prec: PREC.additive },
  mul: { op: '*', prec: PREC.multiplicative }, div: { op: '/', prec: PREC.multiplicative },
  mod: { op: '%', prec: PREC.multiplicative },
  lt: { op: '<', prec: PREC.relational }, le: { op: '<=', prec: PREC.relational },
  gt: { op: '>', prec: PREC.relational }, ge: { op: '>=', prec: PREC.relational },
  eq: { op: '==', prec: PREC.equality }, ne: { op: '!=', prec: PREC.equality },
  and: { op: '&&', prec: PREC.and }, or: { op: '||', prec: PREC.or },
};

/**
 * Printed C text with its precedence. `narrow`: the text's C type is `int` (a bare literal or an
 * operation on those): two of them must not meet in + - * without a cast, or C would compute in
 * 32 bits. Everything else integer is int64_t.
 */
interface Printed { readonly text: string; readonly prec: number; readonly narrow?: boolean }

/** Print `e` as a C expression. */
export function printExpr(e: Expr, d: Dialect): string {
  return print(e, d).text;
}

export { printFloatLiteral, printIntLiteral } from './literals.ts';

function wrap(p: Printed, min: number): string {
  return p.prec >= min ? p.text : `(${p.text})`;
}

function call(fn: string, ...args: Printed[]): Printed {
  return { text: `${fn}(${args.map((a) => a.text).join(', ')})`, prec: PREC.primary };
}

function negate(a: Printed, op: '-' | '!'): Printed {
  const inner = wrap(a, PREC.unary);
  // `- -x` must not print as `--x` (a decrement).
  return { text: op === '-' && inner.startsWith('-') ? `-(${inner})` : `${op}${inner}`, prec: PREC.unary, narrow: a.narrow };
}

function infix(fn: BinaryFn, l: Printed, r: Printed): Printed {
  const { op, prec } = INFIX[fn]!;
  // `a && b || c` is correct C, but parentheses make it readable (and keep -Wparentheses quiet).
  const lmin = fn === 'or' ? PREC.and + 1 : prec;
  // Left-associative: the right operand needs strictly tighter binding.
  const narrow = (fn === 'add' || fn === 'sub' || fn === 'mul' || fn === 'mod') && l.narrow && r.narrow;
  return { text: `${wrap(l, lmin)} ${op} ${wrap(r, Math.max(lmin, prec + 1))}`, prec, narrow };
}

function constant(e: Extract<Expr, { op: 'const' }>): Printed {
  if (e.type === 'bool') return { text: String(e.value), prec: PREC.primary };
  const v = e.value as number;
  let text = e.type === 'int' ? printIntLiteral(v) : printFloatLiteral(v);
  // A hex-float is exact but unreadable: say which number of the source it is (`explain` shows it).
  if (/^-?0x/.test(text)) text = `${text} /* ${String(v)} */`;
  // A negative literal behaves like a unary minus when it meets other operators.
  return { text, prec: text.startsWith('-') ? PREC.unary : PREC.primary, narrow: e.type === 'int' && !text.endsWith('LL') };
}

function print(e: Expr, d: Dialect): Printed {
  switch (e.op) {
    case 'const': return constant(e);
    case 'index': return { text: d.index[e.name], prec: PREC.primary };
    case 'param': return { text: d.param(e.name), prec: PREC.primary };
    case 'score': return { text: d.score, prec: PREC.primary };
    case 'unary': {
      if (e.fn === 'toFloat') return toFloat(e.arg, d);
      const a = print(e.arg, d);
      switch (e.fn) {
        case 'neg': return negate(a, '-');
        case 'not': return negate(a, '!');
        case 'abs': return call(e.type === 'int' ? d.helpers.iabs : d.helpers.fabs, a);
        default: return call(d.floatFn[e.fn], a);
      }
    }
    case 'binary': {
      const isInt = e.lhs.type === 'int';
      let l = print(e.lhs, d);
      const r = print(e.rhs, d);
      switch (e.fn) {
        case 'floorDiv': return call(d.helpers.floorDiv, l, r);
        case 'min': return call(isInt ? d.helpers.imin : d.helpers.fmin, l, r);
        case 'max': return call(isInt ? d.helpers.imax : d.helpers.fmax, l, r);
        default: {
          const arith = e.fn === 'add' || e.fn === 'sub' || e.fn === 'mul';
          // `2147483647 + 1` would overflow C's int: one int64 operand makes the operation 64-bit.
          if (arith && l.narrow && r.narrow) l = { text: `static_cast<${d.intType}>(${l.text})`, prec: PREC.primary };
          return infix(e.fn, l, r);
        }
      }
    }
    case 'select': {
      const c = print(e.cond, d);
      const t = print(e.then, d);
      const f = print(e.else, d);
      return {
        text: `${wrap(c, PREC.ternary + 1)} ? ${wrap(t, PREC.ternary + 1)} : ${wrap(f, PREC.ternary)}`,
        prec: PREC.ternary, narrow: t.narrow && f.narrow,
      };
    }
  }
}

/**
 * `toFloat(x)`: the int x as a float32. JavaScript's integers are doubles with a sign of zero
 * (`-(q - k)` at q = k, `-3 % 3`, `0 * -1` are -0), and the sign shows once the value is a float
 * (`s / -(q - k)` is -Infinity there). int64 has no -0, so an int that may be -0 (mayBeNegZero)
 * is computed in double instead: exact within +-2^53, where every value lies (expr.ts), with
 * JavaScript's signs of zero; rounding to float once at the end gives what int64 would.
 */
function toFloat(x: Expr, d: Dialect): Printed {
  const inner = mayBeNegZero(x) ? printDouble(x, d) : print(x, d);
  return { text: `static_cast<${d.floatType}>(${inner.text})`, prec: PREC.primary };
}

/**
 * What every kernel knows without a call: b and h are nonnegative, positions are int32;
 * parameters are unknown (a baked one is a constant). For "can this be 0" questions.
 */
const STATIC_RANGES: IntervalEnv = {
  indices: { b: { lo: 0, hi: Infinity }, h: { lo: 0, hi: Infinity }, q: { lo: -(2 ** 31), hi: 2 ** 31 - 1 }, k: { lo: -(2 ** 31), hi: 2 ** 31 - 1 } },
  params: {},
};

function canBeZero(e: Expr): boolean {
  const r = boundIntervals(e, STATIC_RANGES);
  return !(r.lo > 0 || r.hi < 0);
}

/** Whether the int expression `e` can be -0 in JavaScript (a safe over-approximation). */
export function mayBeNegZero(e: Expr): boolean {
  switch (e.op) {
    case 'const': return Object.is(e.value, -0);
    case 'index': case 'param': return false; // positions are Int32Array values; int32 parameters have no -0
    case 'unary': return e.fn === 'neg' && canBeZero(e.arg); // -x is -0 only where x is +0 (`-(h + 1)` never)
    case 'binary':
      switch (e.fn) {
        case 'mul': return canBeZero(e.lhs) || canBeZero(e.rhs); // a product is -0 only when it is 0
        case 'add': return mayBeNegZero(e.lhs) && mayBeNegZero(e.rhs); // -0 + -0 only
        case 'sub': return mayBeNegZero(e.lhs); // -0 - +0 only
        case 'min': case 'max': return mayBeNegZero(e.lhs) || mayBeNegZero(e.rhs);
        default: return true; // mod (the sign of the dividend), floorDiv (floor of -0 / b)
      }
    case 'select': return mayBeNegZero(e.then) || mayBeNegZero(e.else);
    default: return false;
  }
}

/** The int expression `e` computed in double, with JavaScript's operations exactly (see toFloat). */
function printDouble(e: Expr, d: Dialect): Printed {
  const D = d.double;
  switch (e.op) {
    case 'const': {
      const text = printDoubleLiteral(e.value as number);
      return { text, prec: text.startsWith('-') ? PREC.unary : PREC.primary };
    }
    case 'index': case 'param':
      return { text: `static_cast<${D.type}>(${print(e, d).text})`, prec: PREC.primary };
    case 'unary':
      if (e.fn === 'neg') return negate(printDouble(e.arg, d), '-');
      if (e.fn === 'abs') return call(D.fabs, printDouble(e.arg, d));
      break;
    case 'binary': {
      const l = printDouble(e.lhs, d);
      const r = printDouble(e.rhs, d);
      switch (e.fn) {
        case 'add': case 'sub': case 'mul': return infix(e.fn, l, r);
        case 'mod': return call(D.fmod, l, r); // fmod: exact, the sign of the dividend, as JS %
        case 'floorDiv': return call(D.floor, { text: infix('div', l, r).text, prec: PREC.multiplicative });
        case 'min': return call(`(${D.dmin})`, l, r);
        case 'max': return call(`(${D.dmax})`, l, r);
        default: break;
      }
      break;
    }
    case 'select': {
      const c = print(e.cond, d);
      const t = printDouble(e.then, d);
      const f = printDouble(e.else, d);
      return { text: `${wrap(c, PREC.ternary + 1)} ? ${wrap(t, PREC.ternary + 1)} : ${wrap(f, PREC.ternary)}`, prec: PREC.ternary };
    }
    default: break;
  }
  return internalError(`printDouble of a non-integer node ${e.op}${'fn' in e ? ` ${e.fn}` : ''}`);
}
