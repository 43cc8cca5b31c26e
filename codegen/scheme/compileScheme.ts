/**
 * A scheme compiled to data: everything `kvforge inspect` prints, `kvforge gen` records in the
 * manifest, and the executor runs from. JSON-serialisable (no functions, no live specs): the
 * variants are named by key and kernel-spec name; their AttentionSpecs come from schemeVariants().
 */
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { maskName } from '../../dsl/mask.ts';
import { isLayerTypesExpressible } from '../../dsl/scheme/layerTable.ts';
import { printLayerTypes } from '../../dsl/scheme/layerTypes.ts';
import { cachePlan, memoryFigures, type CacheEntry, type MemoryFigures } from './cachePlan.ts';
import { exactPromptLength, iterationPlan, type LayerGroup } from './iterationPlan.ts';
import { analyseLayers, type LayerInfo } from './layers.ts';
import { schemeVariants, type VariantKey } from './variants.ts';

export interface SchemePlan {
  readonly name: string;
  /** The `layer_types` string, when the table has one. */
  readonly layerTypes: string | undefined;
  readonly shape: { readonly layers: number; readonly heads: { readonly q: number; readonly kv: number }; readonly headDim: number; readonly valueDim: number; readonly dtype: string };
  readonly window: number;
  readonly forceNoDiagonal: boolean;
  readonly iterations: { readonly m: number; readonly b: number };
  readonly decode: string;
  /** The scheme's attention overrides, by name (their IR is in the variants' kernels). */
  readonly overrides: { readonly mask: string | null; readonly score: string | null; readonly scale: number | null };
  readonly layers: readonly (LayerInfo & { readonly variant: VariantKey })[];
  readonly groups: readonly LayerGroup[];
  /** Longest prompt parallel prefill computes exactly (null: any length). */
  readonly exactPromptLength: number | null;
  readonly variants: readonly { readonly key: VariantKey; readonly kernel: string; readonly layers: readonly number[]; readonly windows: readonly number[] | null }[];
  readonly caches: readonly CacheEntry[];
}

/** The plan with the memory figures at one context length: what `kvforge inspect` prints. */
export interface SchemeReport extends SchemePlan {
  readonly memory: MemoryFigures & { readonly context: number };
}

export function schemeReport(s: SchemeSpec, context: number): SchemeReport {
  return { ...compileScheme(s), memory: { ...memoryFigures(s, context), context } };
}

export function compileScheme(s: SchemeSpec): SchemePlan {
  const variants = schemeVariants(s);
  const variantOf = new Map<number, VariantKey>();
  for (const v of variants) for (const l of v.layers) variantOf.set(l, v.key);
  const exact = exactPromptLength(s);
  return {
    name: s.name,
    layerTypes: isLayerTypesExpressible(s.table) ? printLayerTypes(s.table) : undefined,
    shape: { layers: s.layers, heads: s.heads, headDim: s.headDim, valueDim: s.valueDim, dtype: s.dtype },
    window: s.window, forceNoDiagonal: s.forceNoDiagonal, iterations: s.iterations, decode: s.decode,
    overrides: { mask: s.attention.mask ? maskName(s.attention.mask) : null, score: s.attention.score?.def.name ?? null, scale: s.attention.scale ?? null },
    layers: analyseLayers(s).map((l) => ({ ...l, variant: variantOf.get(l.index)! })),
    groups: iterationPlan(s),
    exactPromptLength: Number.isFinite(exact) ? exact : null,
    variants: variants.map((v) => ({ key: v.key, kernel: v.spec.name, layers: v.layers, windows: v.windows ?? null })),
    caches: cachePlan(s),
  };
}
