/**
 * The divisor rule of `floorDiv` and `mod` (expr.ts): a divisor is a nonzero integer literal or
 * built from declared parameters and literals only. A kernel then never divides by a value
 * that depends on the indices, so it cannot divide by zero at some position nobody tested:
 * literals are checked here, parameter values when they are bound.
 */
import type { Node } from 'ts-morph';
import type { Expr } from '../ir/expr.ts';
import type { Context } from './context.ts';
import { snippet } from './errors.ts';

const HINT = 'a divisor must be a nonzero integer literal or a declared parameter (p.name), '
  + 'so that it is known never to be 0';

/** The value of a divisor made of literals only, `undefined` when it reads a parameter or anything else. */
function literalValue(e: Expr): number | undefined {
  if (e.op === 'const') return e.value as number;
  if (e.op === 'unary' && e.fn === 'neg') {
    const v = literalValue(e.arg);
    return v === undefined ? undefined : -v;
  }
  if (e.op === 'binary' && (e.fn === 'add' || e.fn === 'sub' || e.fn === 'mul')) {
    const l = literalValue(e.lhs);
    const r = literalValue(e.rhs);
    if (l === undefined || r === undefined) return undefined;
    return e.fn === 'add' ? l + r : e.fn === 'sub' ? l - r : l * r;
  }
  return undefined;
}

function isParamArithmetic(e: Expr): boolean {
  switch (e.op) {
    case 'const': case 'param': return true;
    case 'unary': return e.fn === 'neg' && isParamArithmetic(e.arg);
    case 'binary': return (e.fn === 'add' || e.fn === 'sub' || e.fn === 'mul') && isParamArithmetic(e.lhs) && isParamArithmetic(e.rhs);
    default: return false;
  }
}

/** Reject a divisor (`e`, written at `node`) that could be zero at run time; `op` names the operator. */
export function checkDivisor(ctx: Context, e: Expr, node: Node, op: string): void {
  if (!isParamArithmetic(e)) {
    ctx.report.fail('KVF1008', node, `the divisor of ${op} is \`${snippet(node)}\`, which is neither a constant nor a parameter`, HINT);
  }
  if (literalValue(e) === 0) ctx.report.fail('KVF1008', node, `the divisor of ${op} is 0`, HINT);
}
