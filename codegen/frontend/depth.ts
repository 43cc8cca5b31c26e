/**
 * The nesting limit of a mask or score body (issue 6 defect 8: a deep body crashed the front end
 * with "Maximum call stack size exceeded", KVF9001).
 *
 * The translator and every pass after it recurse, one level of the syntax per frame or two; the
 * body is measured here first, iteratively, and anything nested deeper than MAX_NESTING is a
 * KVF1012 error at the node where the limit is crossed. A chain of one logical operator
 * (`a && b && c ...`, `a || b || ...`) counts as one level whatever its length: the translator
 * reads it iteratively and builds it balanced (ir/depth.ts logicChain).
 */
import { ts } from 'ts-morph';
import type { Reporter } from './errors.ts';

/** How deep a body's syntax may nest (operators, calls, `?:`, parentheses: one level each). */
export const MAX_NESTING = 256;

export const NESTING_HINT = `bodies may nest at most ${MAX_NESTING} levels (a chain a && b && c ... of one operator is one level); `
  + 'name parts with const, or combine masks with and(...) / or(...)';

const LOGICAL = new Set<ts.SyntaxKind>([ts.SyntaxKind.AmpersandAmpersandToken, ts.SyntaxKind.BarBarToken]);

/** True when `child` continues its parent's `&&` / `||` chain (the left operand, same operator). */
function continuesChain(parent: ts.Node, child: ts.Node): boolean {
  return ts.isBinaryExpression(parent) && ts.isBinaryExpression(child) && parent.left === child
    && LOGICAL.has(parent.operatorToken.kind) && child.operatorToken.kind === parent.operatorToken.kind;
}

/** Reject a function whose syntax nests deeper than MAX_NESTING (KVF1012 at the first such node). */
export function checkNesting(fn: ts.Node, report: Reporter, role: string): void {
  const sf = fn.getSourceFile();
  const stack: Array<{ node: ts.Node; depth: number }> = [{ node: fn, depth: 0 }];
  while (stack.length) {
    const { node, depth } = stack.pop()!;
    if (depth > MAX_NESTING) {
      report.failSpan('KVF1012', node.getStart(sf), node.getEnd(),
        `this ${role} body nests more than ${MAX_NESTING} levels deep here`, NESTING_HINT);
    }
    // Children in reverse, so the first one in source order is visited (and reported) first.
    const kids: ts.Node[] = [];
    ts.forEachChild(node, (c) => { kids.push(c); });
    for (let i = kids.length - 1; i >= 0; i--) {
      const c = kids[i]!;
      stack.push({ node: c, depth: continuesChain(node, c) ? depth : depth + 1 });
    }
  }
}
