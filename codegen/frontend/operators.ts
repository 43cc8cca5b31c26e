/**
 * Unary and binary operators: which ones a body may use, and the IR each becomes under the type
 * rules of typing.ts. The operator is checked before its operands are translated, so `'x' in p`
 * reports the `in`, not the string.
 */
import { Node, SyntaxKind, type BinaryExpression, type NumericLiteral, type PrefixUnaryExpression } from 'ts-morph';
import { internalError } from '../../dsl/diagnostics.ts';
import { E, type Expr } from '../ir/expr.ts';
import type { Context } from './context.ts';
import { checkDivisor } from './divisors.ts';
import { snippet } from './errors.ts';
import { describeType, requireBool, requireInt, requireNumber, toFloat, unify } from './typing.ts';
import { NO_STATE_HINT, REJECTED_OPERATORS } from './unsupported.ts';

export type BinaryOp =
  | { readonly kind: 'arith'; readonly fn: 'add' | 'sub' | 'mul' }
  | { readonly kind: 'div' }
  | { readonly kind: 'mod' }
  | { readonly kind: 'compare'; readonly fn: 'lt' | 'le' | 'gt' | 'ge' }
  | { readonly kind: 'equality'; readonly fn: 'eq' | 'ne' }
  | { readonly kind: 'logic'; readonly fn: 'and' | 'or' };

// `==` and `===` agree once both sides have one type, which the type rules guarantee.
const ACCEPTED = new Map<SyntaxKind, BinaryOp>([
  [SyntaxKind.PlusToken, { kind: 'arith', fn: 'add' }],
  [SyntaxKind.MinusToken, { kind: 'arith', fn: 'sub' }],
  [SyntaxKind.AsteriskToken, { kind: 'arith', fn: 'mul' }],
  [SyntaxKind.SlashToken, { kind: 'div' }],
  [SyntaxKind.PercentToken, { kind: 'mod' }],
  [SyntaxKind.LessThanToken, { kind: 'compare', fn: 'lt' }],
  [SyntaxKind.LessThanEqualsToken, { kind: 'compare', fn: 'le' }],
  [SyntaxKind.GreaterThanToken, { kind: 'compare', fn: 'gt' }],
  [SyntaxKind.GreaterThanEqualsToken, { kind: 'compare', fn: 'ge' }],
  [SyntaxKind.EqualsEqualsEqualsToken, { kind: 'equality', fn: 'eq' }],
  [SyntaxKind.EqualsEqualsToken, { kind: 'equality', fn: 'eq' }],
  [SyntaxKind.ExclamationEqualsEqualsToken, { kind: 'equality', fn: 'ne' }],
  [SyntaxKind.ExclamationEqualsToken, { kind: 'equality', fn: 'ne' }],
  [SyntaxKind.AmpersandAmpersandToken, { kind: 'logic', fn: 'and' }],
  [SyntaxKind.BarBarToken, { kind: 'logic', fn: 'or' }],
]);

/** The operator of `node`, or a user error when a body may not use it. */
export function binaryOperator(node: BinaryExpression, ctx: Context): BinaryOp {
  const token = node.getOperatorToken();
  const kind = token.getKind();
  const op = ACCEPTED.get(kind);
  if (op) return op;
  if (kind >= SyntaxKind.FirstAssignment && kind <= SyntaxKind.LastAssignment) {
    ctx.report.fail('KVF1001', token, `assignment \`${token.getText()}\` is not allowed`, NO_STATE_HINT);
  }
  const rejected = REJECTED_OPERATORS.get(kind);
  if (rejected) ctx.report.fail(rejected.code, token, `${rejected.what} is not allowed`, rejected.hint);
  return ctx.report.fail('KVF1001', token, `operator \`${token.getText()}\` is not allowed`);
}

