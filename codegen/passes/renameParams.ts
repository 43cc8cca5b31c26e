/**
 * renameParams: give every parameter of one function a new name, so that functions combined into
 * one kernel (a mask made of several masks, plus a score) cannot collide.
 */
import type { Expr } from '../ir/expr.ts';

export function renameParams(e: Expr, rename: (name: string) => string): Expr {
  switch (e.op) {
    case 'param': return { ...e, name: rename(e.name) };
    case 'unary': return { ...e, arg: renameParams(e.arg, rename) };
    case 'binary': return { ...e, lhs: renameParams(e.lhs, rename), rhs: renameParams(e.rhs, rename) };
    case 'select': return {
      ...e, cond: renameParams(e.cond, rename), then: renameParams(e.then, rename), else: renameParams(e.else, rename),
    };
    default: return e;
  }
}
