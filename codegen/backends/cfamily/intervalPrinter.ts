/**
 * The interval printer: a mask Expr as C++ statements over the rules of
 * runtime/native/include/kvforge/interval.hpp (`kvf::iv::...`, one per rule of
 * passes/boundIntervals.ts), so that a kernel's generated `classify` bounds its mask over a box
 * of indices exactly as classifyTile() does in TypeScript.
 *
 * - Indices b, h, q, k are the Interval arguments of classify; an int parameter is the point
 *   interval of its Variant field (run-time parameters; a baked one is already a literal); an int
 *   constant is the point of its exact double literal (literals.ts, -0 kept); a float-typed node,
 *   and so every float or score sub-expression, is `any()` (boundIntervals gives (-inf, +inf) for
 *   each: a float node's rule never reads its operands), a comparison of floats `bool_any()`.
 * - Output is flat and linear in the IR's distinct nodes: one `const kvf::Interval tN = ...;` per
 *   operation, in post-order, each node object once (a const the front end inlines by reference is
 *   one object). No statement nests, so the deepest IR (MAX_IR_DEPTH) is as easy for a compiler
 *   as the shallowest.
 * - A select bounds only the branch its condition leaves possible, as boundIntervals does: the
 *   statements of each branch run under a guard (`const bool gN = <outer guard> &&
 *   kvf::iv::then_needed(c);`), written `gN ? <rule> : kvf::Interval{}`. A value computed under a
 *   guard is reused only while that guard (or an outer one) holds.
 */
import type { BinaryFn, Expr } from '../../ir/expr.ts';
import { printDoubleLiteral } from './literals.ts';

const IV = 'kvf::iv::';

/** The C++ rule of each binary op (`and`, `or` and `not` are C++ keywords). */
const BINARY_RULE: Readonly<Record<Exclude<BinaryFn, 'div'>, string>> = {
  add: 'add', sub: 'sub', mul: 'mul', floorDiv: 'floor_div', mod: 'mod', min: 'min', max: 'max',
  lt: 'lt', le: 'le', gt: 'gt', ge: 'ge', eq: 'eq', ne: 'ne', and: 'and_', or: 'or_',
};

export interface IntervalPrintOptions {
  /** The C expression of int parameter `name`'s value, or undefined where it has none (then unbounded, as boundIntervals does). */
  readonly param: (name: string) => string | undefined;
  /** C names of the Interval arguments. @defaultValue b, h, q, k */
  readonly index?: Readonly<Record<'b' | 'h' | 'q' | 'k', string>>;
}

/** Statements (unindented, one per line) and the C expression of the mask's Interval. */
export interface IntervalStatements {
  readonly lines: readonly string[];
  readonly result: string;
}

interface Guard { readonly parent: Guard | undefined; readonly cond: string; name?: string; readonly added: Expr[] }

/** `mask` (bool) as statements computing its interval; see the module comment. */
export function printIntervalStatements(mask: Expr, opts: IntervalPrintOptions): IntervalStatements {
  const index = opts.index ?? { b: 'b', h: 'h', q: 'q', k: 'k' };
  const lines: string[] = [];
  const memo = new Map<Expr, string>();
  let temps = 0;
  let guards = 0;
  let guard: Guard | undefined;
  const rootAdded: Expr[] = [];

  // A guard is declared where the first statement under it needs it (none for a leaf branch).
  const guardName = (g: Guard): string => {
    if (g.name === undefined) {
      const outer = g.parent ? `${guardName(g.parent)} && ` : '';
      g.name = `g${guards++}`;
      lines.push(`const bool ${g.name} = ${outer}${g.cond};`);
    }
    return g.name;
  };
  const define = (e: Expr, rule: string): string => {
    const t = `t${temps++}`;
    lines.push(guard ? `const kvf::Interval ${t} = ${guardName(guard)} ? ${rule} : kvf::Interval{};` : `const kvf::Interval ${t} = ${rule};`);
    memo.set(e, t);
    (guard ? guard.added : rootAdded).push(e);
    return t;
  };
  // Bound `e` under a new guard; what was computed under it is forgotten afterwards.
  const guarded = (cond: string, e: Expr): string => {
    const g: Guard = { parent: guard, cond, added: [] };
    guard = g;
    try {
      return visit(e);
    } finally {
      for (const n of g.added) memo.delete(n);
      guard = g.parent;
    }
  };

  const visit = (e: Expr): string => {
    if (e.type === 'float') return `${IV}any()`;
    const known = memo.get(e);
    if (known !== undefined) return known;
    switch (e.op) {
      case 'const':
        return e.type === 'bool' ? `${IV}point(${e.value ? '1.0' : '0.0'})` : `${IV}point(${printDoubleLiteral(e.value as number)})`;
      case 'index': return index[e.name];
      case 'param': {
        const v = opts.param(e.name);
        return v === undefined ? `${IV}any()` : `${IV}point(static_cast<double>(${v}))`;
      }
      case 'unary':
        if (e.fn === 'neg' || e.fn === 'abs') return define(e, `${IV}${e.fn}(${visit(e.arg)})`);
        if (e.fn === 'not') return define(e, `${IV}not_(${visit(e.arg)})`);
        return e.type === 'bool' ? `${IV}bool_any()` : `${IV}any()`;
      case 'binary': {
        // Comparisons of floats, and float arithmetic (caught above), are not bounded.
        if (e.lhs.type === 'float') return `${IV}bool_any()`;
        if (e.fn === 'div') return `${IV}any()`;
        const a = visit(e.lhs);
        const b = visit(e.rhs);
        return define(e, `${IV}${BINARY_RULE[e.fn]}(${a}, ${b})`);
      }
      case 'select': {
        const c = visit(e.cond);
        const t = guarded(`${IV}then_needed(${c})`, e.then);
        const f = guarded(`${IV}else_needed(${c})`, e.else);
        return define(e, `${IV}select(${c}, ${t}, ${f})`);
      }
    }
  };

  const result = visit(mask);
  return { lines, result };
}

/**
 * The body of a Variant's `classify(b, h, q, k)`: statements, then the tile class of the mask's
 * interval (kvf::iv::tile_class: 0 EMPTY, 1 PARTIAL, 2 FULL). No mask: every tile is FULL.
 */
export function printClassifyBody(mask: Expr | undefined, opts: IntervalPrintOptions): string[] {
  if (!mask) return ['return 2;  // no mask: the whole box is admitted'];
  const { lines, result } = printIntervalStatements(mask, opts);
  return [...lines, `return ${IV}tile_class(${result});`];
}