/** Apply `op` to translated operands; `node` is the whole expression, for messages. */
export function combineBinary(op: BinaryOp, lhs: Expr, rhs: Expr, node: BinaryExpression, ctx: Context): Expr {
  const text = node.getOperatorToken().getText();
  const [lhsNode, rhsNode] = [node.getLeft(), node.getRight()];
  switch (op.kind) {
    case 'arith': case 'compare': {
      requireNumber(ctx, lhs, lhsNode, `\`${text}\``);
      requireNumber(ctx, rhs, rhsNode, `\`${text}\``);
      const [l, r] = unify([lhs, rhs]) as [Expr, Expr];
      return E.binary(op.fn, l, r);
    }
    case 'div': {
      requireNumber(ctx, lhs, lhsNode, '`/`');
      requireNumber(ctx, rhs, rhsNode, '`/`');
      if (lhs.type === 'int' && rhs.type === 'int' && ctx.role === 'mask') {
        ctx.report.fail('KVF1007', node, `\`${snippet(node)}\` divides integers, which gives a fraction in JavaScript; masks compute with integers`,
          'write Math.floor(a / b) for integer division');
      }
      // JavaScript's `/` is float division whatever its operands: so is a score's.
      return E.binary('div', toFloat(lhs), toFloat(rhs));
    }
    case 'mod': {
      const hint = '`%` is the integer remainder; in a score write x - c * Math.floor(x / c) for floats';
      requireInt(ctx, lhs, lhsNode, '`%`', hint);
      requireInt(ctx, rhs, rhsNode, '`%`', hint);
      checkDivisor(ctx, rhs, rhsNode, '`%`');
      return E.binary('mod', lhs, rhs);
    }
    case 'equality': {
      if ((lhs.type === 'bool') !== (rhs.type === 'bool')) {
        ctx.report.fail('KVF1006', node.getOperatorToken(),
          `\`${text}\` compares ${describeType(lhs.type)} with ${describeType(rhs.type)}`,
          'compare values of one kind: numbers with numbers, booleans with booleans');
      }
      const [l, r] = unify([lhs, rhs]) as [Expr, Expr];
      return E.binary(op.fn, l, r);
    }
    case 'logic':
      // expressions.ts reads `&&` / `||` chains itself (iteratively, built balanced when long).
      return internalError(`combineBinary called for \`${text}\``);
  }
}

/** Prefix `-`, `+`, `!` on a translated operand; anything else is rejected before translation. */
export function checkPrefixOperator(node: PrefixUnaryExpression, ctx: Context): void {
  const op = node.getOperatorToken();
  if (op === SyntaxKind.MinusToken || op === SyntaxKind.PlusToken || op === SyntaxKind.ExclamationToken) return;
  if (op === SyntaxKind.TildeToken) {
    ctx.report.fail('KVF1001', node, 'bitwise operator `~` is not allowed', 'use arithmetic: -x - 1 is ~x for integers');
  }
  const text = op === SyntaxKind.PlusPlusToken ? '++' : '--';
  ctx.report.fail('KVF1001', node, `\`${text}\` is not allowed`, NO_STATE_HINT);
}

export function combinePrefix(node: PrefixUnaryExpression, arg: Expr, ctx: Context): Expr {
  const operand = node.getOperand();
  switch (node.getOperatorToken()) {
    case SyntaxKind.ExclamationToken:
      requireBool(ctx, arg, operand, '`!`');
      return E.unary('not', arg);
    case SyntaxKind.PlusToken:
      requireNumber(ctx, arg, operand, 'unary `+`');
      return arg;
    default:
      requireNumber(ctx, arg, operand, 'unary `-`');
      return E.unary('neg', arg);
  }
}

/**
 * `-3` is one literal to a reader: the literal under a prefix `-` (through parentheses), kept as
 * one constant. `-0` too: its sign is part of the value (`s / -0` is -Infinity in JavaScript).
 */
export function negatedLiteral(node: PrefixUnaryExpression): NumericLiteral | undefined {
  if (node.getOperatorToken() !== SyntaxKind.MinusToken) return undefined;
  let operand: Node = node.getOperand();
  while (Node.isParenthesizedExpression(operand)) operand = operand.getExpression();
  return Node.isNumericLiteral(operand) ? operand : undefined;
}
