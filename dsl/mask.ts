/**
 * Masks as values: a bound mask function, or and/or/not of masks. The tree keeps every original
 * function, so the reference can run them as JavaScript while the code generator translates them.
 */
import { KvforgeError } from './diagnostics.ts';
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

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'function') return 'a plain function';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') {
    const role = (x as { role?: unknown; def?: { role?: unknown } }).role ?? (x as { def?: { role?: unknown } }).def?.role;
    return role === 'score' ? 'a score function (defineScore)' : 'an object that is not a mask';
  }
  return `${typeof x} ${String(x)}`;
}

/** A mask value as kvforge builds them: anything else (a plain function, a score) is an error. */
function isMask(m: unknown): m is Mask {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as { def?: { role?: unknown }; values?: unknown; op?: unknown; terms?: unknown; term?: unknown };
  if ('def' in x) return x.def?.role === 'mask' && typeof x.values === 'object' && x.values !== null;
  if (x.op === 'and' || x.op === 'or') return Array.isArray(x.terms);
  return x.op === 'not' && typeof x.term === 'object' && x.term !== null;
}

/** Normalise a {@link MaskLike}; a definition with unbound parameters, or a non-mask, is an error. */
export function toMask(m: MaskLike): Mask {
  if (typeof m === 'object' && m !== null && !isDef(m) && !isMask(m) || typeof m !== 'object' || m === null) {
    throw new KvforgeError('KVF2005', `expected a mask, got ${describe(m)}`, {
      hint: typeof m === 'function'
        ? 'declare it first: defineMask((b, h, q, k) => ..., { name }), then pass the result'
        : 'a mask is a defineMask(...) result, a bound mask (.with({...})), or and/or/not of masks',
    });
  }
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

/**
 * How deep combinators may nest: `not(not(...))`, `and(or(and(...)))`. The reference, naming and
 * lowering recurse over the tree; a flat `and(m1, ..., m10000)` is one level (lowered balanced).
 */
export const MAX_MASK_NESTING = 256;

/** Levels of combinators above the deepest mask function (a bound function alone is 0). Iterative. */
export function maskDepth(m: Mask): number {
  let deepest = 0;
  const stack: Array<[Mask, number]> = [[m, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if ('def' in node) deepest = Math.max(deepest, depth);
    else if (node.op === 'not') stack.push([node.term, depth + 1]);
    else for (const t of node.terms) stack.push([t, depth + 1]);
  }
  return deepest;
}

/** Reject combinators nested deeper than MAX_MASK_NESTING (KVF1012), before anything recurses. */
export function checkMaskNesting(m: Mask): void {
  const depth = maskDepth(m);
  if (depth > MAX_MASK_NESTING) {
    throw new KvforgeError('KVF1012', `mask combinators nest ${depth} levels deep (the limit is ${MAX_MASK_NESTING})`, {
      hint: 'pass many masks to one and(...) / or(...) instead of nesting them: and(m1, m2, m3) is one level',
    });
  }
}

/** A short readable name: `and(causal,slidingWindow)`. Checks the nesting first (it recurses). */
export function maskName(m: Mask): string {
  checkMaskNesting(m);
  return nameOf(m);
}

function nameOf(m: Mask): string {
  if ('def' in m) return m.def.name;
  if (m.op === 'not') return `not(${nameOf(m.term)})`;
  return `${m.op}(${m.terms.map(nameOf).join(',')})`;
}
