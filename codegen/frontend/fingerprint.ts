/**
 * A structural fingerprint of a function's syntax tree, to recognise the code that runs
 * (`fn.toString()`, as tsx, esbuild or vitest printed it) in the user's original file.
 *
 * Transpilers strip types, reprint numbers (`0x10` -> `16`, `1.50` -> `1.5`), quotes and
 * whitespace, drop or add parentheses and empty statements, write `undefined` as `void 0`:
 * none of that changes the meaning, so none of it is in the fingerprint. Anything else that
 * differs means the original is not the code that runs, and it is not used.
 */
import { ts } from 'ts-morph';

const K = ts.SyntaxKind;

/** Modifiers that only exist in the declaration, not in the function's own text. */
const DECLARATION_ONLY = new Set<ts.SyntaxKind>([
  K.ExportKeyword, K.DefaultKeyword, K.DeclareKeyword, K.PublicKeyword, K.PrivateKeyword,
  K.ProtectedKeyword, K.ReadonlyKeyword, K.StaticKeyword, K.OverrideKeyword, K.AbstractKeyword,
  K.AccessorKeyword,
]);

/** Wrappers that carry only a type or grouping: their operand is what counts. */
function unwrap(n: ts.Node): ts.Node {
  while (
    ts.isParenthesizedExpression(n) || ts.isAsExpression(n) || ts.isSatisfiesExpression(n)
    || ts.isNonNullExpression(n) || ts.isTypeAssertionExpression(n) || ts.isExpressionWithTypeArguments(n)
  ) n = n.expression;
  return n;
}

function isTypeOnly(n: ts.Node): boolean {
  if (ts.isTypeNode(n) || ts.isTypeParameterDeclaration(n)) return true;
  if (n.kind === K.QuestionToken || n.kind === K.ExclamationToken || n.kind === K.EmptyStatement) return true;
  if (DECLARATION_ONLY.has(n.kind)) return true;
  // `function (this: T, ...)`: the `this` parameter is a type annotation.
  return ts.isParameter(n) && ts.isIdentifier(n.name) && n.name.text === 'this';
}

/**
 * The fingerprint of `node` (a function-like node or any subtree). Iterative: the file it reads
 * may hold a chain `a && b && ...` of 10^4 terms (a left-deep tree), which a recursive walk
 * could not finish.
 */
export function fingerprint(node: ts.Node): string {
  const out: string[] = [];
  const identifier = (text: string): string[] => [String(K.Identifier), `id:${text}`, '(', ')'];
  // Work items: a node to print, or text to emit once everything pushed above it is printed.
  const stack: Array<ts.Node | string> = [node];
  const pushChildren = (n: ts.Node): void => {
    const kids: ts.Node[] = [];
    ts.forEachChild(n, (c) => { kids.push(c); });
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
  };
  while (stack.length) {
    const item = stack.pop()!;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    const n = unwrap(item);
    if (isTypeOnly(n)) continue;
    // Printers write `undefined` as `void 0` and may turn `p['w']` into `p.w`: print both
    // exactly as the other spelling prints.
    const voided = ts.isVoidExpression(n) ? unwrap(n.expression) : undefined;
    if (voided && ts.isNumericLiteral(voided) && Number(voided.text) === 0) {
      out.push(...identifier('undefined'));
      continue;
    }
    if (ts.isElementAccessExpression(n) && ts.isStringLiteralLike(unwrap(n.argumentExpression))) {
      out.push(String(K.PropertyAccessExpression), '(');
      stack.push(')', ...identifier((unwrap(n.argumentExpression) as ts.StringLiteralLike).text).reverse(), n.expression);
      continue;
    }
    // A function declaration prints the same as a function expression.
    out.push(String(n.kind === K.FunctionDeclaration ? K.FunctionExpression : n.kind));
    if (ts.isIdentifier(n) || ts.isPrivateIdentifier(n)) out.push(`id:${n.text}`);
    else if (ts.isNumericLiteral(n)) out.push(`num:${Number(n.text.replace(/_/g, ''))}`);
    else if (ts.isBigIntLiteral(n)) out.push(`big:${BigInt(n.text.replace(/_/g, '').replace(/n$/, ''))}`);
    else if (ts.isStringLiteralLike(n) || ts.isTemplateLiteralToken(n)) out.push(`str:${JSON.stringify(n.text)}`);
    else if (ts.isRegularExpressionLiteral(n)) out.push(`re:${n.text}`);
    else if (ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) out.push(`op:${n.operator}`);
    else if (ts.isVariableDeclarationList(n)) out.push(`decl:${n.flags & ts.NodeFlags.BlockScoped}`);
    out.push('(');
    stack.push(')');
    pushChildren(n);
  }
  return out.join(' ');
}
