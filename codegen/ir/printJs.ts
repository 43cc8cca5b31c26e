/**
 * An Expr printed back as the JavaScript a user would write, for messages (KVF3007 names the
 * sub-expression it is about): `q * k`, `Math.floor(q / p.block)`, `p.cap * Math.tanh(s / p.cap)`.
 * Every op prints as the JavaScript that has its meaning (expr.ts); parentheses follow
 * JavaScript precedence. Recursion is bounded by MAX_IR_DEPTH (depth.ts).
 */
import type { BinaryFn, Expr } from './expr.ts';

const PREC = { ternary: 2, or: 3, and: 4, equality: 8, relational: 9, additive: 11, multiplicative: 12, unary: 14, primary: 18 };

const INFIX: Partial<Record<BinaryFn, { op: string; prec: number }>> = {
  add: { op: '+', prec: PREC.additive }, sub: { op: '-', prec: PREC.additive },
  mul: { op: '*', prec: PREC.multiplicative }, div: { op: '/', prec: PREC.multiplicative },
  mod: { op: '%', prec: PREC.multiplicative },
  lt: { op: '<', prec: PREC.relational }, le: { op: '<=', prec: PREC.relational },
  gt: { op: '>', prec: PREC.relational }, ge: { op: '>=', prec: PREC.relational },
  eq: { op: '===', prec: PREC.equality }, ne: { op: '!==', prec: PREC.equality },
  and: { op: '&&', prec: PREC.and }, or: { op: '||', prec: PREC.or },
};

interface Printed { readonly text: string; readonly prec: number }

/** `paramName` spells a parameter (default `p.<name>`). */
export function printJs(e: Expr, paramName: (name: string) => string = (n) => `p.${n}`): string {
  const wrap = (p: Printed, min: number): string => (p.prec >= min ? p.text : `(${p.text})`);
  const fn = (name: string, ...args: string[]): Printed => ({ text: `Math.${name}(${args.join(', ')})`, prec: PREC.primary });
  const go = (n: Expr): Printed => {
    switch (n.op) {
      case 'const': {
        const text = Object.is(n.value, -0) ? '-0' : String(n.value);
        return { text, prec: text.startsWith('-') ? PREC.unary : PREC.primary };
      }
      case 'index': return { text: n.name, prec: PREC.primary };
      case 'param': return { text: paramName(n.name), prec: PREC.primary };
      case 'score': return { text: 's', prec: PREC.primary };
      case 'unary': {
        const a = go(n.arg);
        if (n.fn === 'toFloat') return a; // JavaScript's numbers are one type
        if (n.fn === 'neg' || n.fn === 'not') {
          const inner = wrap(a, PREC.unary);
          const op = n.fn === 'neg' ? '-' : '!';
          return { text: op === '-' && inner.startsWith('-') ? `-(${inner})` : `${op}${inner}`, prec: PREC.unary };
        }
        return fn(n.fn, a.text);
      }
      case 'binary': {
        const l = go(n.lhs);
        const r = go(n.rhs);
        if (n.fn === 'floorDiv') return fn('floor', `${wrap(l, PREC.multiplicative)} / ${wrap(r, PREC.multiplicative + 1)}`);
        if (n.fn === 'min' || n.fn === 'max') return fn(n.fn, l.text, r.text);
        const { op, prec } = INFIX[n.fn]!;
        return { text: `${wrap(l, prec)} ${op} ${wrap(r, prec + 1)}`, prec };
      }
      case 'select': {
        const c = go(n.cond);
        return { text: `${wrap(c, PREC.ternary + 1)} ? ${wrap(go(n.then), PREC.ternary + 1)} : ${wrap(go(n.else), PREC.ternary)}`, prec: PREC.ternary };
      }
    }
  };
  return go(e).text;
}
