/**
 * checkIntegerRange: the exact-integer contract of expr.ts, checked for one call.
 *
 * Mask and score integer arithmetic is exact while every intermediate value stays within
 * +-(2^53 - 1): there JavaScript's doubles (the reference) and the kernels' int64 agree. Given
 * the ranges a call's indices and parameters take (q over the query positions, k over the key
 * positions, b in [0, B-1], h in [0, Hq-1], parameters at their values), the interval rules of
 * boundIntervals bound every int node; the first node (innermost first) whose bound leaves the
 * safe range is returned, and the call fails with KVF3007 naming it, instead of computing
 * something the reference does not (issue 6 defect 6: `(q * k) % 7` near 2^31).
 *
 * Sound: a bound computed in doubles is exact while the true bound is safe, and a true bound of
 * 2^53 or more is computed as 2^53 or more (rounding is monotonic and 2^53 is a double); so when
 * no computed bound exceeds 2^53 - 1, every value at every node is a safe integer, computed
 * exactly by both. One pass: each node once (memoised; consts are shared objects), recursion
 * bounded by MAX_IR_DEPTH. A branch of `?:` that the condition's bounds rule out is not checked:
 * neither JavaScript nor the kernel evaluates it.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { children, type Expr } from '../ir/expr.ts';
import { printJs } from '../ir/printJs.ts';
import { nodeInterval, type Interval, type IntervalEnv } from './boundIntervals.ts';

export interface RangeViolation {
  /** The innermost int node whose value can leave the safe range. */
  readonly node: Expr;
  readonly bound: Interval;
}

const SAFE = Number.MAX_SAFE_INTEGER;

/** The first int node of `e` that can leave +-(2^53 - 1) over `env`, or undefined when none can. */
export function checkIntegerRange(e: Expr, env: IntervalEnv): RangeViolation | undefined {
  const memo = new Map<Expr, Interval>();
  let violation: RangeViolation | undefined;
  const visit = (n: Expr): Interval => {
    const known = memo.get(n);
    if (known) return known;
    // Children first (a select's branches only as nodeInterval asks for them), so the innermost
    // node out of range is the one reported; float nodes are not bounded but may hold ints.
    if (n.op !== 'select') for (const c of children(n)) visit(c);
    const r = nodeInterval(n, env, visit);
    if (n.type === 'int' && !violation && !(r.lo >= -SAFE && r.hi <= SAFE)) violation = { node: n, bound: r };
    memo.set(n, r);
    return r;
  };
  visit(e);
  return violation;
}

/** What one call computes with: its positions, batch and heads, and parameter values by slot. */
export interface CallRanges {
  readonly B: number;
  readonly Hq: number;
  readonly qpos: ArrayLike<number>;
  readonly kpos: ArrayLike<number>;
  readonly params: Readonly<Record<string, number>>;
}

function span(pos: ArrayLike<number>): Interval {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < pos.length; i++) {
    const p = pos[i]!;
    if (p < lo) lo = p;
    if (p > hi) hi = p;
  }
  return { lo, hi };
}

/**
 * Check a kernel's mask and score for one call; throws KVF3007 naming the sub-expression (in
 * JavaScript, with parameters as the user declared them: `origin` is `fn.name`) and its bound.
 */
export function checkCallIntegerRange(
  kernel: { readonly id: string; readonly mask?: Expr; readonly score?: Expr; readonly params: ReadonlyArray<{ readonly name: string; readonly origin: string }> },
  call: CallRanges,
): void {
  const q = span(call.qpos);
  const k = span(call.kpos);
  if (q.lo > q.hi || k.lo > k.hi || call.B < 1) return; // nothing is computed
  const env: IntervalEnv = {
    indices: { b: { lo: 0, hi: call.B - 1 }, h: { lo: 0, hi: call.Hq - 1 }, q, k },
    params: Object.fromEntries(Object.entries(call.params).map(([n, v]) => [n, { lo: v, hi: v }])),
  };
  const declared = new Map(kernel.params.map((p) => [p.name, p.origin]));
  for (const [role, e] of [['mask', kernel.mask], ['score', kernel.score]] as const) {
    const v = e && checkIntegerRange(e, env);
    if (!v) continue;
    const name = (slot: string): string => `p.${declared.get(slot)?.split('.').pop() ?? slot}`;
    const at = `q in [${q.lo}, ${q.hi}], k in [${k.lo}, ${k.hi}], b in [0, ${call.B - 1}], h in [0, ${call.Hq - 1}]`;
    throw new KvforgeError('KVF3007',
      `in the ${role} of kernel '${kernel.id}', \`${printJs(v.node, name)}\` can reach [${v.bound.lo}, ${v.bound.hi}] for this call (${at}), `
      + `outside the exact integer range +-2^53 where JavaScript's numbers and the kernel's int64 agree`,
      { hint: 'use smaller positions or parameter values, or keep intermediates small (reduce with % before multiplying: ((q % 7) * (k % 7)) % 7)' });
  }
}
