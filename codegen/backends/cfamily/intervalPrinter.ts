/**
 * The interval printer: a mask Expr as C++ over the rules of
 * runtime/native/include/kvforge/interval.hpp (`kvf::iv::...`, one per rule of
 * passes/boundIntervals.ts), so that a kernel's generated `classify` bounds its mask over a box
 * of indices exactly as classifyTile() does in TypeScript.
 *
 * - Indices b, h, q, k are the Interval arguments of classify; an int parameter is the point
 *   interval of its Variant field (run-time parameters; a baked one is already a literal); an int
 *   constant is the point of its exact double literal (literals.ts, -0 kept); a float-typed node,
 *   and so every float or score sub-expression, is `any()` (boundIntervals gives (-inf, +inf) for
 *   each: a float node's rule never reads its operands), a comparison of floats `bool_any()`.
 * - Straight-line form: one `const kvf::Interval tN = ...;` per operation, in post-order, each node
 *   object once (a const the front end inlines by reference is one object), so the text is linear
 *   in the IR's distinct nodes. A select bounds only the branch its condition leaves possible, as
 *   boundIntervals does: each branch is a block under `if (kvf::iv::then_needed(c))` (or
 *   `else_needed`); what a block computed is not reused outside it. Blocks nest as selects do.
 * - Compact form, past COMPACT_ABOVE operations: the same operations as a table of steps
 *   (kvf::IvStep) that kvf::iv::run() executes, the branches as forward skips. Compilers spend
 *   about a millisecond (g++ -O3) to ten (nvcc) per inlined straight-line operation, and much
 *   more where selects nest, so a 20,000-node mask would cost minutes per kernel; a table costs
 *   nothing to compile, and its scratch slots are reused once a value is dead.
 */
import type { BinaryFn, Expr } from '../../ir/expr.ts';
import { printDoubleLiteral } from './literals.ts';

const IV = 'kvf::iv::';

/** Straight-line code up to this many operations, the compact form past it. */
export const COMPACT_ABOVE = 64;

/** The rule of each binary op (`and`, `or` and `not` are C++ keywords), and its step in the compact form. */
const BINARY_RULE: Readonly<Record<Exclude<BinaryFn, 'div'>, readonly [string, string]>> = {
  add: ['add', 'kIvAdd'], sub: ['sub', 'kIvSub'], mul: ['mul', 'kIvMul'], floorDiv: ['floor_div', 'kIvFloorDiv'],
  mod: ['mod', 'kIvMod'], min: ['min', 'kIvMin'], max: ['max', 'kIvMax'],
  lt: ['lt', 'kIvLt'], le: ['le', 'kIvLe'], gt: ['gt', 'kIvGt'], ge: ['ge', 'kIvGe'], eq: ['eq', 'kIvEq'], ne: ['ne', 'kIvNe'],
  and: ['and_', 'kIvAnd'], or: ['or_', 'kIvOr'],
};
const UNARY_RULE = { neg: ['neg', 'kIvNeg'], not: ['not_', 'kIvNot'], abs: ['abs', 'kIvAbs'] } as const;
const INDEX_NUMBER = { b: 0, h: 1, q: 2, k: 3 } as const;

export interface IntervalPrintOptions {
  /** The C expression of int parameter `name`'s value, or undefined where it has none (then unbounded, as boundIntervals does). */
  readonly param: (name: string) => string | undefined;
  /** Operations past which the compact form is printed. @defaultValue COMPACT_ABOVE */
  readonly compactAbove?: number;
}

// --- lowering: the operations in evaluation order, shared by both forms ---------------------------

type Operand =
  | { readonly kind: 'temp'; readonly id: number }
  | { readonly kind: 'index'; readonly name: 'b' | 'h' | 'q' | 'k' }
  | { readonly kind: 'point'; readonly value: number }
  | { readonly kind: 'param'; readonly c: string }
  | { readonly kind: 'any' | 'boolAny' };

