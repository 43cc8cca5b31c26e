/**
 * The CUDA backend's view model: the shared Variant parts plus what the CUDA kernel templates
 * (runtime/native/include/kvforge/cuda/) specialise on at compile time: storage dtype and head dim.
 */
import { CUDA_DIALECT } from '../cfamily/dialect.ts';
import { variantView, type VariantView } from '../cfamily/variant.ts';
import type { StorageDType } from '../../planner/plan.ts';
import type { SafeText } from '../safeText.ts';
import type { KernelUnit } from '../../pipeline.ts';

const STORAGE: Readonly<Record<StorageDType, string>> = { f32: 'float', f16: '__half', bf16: '__nv_bfloat16' };

export interface CudaView extends VariantView {
  /** Comment lines; user text in them only as escaped literals (safeText.ts). */
  readonly provenance: readonly SafeText[];
  readonly storage: string;
  readonly headDim: number;
}

export function cudaView(u: KernelUnit, provenance: readonly SafeText[]): CudaView {
  return {
    provenance, ...variantView(u, CUDA_DIALECT),
    storage: STORAGE[u.plan.dtype], headDim: u.headDim,
  };
}
