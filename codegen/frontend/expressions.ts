/**
 * Expression syntax -> Expr IR, by whitelist: every node kind handled here has a meaning in the
 * IR that equals JavaScript's; any other kind is a user error naming the construct.
 */
import {
  Node, SyntaxKind, type BinaryExpression, type CallExpression, type ConditionalExpression, type ElementAccessExpression,
  type Identifier, type NumericLiteral, type PropertyAccessExpression,
} from 'ts-morph';
import { logicChain } from '../ir/depth.ts';
import { E, type Expr } from '../ir/expr.ts';
import { applyMath, checkArity, checkCallee, floorOfDivision } from './calls.ts';
import { SIGNATURES, declaredList, type Context } from './context.ts';
import { snippet } from './errors.ts';
import { numericLiteralValue } from './literals.ts';
import { binaryOperator, checkPrefixOperator, combineBinary, combinePrefix, negatedLiteral } from './operators.ts';
import { describeType, requireBool, unify } from './typing.ts';
import { NO_STATE_HINT, REJECTED_EXPRESSIONS } from './unsupported.ts';

/**
 * The node without grouping parentheses and type annotations (`(x)`, `x as T`, `x!`): the value
 * is the operand's. Transpilers drop them, so the original and the running code differ only here.
 */
export function stripTypes(node: Node): Node {
  while (
    Node.isParenthesizedExpression(node) || Node.isAsExpression(node) || Node.isSatisfiesExpression(node)
    || Node.isNonNullExpression(node) || Node.isTypeAssertion(node)
  ) node = node.getExpression();
  return node;
}

/** Translate the expression `node` in `ctx`. */
export function translateExpr(node: Node, ctx: Context): Expr {
  node = stripTypes(node);
  if (Node.isNumericLiteral(node)) return numberLiteral(literalValue(node, ctx), node, ctx);
  if (Node.isTrueLiteral(node) || Node.isFalseLiteral(node)) return E.bool(node.getLiteralValue());
  if (Node.isIdentifier(node)) return identifier(node, ctx);
  if (Node.isPropertyAccessExpression(node)) return propertyAccess(node, ctx);
  if (Node.isElementAccessExpression(node)) return elementAccess(node, ctx);
  if (Node.isCallExpression(node)) return call(node, ctx);
  if (Node.isConditionalExpression(node)) return conditional(node, ctx);
  if (Node.isBinaryExpression(node)) {
    const op = binaryOperator(node, ctx);
    if (op.kind === 'logic') return logicalChain(node, op.fn, ctx);
    return combineBinary(op, translateExpr(node.getLeft(), ctx), translateExpr(node.getRight(), ctx), node, ctx);
  }
  if (Node.isPrefixUnaryExpression(node)) {
    checkPrefixOperator(node, ctx);
    const literal = negatedLiteral(node);
    if (literal) return numberLiteral(-literalValue(literal, ctx), node, ctx);
    return combinePrefix(node, translateExpr(node.getOperand(), ctx), ctx);
  }
  if (Node.isVoidExpression(node) && /^0+$/.test(stripTypes(node.getExpression()).getText())) {
    // Printers write `undefined` as `void 0`: report it the same way.
    ctx.report.fail('KVF1011', node, '`undefined` (`void 0`) is not allowed', NOT_A_VALUE_HINT(ctx));
  }
  if (Node.isPostfixUnaryExpression(node)) {
    const text = node.getOperatorToken() === SyntaxKind.PlusPlusToken ? '++' : '--';
    ctx.report.fail('KVF1001', node, `\`${text}\` is not allowed`, NO_STATE_HINT);
  }
  const rejected = REJECTED_EXPRESSIONS.get(node.getKind());
  if (rejected) ctx.report.fail(rejected.code, node, `${rejected.what} is not allowed in a ${ctx.role}`, rejected.hint);
  return ctx.report.fail('KVF1001', node, `${node.getKindName()} \`${snippet(node)}\` is not allowed in a ${ctx.role}`);
}

/**
 * `a && b && c ...` (or `||`): its operands, read along the left spine iteratively, so a chain of
 * 10^4 terms needs no 10^4 frames (frontend/depth.ts counts it as one level). Operands are
 * translated and checked in the order the nested form would: a, b, check a and b, c, check c...
 */
function logicalChain(node: BinaryExpression, fn: 'and' | 'or', ctx: Context): Expr {
  const kind = node.getOperatorToken().getKind();
  const text = node.getOperatorToken().getText();
  const operands: Node[] = [];
  const spine: Node[] = [];
  let left: Node = node;
  while (Node.isBinaryExpression(left) && left.getOperatorToken().getKind() === kind) {
    if (left !== node) spine.push(left);
    operands.push(left.getRight());
    left = left.getLeft();
  }
  operands.push(left);
  operands.reverse();
  const parts: Expr[] = [];
  operands.forEach((operand, i) => {
    parts.push(translateExpr(operand, ctx));
    if (i === 1) requireBool(ctx, parts[0]!, operands[0]!, `\`${text}\``);
    if (i >= 1) requireBool(ctx, parts[i]!, operand, `\`${text}\``);
  });
  // ts-morph forgets a node's wrapped descendants recursively (when the file is removed): drop
  // the inner links of the chain deepest first, so no forget has a long chain below it. Their
  // operands are translated, and errors about them already reported; `node` itself stays.
  for (let i = spine.length - 1; i >= 0; i--) spine[i]!.forget();
  return logicChain(fn, parts);
}

