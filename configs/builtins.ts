/**
 * The variants kvforge ships kernels for: the built-ins of semantics.md section 1 at the
 * benchmark's shape (Hq=32, Hkv=4, D=64). `kvforge gen` writes their kernels to generated/.
 */
import {
  alibiFor, causal, defineAttention, noDiagonal, or, prefixLM, sinks, slidingWindow, softcap,
} from '../dsl/index.ts';

const shape = { heads: { q: 32, kv: 4 }, headDim: 64 } as const;

export const causalAttention = defineAttention({ ...shape, name: 'causal', mask: causal });
export const noDiagonalAttention = defineAttention({ ...shape, name: 'noDiagonal', mask: noDiagonal });
export const window256 = defineAttention({ ...shape, name: 'slidingWindow256', mask: slidingWindow.with({ window: 256 }) });
export const sinksWindow = defineAttention({
  ...shape, name: 'sinks4Window256', mask: or(sinks.with({ count: 4 }), slidingWindow.with({ window: 256 })),
});
export const prefixLm = defineAttention({ ...shape, name: 'prefixLM128', mask: prefixLM.with({ prefix: 128 }) });
export const softcapCausal = defineAttention({ ...shape, name: 'softcapCausal', mask: causal, score: softcap.with({ cap: 30 }) });
export const alibiCausal = defineAttention({ ...shape, name: 'alibiCausal', mask: causal, score: alibiFor(32) });
export const dense = defineAttention({ ...shape, name: 'dense' });

/** Variants at the head dims the CUDA kernels specialise on beyond 64. */
export const causal128 = defineAttention({ heads: { q: 16, kv: 2 }, headDim: 128, name: 'causal128', mask: causal });
export const window256d256 = defineAttention({
  heads: { q: 8, kv: 2 }, headDim: 256, name: 'window64d256', mask: slidingWindow.with({ window: 64 }),
});

/**
 * The kernels `kvforge gen` writes for each export (default: one C++ kernel). CUDA kernels cover
 * the three storage dtypes and head dims 64, 128 and 256; each is compiled by nvcc for sm_80 and
 * sm_90 when nvcc is on PATH, and always as host C++ against the CUDA emulator.
 */
export const kernelPlans = {
  causalAttention: [{}, { target: 'cuda', dtype: 'bf16' }, { target: 'cuda', dtype: 'f32' }],
  window256: [{}, { target: 'cuda', dtype: 'f16' }],
  softcapCausal: [{}, { target: 'cuda', dtype: 'bf16' }],
  causal128: [{}, { target: 'cuda', dtype: 'bf16' }],
  window256d256: [{}, { target: 'cuda', dtype: 'f16' }],
} as const;