type Op =
  /** t<dst> = rule(args) */
  | { readonly kind: 'rule'; readonly dst: number; readonly rule: readonly [string, string]; readonly args: readonly Operand[] }
  /** t<then>, t<else> declared: the branch bounds of a select */
  | { readonly kind: 'branches'; readonly then: number; readonly else: number }
  /** if (then_needed / else_needed(cond)) { body; t<out> = result; } */
  | { readonly kind: 'branch'; readonly needed: 'then' | 'else'; readonly cond: Operand; readonly body: readonly Op[]; readonly out: number; readonly result: Operand };

interface Lowered { readonly ops: readonly Op[]; readonly result: Operand; readonly rules: number; readonly temps: number }

const SELECT: readonly [string, string] = ['select', 'kIvSelect'];

function lower(mask: Expr, opts: IntervalPrintOptions): Lowered {
  const memo = new Map<Expr, Operand>();
  let temps = 0;
  let rules = 0;
  let ops: Op[] = [];
  let added: Expr[] = [];
  const rule = (e: Expr, r: readonly [string, string], args: readonly Operand[]): Operand => {
    const t: Operand = { kind: 'temp', id: temps++ };
    ops.push({ kind: 'rule', dst: t.id, rule: r, args });
    rules++;
    memo.set(e, t);
    added.push(e);
    return t;
  };
  // The ops of `e` in a block of their own; what the block computed is forgotten afterwards.
  const block = (e: Expr): { body: Op[]; result: Operand } => {
    const [outerOps, outerAdded] = [ops, added];
    [ops, added] = [[], []];
    try {
      const result = visit(e);
      return { body: ops, result };
    } finally {
      for (const n of added) memo.delete(n);
      [ops, added] = [outerOps, outerAdded];
    }
  };
  const visit = (e: Expr): Operand => {
    if (e.type === 'float') return { kind: 'any' };
    const known = memo.get(e);
    if (known) return known;
    switch (e.op) {
      case 'const': return { kind: 'point', value: e.type === 'bool' ? (e.value ? 1 : 0) : (e.value as number) };
      case 'index': return { kind: 'index', name: e.name };
      case 'param': {
        const c = opts.param(e.name);
        return c === undefined ? { kind: 'any' } : { kind: 'param', c };
      }
      case 'unary':
        if (e.fn === 'neg' || e.fn === 'not' || e.fn === 'abs') return rule(e, UNARY_RULE[e.fn], [visit(e.arg)]);
        return { kind: e.type === 'bool' ? 'boolAny' : 'any' };
      case 'binary':
        // Comparisons of floats, and float arithmetic (caught above), are not bounded.
        if (e.lhs.type === 'float') return { kind: 'boolAny' };
        if (e.fn === 'div') return { kind: 'any' };
        return rule(e, BINARY_RULE[e.fn], [visit(e.lhs), visit(e.rhs)]);
      case 'select': {
        const cond = visit(e.cond);
        const then = temps++;
        const otherwise = temps++;
        ops.push({ kind: 'branches', then, else: otherwise });
        const t = block(e.then);
        ops.push({ kind: 'branch', needed: 'then', cond, body: t.body, out: then, result: t.result });
        const f = block(e.else);
        ops.push({ kind: 'branch', needed: 'else', cond, body: f.body, out: otherwise, result: f.result });
        return rule(e, SELECT, [cond, { kind: 'temp', id: then }, { kind: 'temp', id: otherwise }]);
      }
    }
  };
  const result = visit(mask);
  return { ops, result, rules, temps };
}

// --- the straight-line form ---------------------------------------------------------------------

/** Nested blocks are indented up to this many levels (deeper ones print at this indentation). */
const MAX_INDENT = 8;

function operandText(o: Operand): string {
  switch (o.kind) {
    case 'temp': return `t${o.id}`;
    case 'index': return o.name;
    case 'point': return `${IV}point(${printDoubleLiteral(o.value)})`;
    case 'param': return `${IV}point(static_cast<double>(${o.c}))`;
    case 'any': return `${IV}any()`;
    case 'boolAny': return `${IV}bool_any()`;
  }
}

