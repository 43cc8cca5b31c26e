/**
 * kvforge: declare attention variants in TypeScript, generate specialised kernels, build them into
 * a Node addon, and check them against a float64 reference.
 *
 * @example
 * ```ts
 * import { defineMask, defineAttention, compile } from 'kvforge';
 * const dilated = defineMask((b, h, q, k, p) => k <= q && (q - k) % p.stride === 0,
 *   { name: 'dilated', params: { stride: 'int32' } });
 * const spec = defineAttention({ heads: { q: 8, kv: 2 }, headDim: 64, mask: dilated.with({ stride: 3 }) });
 * const [attn] = await compile([spec]);
 * const { out, lse } = await attn.run({ q, k, v, B: 1, Lq: 256, Lk: 256 });
 * ```
 */
export * from './dsl/index.ts';
export { compile, type CompileOptions } from './runtime/api/compile.ts';
export { CompiledAttention, type AttentionResult, type RunOptions } from './runtime/api/kernels.ts';
export type { AttentionInputs } from './runtime/api/inputs.ts';
export { createCache, createPolicyCache } from './runtime/cache/create.ts';
export { PolicyCache, slotStatsFor, type PolicyCacheOptions, type PolicyPhase, type AdaptiveHeadKind } from './runtime/cache/policyCache.ts';
export { TargetBuffer, type BufferDType, type BufferOptions } from './runtime/api/buffer.ts';
export { KvCache, MERGE_POOLING, type CacheDType, type CacheOptions, type Chunk, type SlotRead, type MergePooling } from './runtime/cache/kvCache.ts';
export type { DecodeInputs, DecodeOutputs, PrefillInputs } from './runtime/cache/attend.ts';
export type { BuildEvent } from './runtime/build/addon.ts';
export { referenceAttention, type ReferenceResult } from './runtime/verify/reference.ts';
export { fuzzKernel, type CampaignOptions, type CampaignReport } from './runtime/verify/fuzz.ts';
export { TOLERANCES, compareArrays } from './runtime/verify/tolerance.ts';
export { KvforgeError, DIAGNOSTICS, type DiagnosticCode } from './dsl/diagnostics.ts';
export type { KernelPlan } from './codegen/planner/plan.ts';
export { roundWeights, seededWeights, type ModelWeights, type LayerWeights } from './runtime/model/weights.ts';
export type { WeightDType } from './runtime/model/nativeDecoder.ts';
export { loadCheckpoint, saveCheckpoint } from './runtime/model/checkpoint.ts';
export { convertToScheme } from './runtime/model/convert.ts';
export { Executor, type ExecutorBatch, type ExecutorOptions } from './runtime/model/executor.ts';
export { ReferenceModel, type ReferenceSequence } from './runtime/verify/referenceModel.ts';
export { PolicyCacheRef, attendPolicyCache, tracksMass, type PolicyCacheShape, type PolicyChunk, type PolicyAttention } from './runtime/verify/policy/policyCache.ts';
export { selectHead, type AdaptiveKind, type HeadSelection, type HeadProbs } from './runtime/verify/policy/adaptive.ts';
export type { RefSlot } from './runtime/verify/policy/slots.ts';
export { compileScheme, type SchemePlan } from './codegen/scheme/compileScheme.ts';
export { memoryFigures, maxBatch, cachePlan, type CacheEntry, type MemoryFigures } from './codegen/scheme/cachePlan.ts';
export { iterationPlan, type LayerGroup } from './codegen/scheme/iterationPlan.ts';
