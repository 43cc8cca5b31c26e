/**
 * The sharing schemes kvforge ships (semantics.md section 2) at TinyLlama's attention shape, the
 * one LCKV's models use: 22 layers, 32 query and 4 KV heads, head dim 64, bf16 caches.
 * `kvforge inspect configs/schemes.ts` prints each; `kvforge gen` records their plans in
 * generated/manifest.json and writes the kernels they need.
 */
import { cla, crossLayer, lckv, mixAttentionPairs, sandwichMiddle, scheme, standard, yoco } from '../dsl/index.ts';

const shape = { layers: 22, heads: { q: 32, kv: 4 }, headDim: 64, dtype: 'bf16' } as const;

export const standardScheme = scheme({ ...shape, kv: standard() });
export const lckvW2 = scheme({ ...shape, kv: lckv({ warmup: 2 }) });
export const lckvSandwichMiddle = scheme({ ...shape, kv: sandwichMiddle() });
export const cla2 = scheme({ ...shape, kv: cla(2) });
export const yocoScheme = scheme({ ...shape, kv: yoco() });
export const mixAttention = scheme({ ...shape, kv: mixAttentionPairs() });
/** The cross-layer study's best-reported configuration family member: pizza-top, reduction 2. */
export const pizzaTop2 = scheme({ ...shape, kv: crossLayer('pizza', 'top', { reduction: 2 }) });
