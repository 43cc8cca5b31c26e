/**
 * The text of one call in a file, found with TypeScript's scanner (iterative: no recursion, so
 * any nesting depth is scanned), for reading a function from its call site when the whole file
 * nests deeper than the parser can follow (source.ts).
 *
 * callSpan(text, line, column): from the 1-based (line, column) of a call site (a V8 stack frame
 * mapped to the original file), the span [start, end) from the callee at the site through the
 * parenthesis that closes its argument list; undefined when no call starts there. Template
 * literals and regular expressions are rescanned so their parentheses do not count.
 *
 * blankOutside(text, span): the same text with every character outside the span replaced by a
 * space (line breaks kept), so positions, lines and columns are those of the original.
 */
import { ts } from 'ts-morph';

/** Tokens allowed between the site and the argument list's `(` (`ns.defineMask`, `?.`, type arguments). */
const MAX_CALLEE_TOKENS = 64;

export interface Span { readonly start: number; readonly end: number }

/** After these tokens a `/` divides; elsewhere it starts a regular expression. */
function endsOperand(k: ts.SyntaxKind): boolean {
  return k === ts.SyntaxKind.Identifier || k === ts.SyntaxKind.CloseParenToken || k === ts.SyntaxKind.CloseBracketToken || k === ts.SyntaxKind.CloseBraceToken
    || k === ts.SyntaxKind.NumericLiteral || k === ts.SyntaxKind.BigIntLiteral || k === ts.SyntaxKind.StringLiteral || k === ts.SyntaxKind.NoSubstitutionTemplateLiteral
    || k === ts.SyntaxKind.TemplateTail || k === ts.SyntaxKind.ThisKeyword || k === ts.SyntaxKind.SuperKeyword || k === ts.SyntaxKind.TrueKeyword
    || k === ts.SyntaxKind.FalseKeyword || k === ts.SyntaxKind.NullKeyword || k === ts.SyntaxKind.PlusPlusToken || k === ts.SyntaxKind.MinusMinusToken;
}

/** Offsets where lines start, with TypeScript's line breaks (CR LF, CR, LF, U+2028, U+2029). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 && text.charCodeAt(i + 1) === 10) continue; // CR of CR LF: the LF ends the line
    if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) starts.push(i + 1);
  }
  return starts;
}

export function callSpan(text: string, line: number, column: number, jsx = false): Span | undefined {
  const starts = lineStarts(text);
  if (!Number.isInteger(line) || line < 1 || line > starts.length || !Number.isInteger(column) || column < 1) return undefined;
  const start = starts[line - 1]! + column - 1;
  if (start >= text.length) return undefined;
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, jsx ? ts.LanguageVariant.JSX : ts.LanguageVariant.Standard, text);
  scanner.resetTokenState(start);
  let parens = 0, brackets = 0, opened = false, callee = 0;
  const braces: ('brace' | 'template')[] = [];
  let prev = ts.SyntaxKind.Unknown;
  for (;;) {
    let k = scanner.scan();
    if (k === ts.SyntaxKind.EndOfFileToken) return undefined;
    if ((k === ts.SyntaxKind.SlashToken || k === ts.SyntaxKind.SlashEqualsToken) && !endsOperand(prev)) k = scanner.reScanSlashToken();
    if (k === ts.SyntaxKind.CloseBraceToken && braces[braces.length - 1] === 'template') {
      k = scanner.reScanTemplateToken(false);
      if (k === ts.SyntaxKind.TemplateTail) braces.pop();
    } else if (k === ts.SyntaxKind.TemplateHead) braces.push('template');
    else if (k === ts.SyntaxKind.OpenBraceToken) braces.push('brace');
    else if (k === ts.SyntaxKind.CloseBraceToken) {
      if (!braces.length) return undefined;
      braces.pop();
    } else if (k === ts.SyntaxKind.OpenBracketToken) brackets++;
    else if (k === ts.SyntaxKind.CloseBracketToken) brackets--;
    else if (k === ts.SyntaxKind.OpenParenToken) (parens++), (opened = true);
    else if (k === ts.SyntaxKind.CloseParenToken) {
      parens--;
      if (opened && parens === 0 && brackets === 0 && braces.length === 0) return { start, end: scanner.getTokenEnd() };
      if (parens < 0) return undefined;
    }
    if (!opened && ++callee > MAX_CALLEE_TOKENS) return undefined;
    prev = k;
  }
}

export function blankOutside(text: string, span: Span): string {
  const blank = (s: string) => s.replace(/[^\r\n\u2028\u2029]/g, ' ');
  return blank(text.slice(0, span.start)) + text.slice(span.start, span.end) + blank(text.slice(span.end));
}
