/**
 * kvforge's DSL: what a user imports to declare attention variants.
 *
 * - {@link defineMask}, {@link defineScore}: a mask or score function with explicit parameters.
 * - {@link and}, {@link or}, {@link not}: combine masks.
 * - {@link defineAttention}: heads, head dims, scale, mask and score of one variant.
 * - The built-ins of semantics.md section 1: {@link causal}, {@link noDiagonal},
 *   {@link slidingWindow}, {@link sinks}, {@link prefixLM}, {@link softcap}, {@link alibi}.
 */
export { defineMask, defineScore, MaskDef, ScoreDef, type Bound, type DefineOptions } from './define.ts';
export { and, or, not, evaluateMask, type Mask, type MaskLike } from './mask.ts';
export { defineAttention, specScale, MAX_HEAD_DIM, type AttentionSpec, type AttentionOptions } from './attention.ts';
export { causal, noDiagonal, slidingWindow, sinks, prefixLM, softcap, alibi, alibiFor } from './builtins.ts';
export type { ParamType, ParamDecls, ParamValues, MaskFn, ScoreFn } from './types.ts';
export { scheme, isSchemeSpec, DEFAULT_WINDOW, DEFAULT_ITERATIONS, type SchemeSpec, type SchemeOptions, type LayerEntry, type DecodeMode, type KvDType } from './scheme/scheme.ts';
export { parseLayerTypes, printLayerTypes, standardTypes } from './scheme/layerTypes.ts';
export { standard, lckv, crossLayer, sandwichMiddle, cla, yoco, mixAttentionPairs, type KvPattern, type Partition, type ShareTarget, layerTypes } from './scheme/patterns.ts';
export type { LayerKv, LayerTable } from './scheme/layerTable.ts';
export { readModelConfig, writeModelConfig, type ModelConfig } from './scheme/hfConfig.ts';
export { MODEL_DEFAULTS, type ModelShape } from './scheme/modelShape.ts';
export { fullCache, slidingCache, sinkCache, pyramidCache, adaptiveCache, isCachePolicy, type CachePolicySpec, type Declared, type PolicyKind, type Pooling, type Importance,
  type RecoveryRule, type PyramidBudget, type PyramidOptions, type AdaptiveOptions } from './policy/policy.ts';
export { pyramidBudget, budgetOf } from './policy/budget.ts';
