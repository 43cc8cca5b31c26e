/**
 * The front end: a mask or score function's TypeScript source -> Expr IR.
 *
 * It reads the source (source.ts), binds the parameters by position (signature.ts) and
 * translates the body through a whitelist (body.ts, expressions.ts, operators.ts, calls.ts) under
 * the type rules of typing.ts. Anything outside the whitelist is a KvforgeError with a stable
 * code, the user's file:line:col, the line with a caret, and a hint.
 */
import type { Node } from 'ts-morph';
import type { FunctionDef } from '../../dsl/types.ts';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { Expr } from '../ir/expr.ts';
import { translateBody } from './body.ts';
import type { Context } from './context.ts';
import { checkNesting } from './depth.ts';
import { bindParameters } from './signature.ts';
import { readFunction } from './source.ts';
import { describeType, toFloat } from './typing.ts';

/**
 * Translate a declared mask or score function into the Expr IR.
 *
 * A mask's result has type `bool`, a score's type `float`. The IR computes exactly what the
 * JavaScript function computes (expr.ts), so `interpret(translate(def), env)` equals
 * `def.fn(...)` for every input within the int range.
 *
 * @param def - the function, its role, its declared parameters and where it was defined
 * @throws KvforgeError with a `KVF1xxx` code for anything a body may not contain, `KVF9001`
 *   when the front end itself fails
 * @example
 * ```ts
 * translate(defineMask((b, h, q, k) => k <= q))
 * // { op: 'binary', fn: 'le', type: 'bool', lhs: { op: 'index', name: 'k', ... }, rhs: ... }
 * ```
 */
export function translate(def: FunctionDef): Expr {
  try {
    const source = readFunction(def);
    try {
      checkNesting(source.node.compilerNode, source.report, def.role);
      const ctx: Context = {
        role: def.role, name: def.name, decls: def.params, report: source.report,
        scope: bindParameters(source.node, def.role, def.params, source.report),
      };
      const body = translateBody(source.node, ctx);
      return checkResult(body.expr, body.node, ctx);
    } finally {
      source.dispose();
    }
  } catch (e) {
    if (e instanceof KvforgeError) throw withoutOwnFrames(e);
    const detail = e instanceof Error ? e.message : String(e);
    throw new KvforgeError('KVF9001', `the front end failed on ${def.role} '${def.name}': ${detail}`);
  }
}

function checkResult(expr: Expr, node: Node, ctx: Context): Expr {
  if (ctx.role === 'mask') {
    if (expr.type !== 'bool') {
      ctx.report.fail('KVF1006', node, `a mask must return a boolean, got ${describeType(expr.type)}`,
        'return a comparison, e.g. k <= q');
    }
    return expr;
  }
  if (expr.type === 'bool') {
    ctx.report.fail('KVF1006', node, 'a score function must return a number, got a boolean',
      'a score returns the new score; to exclude keys, use a mask');
  }
  return toFloat(expr);
}

/**
 * A user error is about the user's code: its stack would only show kvforge's own frames, so it
 * is replaced by the message, which already points at the user's file:line:col.
 */
function withoutOwnFrames(e: KvforgeError): KvforgeError {
  if (e.code !== 'KVF9001') Object.defineProperty(e, 'stack', { value: `${e.name}: ${e.message}`, configurable: true, writable: true });
  return e;
}
