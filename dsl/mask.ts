/**
 * Masks as values: a bound mask function, or and/or/not of masks. The tree keeps every original
 * function, so the reference can run them as JavaScript while the code generator translates them.
 */
import { KvforgeError } from '../codegen/diagnostics.ts';
import type { Bound, MaskDef } from './define.ts';
import type { ParamDecls } from './types.ts';

/** A mask an attention spec can hold. */
export type Mask =
  | Bound<MaskDef<any>>
  | { readonly op: 'and' | 'or'; readonly terms: readonly Mask[] }
  | { readonly op: 'not'; readonly term: Mask };

/** What combinators and specs accept: a mask, or a mask definition without parameters. */
export type MaskLike = Mask | MaskDef<{}>;

function isDef(m: MaskLike): m is MaskDef<ParamDecls> {
  return (m as MaskDef).role === 'mask';
}

/** Normalise a {@link MaskLike}; a definition with unbound parameters is an error. */
export function toMask(m: MaskLike): Mask {
  if (isDef(m)) {
    const names = Object.keys(m.params);
    if (names.length > 0) {
      throw new KvforgeError('KVF2006', `mask '${m.name}' has parameters (${names.join(', ')}) that are not bound`, {
        hint: `bind them: ${m.name}.with({ ${names.map((n) => `${n}: ...`).join(', ')} })`,
      });
    }
    return { def: m, values: {} };
  }
  return m;
}

/**
 * Admissible where every mask admits.
 * @example `and(causal, slidingWindow.with({ window: 256 }))`
 */
export function and(...masks: MaskLike[]): Mask {
  return { op: 'and', terms: masks.map(toMask) };
}

/**
 * Admissible where any mask admits.
 * @example `or(sinks.with({ count: 4 }), slidingWindow.with({ window: 256 }))`
 */
export function or(...masks: MaskLike[]): Mask {
  return { op: 'or', terms: masks.map(toMask) };
}

/**
 * Admissible where the mask does not admit.
 * @example `and(causal, not(noDiagonal))` admits only the diagonal.
 */
export function not(mask: MaskLike): Mask {
  return { op: 'not', term: toMask(mask) };
}

/** Run the original JavaScript functions of a mask (the reference's view of it). */
export function evaluateMask(m: Mask, b: number, h: number, q: number, k: number): boolean {
  if ('def' in m) return m.def.fn(b, h, q, k, m.values) as boolean;
  if (m.op === 'not') return !evaluateMask(m.term, b, h, q, k);
  if (m.op === 'and') return m.terms.every((t) => evaluateMask(t, b, h, q, k));
  return m.terms.some((t) => evaluateMask(t, b, h, q, k));
}

/** A short readable name: `and(causal,slidingWindow)`. */
export function maskName(m: Mask): string {
  if ('def' in m) return m.def.name;
  if (m.op === 'not') return `not(${maskName(m.term)})`;
  return `${m.op}(${m.terms.map(maskName).join(',')})`;
}
