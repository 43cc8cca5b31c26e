/**
 * How deep an Expr nests, and the limit every pass can rely on.
 *
 * The passes, the printer, the interpreter and the interval analysis recurse over the IR: one
 * JavaScript frame or two per level. Rather than make each of them iterative, the IR is kept
 * shallow: the front end (frontend/depth.ts) and lowerSpec reject anything deeper than
 * MAX_IR_DEPTH with KVF1012, and long `&&` / `||` chains are built balanced (logicChain), so
 * `a && b && ... ` of 10^4 terms is 15 levels, not 10^4. Measuring is itself iterative.
 */
import { children, E, type Expr } from './expr.ts';

/** The deepest IR any pass is given (a chain of one operator counts log2 of its length). */
export const MAX_IR_DEPTH = 1024;

type Memo = Pick<WeakMap<Expr, number>, 'has' | 'get' | 'set'>;

/**
 * A number per node, from its children's numbers (`combine`), in post-order. Iterative (no
 * frame per level), and each distinct node is visited once: a const used twice is one object
 * (the front end inlines consts by reference). Returns the number of `e`.
 */
function postOrder(e: Expr, memo: Memo, combine: (kids: readonly number[]) => number): number {
  const stack: Array<{ node: Expr; expanded: boolean }> = [{ node: e, expanded: false }];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    if (memo.has(top.node)) {
      stack.pop();
      continue;
    }
    const kids = children(top.node);
    if (!top.expanded) {
      top.expanded = true;
      for (const c of kids) if (!memo.has(c)) stack.push({ node: c, expanded: false });
      continue;
    }
    stack.pop();
    memo.set(top.node, combine(kids.map((c) => memo.get(c)!)));
  }
  return memo.get(e)!;
}

/** Levels of `e` (a leaf is 1). */
export function irDepth(e: Expr, memo: Memo = new Map<Expr, number>()): number {
  return postOrder(e, memo, (kids) => 1 + kids.reduce((m, d) => Math.max(m, d), 0));
}

/**
 * How many nodes an Expr may stand for once every shared subtree is counted as often as it is
 * used (which is what the printer writes and the kernel evaluates), beyond its own distinct
 * nodes: at most MAX_IR_SIZE, or MAX_IR_REUSE times its distinct nodes when that is more. A
 * const is inlined by reference, so `const a1 = a0 + a0; const a2 = a1 + a1; ...` is a DAG of
 * 3n nodes but a tree of 2^n: 40 such lines would print a terabyte. A long chain written out
 * (`a && b && ...` of 10^4 terms) shares nothing and is as large as its source, which is fine.
 */
export const MAX_IR_SIZE = 20_000;
export const MAX_IR_REUSE = 8;

/** Distinct nodes of `e` (iterative). */
export function irDistinct(e: Expr): number {
  const seen = new Set<Expr>([e]);
  const stack = [e];
  while (stack.length) for (const c of children(stack.pop()!)) if (!seen.has(c)) seen.add(c), stack.push(c);
  return seen.size;
}

/** Nodes of `e` as a tree (shared subtrees counted per use). */
export function irSize(e: Expr, memo: Memo = new WeakMap()): number {
  return postOrder(e, memo, (kids) => kids.reduce((n, k) => n + k, 1));
}

/** Chains up to this many operands stay left-deep, as written (readable in `kvforge explain`). */
const LEFT_DEEP_MAX = 32;

/**
 * `parts[0] op parts[1] op ...` for `and` / `or`. Both are associative and every operand is pure,
 * so any grouping has the same value; a long chain is grouped as a balanced tree (depth log2 n).
 */
export function logicChain(fn: 'and' | 'or', parts: readonly Expr[]): Expr {
  if (parts.length === 0) return E.bool(fn === 'and');
  if (parts.length <= LEFT_DEEP_MAX) return parts.reduce((acc, p) => E.binary(fn, acc, p));
  const build = (lo: number, hi: number): Expr => {
    if (hi - lo === 1) return parts[lo]!;
    const mid = (lo + hi) >>> 1;
    return E.binary(fn, build(lo, mid), build(mid, hi));
  };
  return build(0, parts.length);
}
