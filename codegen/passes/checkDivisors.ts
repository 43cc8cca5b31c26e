/**
 * checkDivisors: divisors of floorDiv and mod are constants or parameters (the front end's rule);
 * a parameter bound to 0 would make the kernel divide by zero, so it is rejected with the value's
 * origin. Run when a spec is lowered (its bound values) and on every call that passes run-time
 * values.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { children, type Expr } from '../ir/expr.ts';
import { interpret } from '../ir/interpret.ts';
import { printJs } from '../ir/printJs.ts';

export interface DivisorSite {
  readonly mask: Expr | undefined;
  readonly score: Expr | undefined;
  readonly params: ReadonlyArray<{ readonly name: string; readonly origin: string }>;
}

/** Throws KVF2002 naming the divisor that `values` (by slot name) make 0. */
export function checkDivisors(l: DivisorSite, values: Readonly<Record<string, number>>): void {
  const visit = (e: Expr): void => {
    if (e.op === 'binary' && (e.fn === 'floorDiv' || e.fn === 'mod')) {
      const d = interpret(e.rhs, { b: 0, h: 0, q: 0, k: 0, s: 0, params: values });
      if (d === 0) {
        const origin = l.params.find((p) => containsParam(e.rhs, p.name))?.origin ?? 'a divisor';
        // Name the divisor as written: `p.a - 3` is 0 with a = 3, which "a is 0" would misstate.
        const divisor = printJs(e.rhs, (n) => l.params.find((p) => p.name === n)?.origin ?? n);
        const text = e.rhs.op === 'param' ? `${origin} is used as a divisor and is 0` : `the divisor \`${divisor}\` (from ${origin}) is 0`;
        throw new KvforgeError('KVF2002', text, { hint: 'bind values that keep every divisor nonzero' });
      }
    }
    children(e).forEach(visit);
  };
  if (l.mask) visit(l.mask);
  if (l.score) visit(l.score);
}

function containsParam(e: Expr, name: string): boolean {
  return e.op === 'param' ? e.name === name : children(e).some((c) => containsParam(c, name));
}