function straightLine(l: Lowered): string[] {
  const lines: string[] = [];
  const print = (ops: readonly Op[], level: number): void => {
    const pad = '  '.repeat(Math.min(level, MAX_INDENT));
    for (const op of ops) {
      if (op.kind === 'rule') lines.push(`${pad}const kvf::Interval t${op.dst} = ${IV}${op.rule[0]}(${op.args.map(operandText).join(', ')});`);
      else if (op.kind === 'branches') lines.push(`${pad}kvf::Interval t${op.then} = {}, t${op.else} = {};`);
      else {
        lines.push(`${pad}if (${IV}${op.needed}_needed(${operandText(op.cond)})) {`);
        print(op.body, level + 1);
        lines.push(`${pad}  t${op.out} = ${operandText(op.result)};`);
        lines.push(`${pad}}`);
      }
    }
  };
  print(l.ops, 0);
  lines.push(`return ${IV}tile_class(${operandText(l.result)});`);
  return lines;
}

// --- the compact form ---------------------------------------------------------------------------

/** A step over temp ids (slots once assigned); `leaf` / `rule` name what a load or an operation computes, for the comment. */
interface Step { readonly op: string; readonly dst: number; readonly a?: number; readonly b?: number; readonly c?: number; readonly value?: number; readonly leaf?: string; readonly rule?: string }

/** The ops as flat steps over temps (dst and operands still temp ids); leaves are loaded into temps first. */
function flatten(l: Lowered, params: string[]): { steps: Step[]; temps: number } {
  const steps: Step[] = [];
  let temps = l.temps;
  const load = (o: Operand, out: Step[]): number => {
    if (o.kind === 'temp') return o.id;
    const dst = temps++;
    const leaf = o.kind === 'param' ? o.c : o.kind === 'point' ? printDoubleLiteral(o.value) : operandText(o);
    switch (o.kind) {
      case 'index': out.push({ op: 'kIvIndex', dst, a: INDEX_NUMBER[o.name], leaf }); break;
      case 'point': out.push({ op: 'kIvPoint', dst, value: o.value, leaf }); break;
      case 'param': {
        let i = params.indexOf(o.c);
        if (i < 0) i = params.push(o.c) - 1;
        out.push({ op: 'kIvParam', dst, a: i, leaf });
        break;
      }
      case 'any': out.push({ op: 'kIvAny', dst, leaf }); break;
      case 'boolAny': out.push({ op: 'kIvBoolAny', dst, leaf }); break;
    }
    return dst;
  };
  const emit = (ops: readonly Op[], out: Step[]): void => {
    for (const op of ops) {
      if (op.kind === 'branches') continue;
      if (op.kind === 'rule') {
        const [a, b, c] = op.args.map((x) => load(x, out));
        out.push({ op: op.rule[1], dst: op.dst, a, b, c, rule: op.rule[0] });
        continue;
      }
      const cond = load(op.cond, out);
      const body: Step[] = [];
      emit(op.body, body);
      const r = load(op.result, body);
      body.push({ op: 'kIvCopy', dst: op.out, a: r });
      out.push({ op: op.needed === 'then' ? 'kIvSkipUnlessThen' : 'kIvSkipUnlessElse', dst: 0, a: cond, b: body.length, rule: `${op.needed}_needed` });
      out.push(...body);
    }
  };
  emit(l.ops, steps);
  const r = load(l.result, steps);
  if (steps.length === 0 || steps[steps.length - 1]!.dst !== r || steps[steps.length - 1]!.op.startsWith('kIvSkip')) {
    steps.push({ op: 'kIvCopy', dst: temps++, a: r });
  }
  return { steps, temps };
}

/**
 * Scratch slots for temps: a slot is reused once its temp's last step (in table order) is done.
 * Skips only jump forward over a branch whose values nothing outside it reads but the select,
 * which ignores a skipped branch, so liveness in table order is liveness on every path.
 */
