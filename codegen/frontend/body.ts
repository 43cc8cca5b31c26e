/**
 * A function body: an expression, or a block of `const` declarations and one final `return`.
 * A const can never change, so it is inlined as the expression it names; that keeps the IR a
 * pure expression while letting users name intermediate values.
 */
import { Node, VariableDeclarationKind, type Statement, type VariableStatement } from 'ts-morph';
import { irDepth, irDistinct, irSize, MAX_IR_DEPTH, MAX_IR_REUSE, MAX_IR_SIZE } from '../ir/depth.ts';
import type { Expr } from '../ir/expr.ts';
import type { Context } from './context.ts';
import { translateExpr } from './expressions.ts';
import { bindDestructuredParams, type FunctionNode } from './signature.ts';
import { rejectedStatement } from './unsupported.ts';

/** The translated body and the node it was returned from (for errors about its type). */
export interface TranslatedBody {
  readonly expr: Expr;
  readonly node: Node;
}

export function translateBody(fn: FunctionNode, ctx: Context): TranslatedBody {
  const body = fn.getBody();
  if (!body) return ctx.report.fail('KVF1009', fn, `the ${ctx.role} function has no body`);
  // Depth of every translated value, shared: consts are inlined by reference (see shallow()).
  const depths = new Map<Expr, number>();
  if (!Node.isBlock(body)) return { expr: shallow(translateExpr(body, ctx), body, depths, ctx), node: body };

  const statements = body.getStatements().filter((s) => !Node.isEmptyStatement(s));
  // Every const is in scope from the start of the block but unreadable until declared.
  for (const s of statements) {
    if (!Node.isVariableStatement(s)) continue;
    for (const d of s.getDeclarations()) {
      for (const name of boundNames(d.getNameNode())) ctx.scope.set(name, { kind: 'pending' });
    }
  }

  let result: TranslatedBody | undefined;
  for (const s of statements) {
    if (result) ctx.report.fail('KVF1001', s, 'statement after `return` is not allowed', 'a body ends with its return');
    if (Node.isVariableStatement(s)) declareConsts(s, ctx, depths);
    else if (Node.isReturnStatement(s)) {
      const value = s.getExpression();
      if (!value) ctx.report.fail('KVF1001', s, '`return` without a value', `a ${ctx.role} returns ${ctx.role === 'mask' ? 'a boolean' : 'a number'}`);
      result = { expr: shallow(translateExpr(value, ctx), value, depths, ctx), node: value };
    } else rejectStatement(s, ctx);
  }
  if (!result) {
    return ctx.report.fail('KVF1001', body, `the body of the ${ctx.role} does not end with \`return\``,
      'a block body is const declarations followed by one return <expression>');
  }
  return result;
}

function boundNames(name: Node): string[] {
  if (Node.isIdentifier(name)) return [name.getText()];
  if (Node.isObjectBindingPattern(name) || Node.isArrayBindingPattern(name)) {
    return name.getElements().flatMap((el) => (Node.isBindingElement(el) ? boundNames(el.getNameNode()) : []));
  }
  return [];
}

/**
 * `e`, translated from `node`, if its IR is at most MAX_IR_DEPTH deep. The syntax is within
 * MAX_NESTING (depth.ts), but a const is inlined where it is read, so a chain of consts each
 * reading the previous one (`const t2 = t1 + 1; const t3 = t2 + 1; ...`) nests in the IR.
 */
function shallow(e: Expr, node: Node, depths: Map<Expr, number>, ctx: Context): Expr {
  const depth = irDepth(e, depths);
  if (depth > MAX_IR_DEPTH) {
    ctx.report.fail('KVF1012', node, `this value nests ${depth} operations deep once the consts it reads are inlined (the limit is ${MAX_IR_DEPTH})`,
      'consts are inlined where they are read; split the computation into fewer dependent steps');
  }
  const size = irSize(e, sizes);
  const limit = size > MAX_IR_SIZE ? Math.max(MAX_IR_SIZE, MAX_IR_REUSE * irDistinct(e)) : MAX_IR_SIZE;
  if (size > limit) {
    ctx.report.fail('KVF1013', node, `this value stands for ${size > 1e15 ? size.toExponential(1) : size} operations once the consts it reads are inlined (the limit here is ${limit})`,
      'a const is inlined wherever it is read, so each const that reads the previous one twice doubles the size; write the computation without repeated reuse');
  }
  return e;
}

// Tree sizes of translated values, shared like the depths (a const is measured once).
const sizes = new WeakMap<Expr, number>();

function declareConsts(s: VariableStatement, ctx: Context, depths: Map<Expr, number>): void {
  if (s.getDeclarationKind() !== VariableDeclarationKind.Const) {
    const list = s.getDeclarationList();
    const keyword = list.getFirstChild() ?? list;
    ctx.report.fail('KVF1001', keyword, `\`${keyword.getText()}\` declarations are not allowed`,
      'use const: a body computes values, it never changes them');
  }
  for (const d of s.getDeclarations()) {
    const name = d.getNameNode();
    const init = d.getInitializer();
    if (!init) return ctx.report.fail('KVF1001', d, 'a const without a value is not allowed');
    if (Node.isIdentifier(name)) {
      ctx.scope.set(name.getText(), { kind: 'const', expr: shallow(translateExpr(init, ctx), init, depths, ctx) });
    } else if (Node.isIdentifier(init) && ctx.scope.get(init.getText())?.kind === 'params') {
      // `const { window } = p`: the same as destructuring in the signature.
      bindDestructuredParams(name, ctx.decls, ctx.report, ctx.scope);
    } else {
      ctx.report.fail('KVF1001', name, 'destructuring is only supported for the parameters object',
        'const { window } = p');
    }
  }
}

function rejectStatement(s: Statement, ctx: Context): never {
  // An expression statement may hide a more specific error (`x = 1`, `q++`, `foo(q)`): report that first.
  if (Node.isExpressionStatement(s)) translateExpr(s.getExpression(), ctx);
  const r = rejectedStatement(s.getKind());
  const at = Node.isIfStatement(s) || Node.isForStatement(s) || Node.isWhileStatement(s) || Node.isDoStatement(s)
    || Node.isForOfStatement(s) || Node.isForInStatement(s) || Node.isSwitchStatement(s)
    ? s.getFirstChild() ?? s : s;
  return ctx.report.fail(r.code, at, `${r.what} is not allowed in a ${ctx.role}`, r.hint);
}
