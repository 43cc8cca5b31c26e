/**
 * bindParams: replace parameter nodes by constants of their bound values, so a plan that bakes
 * parameters into the kernel sees them as literals (and foldConstants can simplify around them).
 * Parameters missing from `values` are left in place (they stay run-time parameters).
 */
import { E, type Expr } from '../ir/expr.ts';

export function bindParams(e: Expr, values: Readonly<Record<string, number>>): Expr {
  switch (e.op) {
    case 'param': {
      const v = values[e.name];
      if (v === undefined) return e;
      return e.type === 'int' ? E.int(v) : E.float(v);
    }
    case 'unary': return { ...e, arg: bindParams(e.arg, values) };
    case 'binary': return { ...e, lhs: bindParams(e.lhs, values), rhs: bindParams(e.rhs, values) };
    case 'select': return { ...e, cond: bindParams(e.cond, values), then: bindParams(e.then, values), else: bindParams(e.else, values) };
    default: return e;
  }
}
