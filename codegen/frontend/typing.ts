/**
 * Type rules of mask and score bodies (expr.ts): ints stay exact, an int meeting a float becomes
 * a float (what JavaScript does anyway, made explicit with `toFloat`), booleans never mix with
 * numbers (JavaScript would coerce `true` to 1; a kernel should not guess that).
 */
import type { Node } from 'ts-morph';
import { E, type Expr, type ScalarType } from '../ir/expr.ts';
import type { Context } from './context.ts';

const NAMES: Record<ScalarType, string> = { int: 'an integer', float: 'a float', bool: 'a boolean' };

/** `an integer`, `a float`, `a boolean`: for messages. */
export function describeType(t: ScalarType): string {
  return NAMES[t];
}

/** The same number as a float; a literal is converted in place. */
export function toFloat(e: Expr): Expr {
  if (e.type !== 'int') return e;
  return e.op === 'const' ? E.float(e.value as number) : E.unary('toFloat', e);
}

/** Operands of one numeric type: both int, or both float with the int side converted. */
export function unify(exprs: readonly Expr[]): Expr[] {
  return exprs.some((e) => e.type === 'float') ? exprs.map(toFloat) : [...exprs];
}

/** `what` needs a number at `node` (KVF1006 otherwise). */
export function requireNumber(ctx: Context, e: Expr, node: Node, what: string, hint?: string): void {
  if (e.type === 'bool') {
    ctx.report.fail('KVF1006', node, `${what} needs a number, got a boolean`,
      hint ?? 'booleans are not numbers here; write cond ? 1 : 0 to convert');
  }
}

/** `what` needs a boolean at `node` (KVF1006 otherwise). */
export function requireBool(ctx: Context, e: Expr, node: Node, what: string): void {
  if (e.type !== 'bool') {
    ctx.report.fail('KVF1006', node, `${what} needs a boolean, got ${describeType(e.type)}`,
      'numbers are not truthy here; compare explicitly, e.g. x !== 0');
  }
}

/** `what` needs an integer at `node` (KVF1006 otherwise). */
export function requireInt(ctx: Context, e: Expr, node: Node, what: string, hint?: string): void {
  if (e.type !== 'int') ctx.report.fail('KVF1006', node, `${what} needs an integer, got ${describeType(e.type)}`, hint);
}