function assignSlots(steps: readonly Step[], temps: number): { slotted: Step[]; slots: number } {
  const last = new Array<number>(temps).fill(-1);
  const reads = (s: Step): number[] => {
    if (s.op.startsWith('kIvSkip') || s.op === 'kIvCopy') return [s.a!];
    return [s.a, s.b, s.c].filter((x): x is number => x !== undefined && !['kIvIndex', 'kIvParam'].includes(s.op));
  };
  steps.forEach((s, i) => { for (const t of reads(s)) last[t] = i; });
  const slotOf = new Array<number>(temps).fill(-1);
  const free: number[] = [];
  let slots = 0;
  const slotted = steps.map((s, i) => {
    const map = (t: number | undefined) => (t === undefined ? undefined : slotOf[t]!);
    const [a, b, c] = s.op === 'kIvIndex' || s.op === 'kIvParam' ? [s.a, undefined, undefined]
      : s.op.startsWith('kIvSkip') ? [map(s.a), s.b, undefined] : [map(s.a), map(s.b), map(s.c)];
    for (const t of new Set(reads(s))) if (last[t] === i) free.push(slotOf[t]!);
    let dst = 0;
    if (!s.op.startsWith('kIvSkip')) {
      // A temp written twice (a branch bound: once per branch path) keeps its slot.
      if (slotOf[s.dst]! < 0) slotOf[s.dst] = free.length ? free.pop()! : slots++;
      dst = slotOf[s.dst]!;
    }
    return { ...s, dst, a, b, c };
  });
  return { slotted, slots };
}

/** What a slotted step does, as a comment: `s2 = le(s0, s1)`, `s1 = q`, `unless then_needed(s0): skip 4`. */
function stepNote(s: Step): string {
  if (s.leaf !== undefined) return `s${s.dst} = ${s.leaf}`;
  if (s.op === 'kIvCopy') return `s${s.dst} = s${s.a}`;
  if (s.op.startsWith('kIvSkip')) return `unless ${s.rule}(s${s.a}): skip ${s.b}`;
  return `s${s.dst} = ${s.rule}(${[s.a, s.b, s.c].filter((x) => x !== undefined).map((x) => `s${x}`).join(', ')})`;
}

function compact(l: Lowered): string[] {
  const params: string[] = [];
  const { steps, temps } = flatten(l, params);
  const { slotted, slots } = assignSlots(steps, temps);
  const row = (s: Step) => `{kvf::${s.op}, ${s.dst}, ${s.a ?? 0}, ${s.b ?? 0}, ${s.c ?? 0}, ${s.value === undefined ? '0.0' : printDoubleLiteral(s.value)}},`;
  return [
    `// The compact form (${l.rules} operations): steps kvf::iv::run() executes over ${slots} scratch slots.`,
    'static constexpr kvf::IvStep kSteps[] = {',
    ...slotted.map((s, i) => `  ${row(s)}  // ${i}: ${stepNote(s)}`),
    '};',
    `kvf::Interval s[${slots}] = {};`,
    params.length ? `const double p[] = {${params.map((c) => `static_cast<double>(${c})`).join(', ')}};` : 'const double* p = nullptr;',
    `return ${IV}tile_class(${IV}run(kSteps, ${slotted.length}, s, b, h, q, k, p));`,
  ];
}

// --- the body ------------------------------------------------------------------------------------

/**
 * The body of a Variant's `classify(b, h, q, k)`, one statement per line: the tile class of the
 * mask's interval (kvf::iv::tile_class: 0 EMPTY, 1 PARTIAL, 2 FULL). No mask: every tile is FULL.
 */
export function printClassifyBody(mask: Expr | undefined, opts: IntervalPrintOptions): string[] {
  if (!mask) return ['return 2;  // no mask: the whole box is admitted'];
  const l = lower(mask, opts);
  return l.rules > (opts.compactAbove ?? COMPACT_ABOVE) ? compact(l) : straightLine(l);
}
