/**
 * The functions a body may call: `Math.min/max/abs/floor` everywhere, `Math.tanh/exp/log/sqrt`
 * in scores only (masks are integer logic). Each is checked by name before its arguments are
 * translated, so `foo(q)` reports `foo`, not whatever `q` is.
 */
import type { CallExpression, Node } from 'ts-morph';
import { E, type Expr } from '../ir/expr.ts';
import type { Context, Role } from './context.ts';
import { checkDivisor } from './divisors.ts';
import { requireNumber, toFloat, unify } from './typing.ts';

export type MathFn = 'min' | 'max' | 'abs' | 'floor' | 'tanh' | 'exp' | 'log' | 'sqrt';

const MASK_FUNCTIONS: readonly MathFn[] = ['min', 'max', 'abs', 'floor'];
const SCORE_FUNCTIONS: readonly MathFn[] = [...MASK_FUNCTIONS, 'tanh', 'exp', 'log', 'sqrt'];

/** `Math.min, Math.max, ...`: the functions a `role` may call, for hints. */
export function allowedFunctions(role: Role): string {
  return (role === 'mask' ? MASK_FUNCTIONS : SCORE_FUNCTIONS).map((f) => `Math.${f}`).join(', ');
}

/**
 * The Math function `Math.<name>` (written at `callee`) stands for, or a user error; `display`
 * is how the call names it, for a callee that is not `Math.<name>` at all.
 */
export function checkCallee(name: string | undefined, display: string, callee: Node, ctx: Context): MathFn {
  const allowed = ctx.role === 'mask' ? MASK_FUNCTIONS : SCORE_FUNCTIONS;
  if (name !== undefined && (allowed as readonly string[]).includes(name)) return name as MathFn;
  if (name !== undefined && (SCORE_FUNCTIONS as readonly string[]).includes(name)) {
    ctx.report.fail('KVF1002', callee, `\`${display}\`, which only score functions may call`,
      `masks are integer logic; a mask may call ${allowedFunctions('mask')}`);
  }
  return ctx.report.fail('KVF1002', callee, `\`${display}\``,
    `a ${ctx.role} may call ${allowedFunctions(ctx.role)}`);
}

/** Check the number of arguments of `Math.<fn>` at `call`. */
export function checkArity(fn: MathFn, call: CallExpression, ctx: Context): void {
  const n = call.getArguments().length;
  if (fn === 'min' || fn === 'max') {
    if (n < 2) ctx.report.fail('KVF1001', call, `\`Math.${fn}\` needs at least 2 arguments, got ${n}`, `write Math.${fn}(a, b)`);
  } else if (n !== 1) {
    ctx.report.fail('KVF1001', call, `\`Math.${fn}\` takes 1 argument, got ${n}`);
  }
}

/** `Math.<fn>(...args)` on translated arguments (`nodes` are where they are written). */
export function applyMath(fn: MathFn, args: readonly Expr[], nodes: readonly Node[], ctx: Context): Expr {
  args.forEach((a, i) => requireNumber(ctx, a, nodes[i]!, `\`Math.${fn}\``));
  switch (fn) {
    case 'min': case 'max':
      // Math.min(a, b, c) is min(min(a, b), c), NaN and -0 included.
      return unify(args).reduce((acc, a) => E.binary(fn, acc, a));
    case 'abs':
      return E.unary('abs', args[0]!);
    case 'floor':
      // The floor of an integer is itself.
      return args[0]!.type === 'int' ? args[0]! : E.unary('floor', args[0]!);
    default:
      return E.unary(fn, toFloat(args[0]!));
  }
}

/**
 * `Math.floor(a / b)`: integer division rounding toward -Infinity when both sides are integers
 * (what it computes in JavaScript, exactly, within the int range), else the floor of a float
 * division.
 */
export function floorOfDivision(lhs: Expr, rhs: Expr, lhsNode: Node, rhsNode: Node, ctx: Context): Expr {
  requireNumber(ctx, lhs, lhsNode, '`/`');
  requireNumber(ctx, rhs, rhsNode, '`/`');
  if (lhs.type === 'int' && rhs.type === 'int') {
    checkDivisor(ctx, rhs, rhsNode, '`Math.floor(a / b)`');
    return E.binary('floorDiv', lhs, rhs);
  }
  return E.unary('floor', E.binary('div', toFloat(lhs), toFloat(rhs)));
}