const NOT_A_VALUE_HINT = (ctx: Context): string => (ctx.role === 'mask'
  ? 'a mask returns true or false; to exclude a key, return false'
  : 'scores are finite numbers here; exclude keys with a mask, cap a score with Math.min(s, c)');

/** The value JavaScript gives the literal token `node` (literals.ts), or a KVF1011 error. */
function literalValue(node: NumericLiteral, ctx: Context): number {
  const v = numericLiteralValue(node.getText());
  if (typeof v === 'number') return v;
  return ctx.report.fail('KVF1011', node, v.problem, v.hint);
}

/**
 * Integer literals are exact ints; other numbers are floats, which only a score may use. `-0` is
 * an int constant -0: JavaScript keeps its sign (`s / -0` is -Infinity), and so does the IR.
 */
function numberLiteral(value: number, node: Node, ctx: Context): Expr {
  if (Number.isSafeInteger(value)) return E.int(value);
  if (ctx.role === 'score') return E.float(value);
  if (Number.isInteger(value)) {
    ctx.report.fail('KVF1011', node, `integer literal \`${snippet(node)}\` is outside the exact integer range (+-2^53)`);
  }
  return ctx.report.fail('KVF1006', node, `float literal \`${snippet(node)}\` in a mask; masks compute with integers`,
    'use integers: Math.floor(x / 2) instead of x * 0.5');
}

function identifier(node: Identifier, ctx: Context): Expr {
  const name = node.getText();
  const binding = ctx.scope.get(name);
  switch (binding?.kind) {
    case 'index': return E.index(binding.name);
    case 'score': return E.score();
    case 'param': return readParam(binding.name, node, ctx);
    case 'const': return binding.expr;
    case 'pending':
      return ctx.report.fail('KVF1003', node, `\`${name}\` is used before its declaration`, 'declare a const before reading it');
    case 'params':
      return ctx.report.fail('KVF1001', node, `the parameters object \`${name}\` can only be read as ${name}.name`,
        `declared parameters: ${declaredList(ctx.decls)}`);
    case undefined:
      return unknownIdentifier(node, ctx);
  }
}

/** A name that is neither a parameter nor a const of the body: a global, or captured from outside. */
function unknownIdentifier(node: Identifier, ctx: Context, property?: string): never {
  const name = node.getText();
  if (property !== undefined && Object.hasOwn(ctx.decls, property)) {
    // `p.window` in a function that has no parameters object: it was left out of the signature.
    const names = SIGNATURES[ctx.role].join(', ');
    ctx.report.fail('KVF1005', node, `\`${name}\` is not a parameter of this ${ctx.role}`,
      `take the parameters object as the last parameter: (${names}) => ..., and read ${property} as p.${property}`);
  }
  if (name === 'Infinity' || name === 'NaN' || name === 'undefined') {
    ctx.report.fail('KVF1011', node, `\`${name}\` is not allowed`, NOT_A_VALUE_HINT(ctx));
  }
  if (name === 'Math') {
    ctx.report.fail('KVF1001', node, '`Math` can only be called, as in Math.min(a, b)', `a ${ctx.role} may call its listed Math functions`);
  }
  const names = SIGNATURES[ctx.role].join(', ');
  if (name in globalThis) {
    ctx.report.fail('KVF1003', node, `\`${name}\` is not available in a ${ctx.role}`,
      `a ${ctx.role} reads its parameters (${names}) and declared parameters as p.name`);
  }
  const define = ctx.role === 'mask' ? 'defineMask' : 'defineScore';
  const type = ctx.role === 'mask' ? 'int32' : 'float32';
  // For `CONFIG.window` the value to declare is `window`, not the object.
  const declare = property ?? name;
  return ctx.report.fail('KVF1005', node, `\`${name}\`, defined outside the ${ctx.role}; a ${ctx.role} reads only its parameters`,
    `declare it: ${define}(fn, { params: { ${declare}: '${type}' } }) and read it as p.${declare}`);
}

