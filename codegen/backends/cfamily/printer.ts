/**
 * The C-family expression printer, shared by every C-like backend. Operators print from one
 * precedence table (as esbuild does), so parentheses are minimal and never wrong; everything
 * target-specific comes from the Dialect.
 */
import type { BinaryFn, Expr } from '../../ir/expr.ts';
import type { Dialect } from './dialect.ts';

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

interface Printed { readonly text: string; readonly prec: number }

/** Print `e` as a C expression. */
export function printExpr(e: Expr, d: Dialect): string {
  return print(e, d).text;
}

function wrap(p: Printed, min: number): string {
  return p.prec >= min ? p.text : `(${p.text})`;
}

function call(fn: string, ...args: Printed[]): Printed {
  return { text: `${fn}(${args.map((a) => a.text).join(', ')})`, prec: PREC.primary };
}

export function printFloatLiteral(v: number): string {
  if (Number.isNaN(v)) return 'NAN';
  if (!Number.isFinite(v)) return v > 0 ? 'INFINITY' : '-INFINITY';
  const s = String(v);
  return /[.eE]/.test(s) ? `${s}f` : `${s}.0f`;
}

export function printIntLiteral(v: number): string {
  return Math.abs(v) <= 2147483647 ? String(v) : `${v}LL`;
}

function print(e: Expr, d: Dialect): Printed {
  switch (e.op) {
    case 'const': {
      const text = e.type === 'bool' ? String(e.value) : e.type === 'int' ? printIntLiteral(e.value as number) : printFloatLiteral(e.value as number);
      // A negative literal behaves like a unary minus when it meets other operators.
      return { text, prec: text.startsWith('-') ? PREC.unary : PREC.primary };
    }
    case 'index': return { text: d.index[e.name], prec: PREC.primary };
    case 'param': return { text: d.param(e.name), prec: PREC.primary };
    case 'score': return { text: d.score, prec: PREC.primary };
    case 'unary': {
      const a = print(e.arg, d);
      switch (e.fn) {
        case 'neg': case 'not': {
          const inner = wrap(a, PREC.unary);
          const op = e.fn === 'neg' ? '-' : '!';
          // `- -x` must not print as `--x` (a decrement).
          return { text: op === '-' && inner.startsWith('-') ? `-(${inner})` : `${op}${inner}`, prec: PREC.unary };
        }
        case 'abs': return call(e.type === 'int' ? d.helpers.iabs : d.helpers.fabs, a);
        case 'toFloat': return { text: `static_cast<${d.floatType}>(${a.text})`, prec: PREC.primary };
        default: return call(d.floatFn[e.fn], a);
      }
    }
    case 'binary': {
      const l = print(e.lhs, d);
      const r = print(e.rhs, d);
      const isInt = e.lhs.type === 'int';
      switch (e.fn) {
        case 'floorDiv': return call(d.helpers.floorDiv, l, r);
        case 'min': return call(isInt ? d.helpers.imin : d.helpers.fmin, l, r);
        case 'max': return call(isInt ? d.helpers.imax : d.helpers.fmax, l, r);
        default: {
          const { op, prec } = INFIX[e.fn]!;
          // `a && b || c` is correct C, but parentheses make it readable (and keep -Wparentheses quiet).
          const lmin = e.fn === 'or' ? PREC.and + 1 : prec;
          // Left-associative: the right operand needs strictly tighter binding.
          return { text: `${wrap(l, lmin)} ${op} ${wrap(r, Math.max(lmin, prec + 1))}`, prec };
        }
      }
    }
    case 'select': {
      const c = print(e.cond, d);
      const t = print(e.then, d);
      const f = print(e.else, d);
      return { text: `${wrap(c, PREC.ternary + 1)} ? ${wrap(t, PREC.ternary + 1)} : ${wrap(f, PREC.ternary)}`, prec: PREC.ternary };
    }
  }
}
