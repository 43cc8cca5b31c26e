/**
 * The distinct attention variants a scheme needs, so kernels are generated once per variant and
 * not once per layer.
 *
 * A layer's mask is causal (k <= q) or, diagonal masked, noDiagonal (k < q); a sliding layer
 * and's it with slidingWindow(W) (so a sliding, diagonal-masked layer admits q - W < k < q, W - 1
 * keys); the scheme's extra mask is and'ed onto every layer, and its score function and scale
 * apply to every layer. Windows are a parameter of the variant, not part of it: layers that
 * differ only in W share a variant, and a kernel built with paramMode 'runtime' serves them all
 * (the kernel id does not hash parameter values).
 *
 * A variant is named by its key alone, not by its scheme: two schemes (or a scheme and a
 * configs/ variant) that need the same attention at the same shape compile to one kernel id.
 *
 * Prefill and decode use the same variants: decode step t of a top-attending layer in 'exact'
 * mode reads its target's tokens 0..t-1 under the same noDiagonal mask, and every other layer
 * appends token t before attending, as prefill sees it.
 */
import { defineAttention, type AttentionSpec } from '../../dsl/attention.ts';
import { causal, noDiagonal, slidingWindow } from '../../dsl/builtins.ts';
import { and, type Mask } from '../../dsl/mask.ts';
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { analyseLayers } from './layers.ts';

export type VariantKey = 'causal' | 'noDiagonal' | 'window' | 'windowNoDiagonal';

export interface SchemeVariant {
  readonly key: VariantKey;
  /** The variant as an attention spec; a sliding one binds the first of its layers' windows. */
  readonly spec: AttentionSpec;
  /** Layers that attend with it, ascending. */
  readonly layers: readonly number[];
  /** Window of each of those layers (sliding variants only), in the order of `layers`. */
  readonly windows: readonly number[] | undefined;
}

const KEY_ORDER: readonly VariantKey[] = ['causal', 'noDiagonal', 'window', 'windowNoDiagonal'];

export function variantKeyOf(diagonalMasked: boolean, sliding: boolean): VariantKey {
  return sliding ? (diagonalMasked ? 'windowNoDiagonal' : 'window') : diagonalMasked ? 'noDiagonal' : 'causal';
}

/** The mask of a variant key at window W, with the scheme's extra mask and'ed on. */
export function variantMask(key: VariantKey, window: number | undefined, extra: Mask | undefined): Mask {
  const base: Mask = { def: key === 'causal' || key === 'window' ? causal : noDiagonal, values: {} };
  const terms: Mask[] = [base];
  if (key === 'window' || key === 'windowNoDiagonal') terms.push(slidingWindow.with({ window: window! }));
  if (extra) terms.push(extra);
  return terms.length === 1 ? base : and(...terms);
}

/** The attention spec of one variant of a scheme, at window W when it slides. */
export function variantSpec(s: SchemeSpec, key: VariantKey, window: number | undefined): AttentionSpec {
  return defineAttention({
    name: key, heads: s.heads, headDim: s.headDim, valueDim: s.valueDim, scale: s.attention.scale,
    mask: variantMask(key, window, s.attention.mask), score: s.attention.score,
  });
}

export function schemeVariants(s: SchemeSpec): readonly SchemeVariant[] {
  const byKey = new Map<VariantKey, { layers: number[]; windows: number[] }>();
  for (const l of analyseLayers(s)) {
    const key = variantKeyOf(l.diagonalMasked, l.sliding);
    const v = byKey.get(key) ?? { layers: [], windows: [] };
    v.layers.push(l.index);
    if (l.window !== undefined) v.windows.push(l.window);
    byKey.set(key, v);
  }
  return Object.freeze(KEY_ORDER.filter((k) => byKey.has(k)).map((key) => {
    const { layers, windows } = byKey.get(key)!;
    const sliding = key === 'window' || key === 'windowNoDiagonal';
    const spec = variantSpec(s, key, sliding ? windows[0] : undefined);
    return Object.freeze({ key, spec, layers: Object.freeze(layers), windows: sliding ? Object.freeze(windows) : undefined });
  }));
}
