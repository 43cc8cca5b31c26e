/**
 * foldConstants: evaluate every subtree that reads no index, parameter or score, and simplify
 * logic and selects whose deciding operand is constant. Pure: returns a new tree, and by
 * construction the interpreter gives the same result on the old and the new one (folding uses
 * the interpreter itself, and the logical identities hold because every node is side-effect free).
 */
import { E, type Expr } from '../ir/expr.ts';
import { interpret } from '../ir/interpret.ts';

const NO_ENV = { b: 0, h: 0, q: 0, k: 0, params: {} };

export function foldConstants(e: Expr): Expr {
  switch (e.op) {
    case 'const': case 'index': case 'param': case 'score': return e;
    case 'unary': return fold({ ...e, arg: foldConstants(e.arg) });
    case 'binary': return fold({ ...e, lhs: foldConstants(e.lhs), rhs: foldConstants(e.rhs) });
    case 'select': {
      const cond = foldConstants(e.cond);
      const then = foldConstants(e.then);
      const otherwise = foldConstants(e.else);
      if (cond.op === 'const') return cond.value ? then : otherwise;
      return fold({ ...e, cond, then, else: otherwise });
    }
  }
}

function isConst(e: Expr): boolean {
  return e.op === 'const';
}

function fold(e: Expr): Expr {
  if (e.op === 'unary' && isConst(e.arg)) return constOf(e);
  if (e.op === 'binary') {
    if (isConst(e.lhs) && isConst(e.rhs)) return constOf(e);
    if (e.fn === 'and' || e.fn === 'or') {
      // true && x = x, false && x = false, true || x = true, false || x = x (either side: pure)
      const absorbing = e.fn === 'or';
      for (const [c, other] of [[e.lhs, e.rhs], [e.rhs, e.lhs]] as const) {
        if (c.op === 'const') return c.value === absorbing ? E.bool(absorbing) : other;
      }
    }
  }
  if (e.op === 'select' && e.then.op === 'const' && e.else.op === 'const' && e.then.value === e.else.value && e.type !== 'float') {
    return e.then; // c ? x : x = x (not for floats: the two could differ as 0 and -0 only by value identity)
  }
  return e;
}

function constOf(e: Expr): Expr {
  const v = interpret(e, NO_ENV);
  return e.type === 'bool' ? E.bool(v as boolean) : e.type === 'int' ? E.int(v as number) : E.float(v as number);
}
