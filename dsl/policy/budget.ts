/**
 * Per-layer budgets of the pyramid policy (semantics.md 3.3):
 *   W_k = floor(L0 * (1 + k/m * (1/beta - 1)))   for layer k of m layers,
 * computed in float64 in this order (as the project's code does: the denominator is m, so the top
 * layer is not exactly L0/beta), or read from the user's list (one entry per layer). Every budget
 * must be at least 1: the project's prefill loop never ends at 0 (KVF2012).
 */
import { KvforgeError, type SourceLocation } from '../diagnostics.ts';
import type { Declared, PyramidPolicy } from './policy.ts';

export function pyramidBudget(L0: number, beta: number, k: number, m: number): number {
  return Math.floor(L0 * (1 + (k / m) * (1 / beta - 1)));
}

/** W_k of layer k in a model of m layers, checked (>= 1, an int32, a list long enough). */
export function budgetOf(p: Declared<Pick<PyramidPolicy, 'budget'>>, k: number, m: number): number {
  const location: SourceLocation | undefined = p.site ? { ...p.site } : undefined;
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 0 || k >= m) {
    throw new KvforgeError('KVF2012', `layer ${k} is not a layer of a ${m}-layer model`, { location });
  }
  const b = p.budget;
  if (b.kind === 'list') {
    if (b.budgets.length !== m) {
      throw new KvforgeError('KVF2012', `budgets lists ${b.budgets.length} budgets for a ${m}-layer model`, {
        location, hint: 'give one budget per layer of the model (layers that own no cache included)',
      });
    }
    return b.budgets[k]!;
  }
  const w = pyramidBudget(b.L0, b.beta, k, m);
  if (!(w >= 1) || w > 2 ** 31 - 1) {
    throw new KvforgeError('KVF2012', `the pyramid budget of layer ${k} of ${m} is ${w} (L0 ${b.L0}, beta ${b.beta}); every budget must be in 1..2^31-1`, {
      location, hint: 'a larger L0 or a smaller beta',
    });
  }
  return w;
}
