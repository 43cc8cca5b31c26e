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

/** The fingerprint of `node` (a function-like node or any subtree). */
export function fingerprint(node: ts.Node): string {
  const out: string[] = [];
  const identifier = (text: string) => out.push(String(K.Identifier), `id:${text}`, '(', ')');
  const visit = (raw: ts.Node): void => {
    const n = unwrap(raw);
    if (isTypeOnly(n)) return;
    // Printers write `undefined` as `void 0` and may turn `p['w']` into `p.w`: print both
    // exactly as the other spelling prints.
    const voided = ts.isVoidExpression(n) ? unwrap(n.expression) : undefined;
    if (voided && ts.isNumericLiteral(voided) && Number(voided.text) === 0) {
      identifier('undefined');
      return;
    }
    if (ts.isElementAccessExpression(n) && ts.isStringLiteralLike(unwrap(n.argumentExpression))) {
      out.push(String(K.PropertyAccessExpression), '(');
      visit(n.expression);
      identifier((unwrap(n.argumentExpression) as ts.StringLiteralLike).text);
      out.push(')');
      return;
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
    ts.forEachChild(n, visit);
    out.push(')');
  };
  visit(node);
  return out.join(' ');
}
