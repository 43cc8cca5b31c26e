/**
 * The constants a kernel will hold, after binding and folding, must mean what they mean in
 * JavaScript (the reference's semantics):
 * - a float constant becomes a float32 literal (Math.fround); a finite nonzero value that rounds
 *   to +-Infinity or to 0 in float32 (`1e39`, or `1e-30 * 1e-30` folded) would make the kernel
 *   compute something else than the reference, silently: refused (KVF1011);
 * - an int constant is an exact JavaScript integer only within +-(2^53 - 1); folding baked
 *   parameter values (`p.a * p.a * p.a * p.a` with a = 65536) can leave that range: refused
 *   (KVF2002), since no call could run it the way the reference does.
 * Iterative over the IR, each shared node once.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { children, type Expr } from '../ir/expr.ts';

export function checkConstants(e: Expr, where: string, baked: boolean): void {
  const seen = new Set<Expr>();
  const stack = [e];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    if (n.op === 'const' && n.type === 'float') {
      const v = n.value as number;
      const f = Math.fround(v);
      if (Number.isFinite(v) && (!Number.isFinite(f) || (v !== 0 && f === 0))) {
        throw new KvforgeError('KVF1011', `the ${where} has the constant ${v}${baked ? ' (after baking parameters and folding)' : ''}, which float32 cannot hold: the kernel would use ${f}`, {
          hint: 'kernels compute scores in float32 (|x| from about 1.4e-45 to 3.4e38); rescale the constant',
        });
      }
    }
    if (n.op === 'const' && n.type === 'int' && !Number.isSafeInteger(n.value as number)) {
      throw new KvforgeError('KVF2002', `the ${where} folds to the integer ${n.value}${baked ? ' once its parameter values are baked in' : ''}, beyond the exact range +-(2^53 - 1)`, {
        hint: 'bind smaller parameter values, or plan the kernel with paramMode \'runtime\' (each call then checks its range, KVF3007)',
      });
    }
    stack.push(...children(n));
  }
}