/** `p.name`: a declared parameter, int32 -> int, float32 -> float (never in a mask). */
function readParam(name: string, node: Node, ctx: Context): Expr {
  const type = Object.hasOwn(ctx.decls, name) ? ctx.decls[name] : undefined;
  if (type === undefined) {
    ctx.report.fail('KVF1004', node, `\`${name}\` is not a declared parameter of ${ctx.name} (declared: ${declaredList(ctx.decls)})`,
      `declare it: { params: { ${name}: '${ctx.role === 'mask' ? 'int32' : 'float32'}' } }, or fix the name`);
  }
  if (type === 'float32' && ctx.role === 'mask') {
    ctx.report.fail('KVF1006', node, `float parameter \`${name}\` in a mask; masks compute with integers`, `declare it as 'int32'`);
  }
  return E.param(name, type === 'int32' ? 'int' : 'float');
}

/** The identifier a property or element access reads from, when it is a plain name. */
function baseName(node: PropertyAccessExpression | ElementAccessExpression): Identifier | undefined {
  const base = stripTypes(node.getExpression());
  return Node.isIdentifier(base) ? base : undefined;
}

function rejectOptionalChain(node: PropertyAccessExpression | ElementAccessExpression | CallExpression, ctx: Context): void {
  const token = node.getQuestionDotTokenNode();
  if (token) ctx.report.fail('KVF1001', token, 'optional chaining `?.` is not allowed', 'no value is ever null or undefined here');
}

function propertyAccess(node: PropertyAccessExpression, ctx: Context): Expr {
  rejectOptionalChain(node, ctx);
  const base = baseName(node);
  const binding = base && ctx.scope.get(base.getText());
  if (binding?.kind === 'params') return readParam(node.getName(), node, ctx);
  if (base && binding === undefined) {
    if (base.getText() === 'Math') {
      ctx.report.fail('KVF1001', node, `\`${snippet(node)}\` is not allowed`, 'write the constant as a literal, or declare a parameter');
    }
    unknownIdentifier(base, ctx, node.getName());
  }
  // `this.x`, `(a + b).x`: an error inside the base says more than "property access".
  if (!base) translateExpr(node.getExpression(), ctx);
  return ctx.report.fail('KVF1001', node, `property access \`${snippet(node)}\` is not allowed`,
    'only the parameters object has properties: p.name');
}

function elementAccess(node: ElementAccessExpression, ctx: Context): Expr {
  rejectOptionalChain(node, ctx);
  const base = baseName(node);
  const binding = base && ctx.scope.get(base.getText());
  if (binding?.kind === 'params') {
    const arg = node.getArgumentExpression();
    const key = arg && stripTypes(arg);
    if (Node.isStringLiteral(key) || Node.isNoSubstitutionTemplateLiteral(key)) {
      return readParam(key.getLiteralValue(), node, ctx);
    }
    ctx.report.fail('KVF1001', node, `computed parameter access \`${snippet(node)}\` is not allowed`, `write ${base!.getText()}.name`);
  }
  if (base && binding === undefined) unknownIdentifier(base, ctx);
  if (!base) translateExpr(node.getExpression(), ctx);
  return ctx.report.fail('KVF1001', node, `element access \`${snippet(node)}\` is not allowed`, 'arrays are not supported');
}

function call(node: CallExpression, ctx: Context): Expr {
  rejectOptionalChain(node, ctx);
  const callee = stripTypes(node.getExpression());
  let mathName: string | undefined;
  if (Node.isPropertyAccessExpression(callee)) {
    rejectOptionalChain(callee, ctx);
    const base = stripTypes(callee.getExpression());
    if (Node.isIdentifier(base) && base.getText() === 'Math' && !ctx.scope.has('Math')) mathName = callee.getName();
  }
  const fn = checkCallee(mathName, snippet(callee), callee, ctx);
  const argNodes = node.getArguments();
  for (const a of argNodes) if (Node.isSpreadElement(a)) translateExpr(a, ctx);
  checkArity(fn, node, ctx);
  if (fn === 'floor') {
    const arg = stripTypes(argNodes[0]!);
    if (Node.isBinaryExpression(arg) && arg.getOperatorToken().getKind() === SyntaxKind.SlashToken) {
      const [l, r] = [arg.getLeft(), arg.getRight()];
      return floorOfDivision(translateExpr(l, ctx), translateExpr(r, ctx), l, r, ctx);
    }
  }
  return applyMath(fn, argNodes.map((a) => translateExpr(a, ctx)), argNodes, ctx);
}

function conditional(node: ConditionalExpression, ctx: Context): Expr {
  const condNode = node.getCondition();
  const cond = translateExpr(condNode, ctx);
  requireBool(ctx, cond, condNode, 'the condition of `?:`');
  const then = translateExpr(node.getWhenTrue(), ctx);
  const otherwise = translateExpr(node.getWhenFalse(), ctx);
  if ((then.type === 'bool') !== (otherwise.type === 'bool')) {
    ctx.report.fail('KVF1006', node, `the branches of \`?:\` have different types: ${describeType(then.type)} and ${describeType(otherwise.type)}`,
      'both branches must be numbers, or both booleans');
  }
  const [t, e] = unify([then, otherwise]) as [Expr, Expr];
  return E.select(cond, t, e);
}
