// The CUDA forward of one attention variant: what generated .cu files include and instantiate.
//
// A Variant (written by the code generator; cuda-test/kernels/*.cu are hand-written examples) is
//   struct Variant_x {
//     static constexpr int  kTileQ, kTileK;       // the plan's tiles (classification granularity)
//     static constexpr bool kHasMask, kHasScore;  // false: mask()/score() are never called
//     static constexpr bool kReadsB, kReadsH;     // optional: whether mask() reads b / h
//     using Storage = float | __half | __nv_bfloat16;  // device dtype of K and V (q is f32)
//     static constexpr int  kHeadDim;             // D = Dv, a multiple of 32 (64, 128, 256, ...)
//     KVF_HD explicit Variant_x(const double* params);   // runtime parameters, declared order
//     __device__ bool  mask(int64_t b, int64_t h, int64_t q, int64_t k) const;            // admissible
//     __device__ float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const;  // s scaled
//     KVF_HOST_DEVICE uint8_t classify(kvf::Interval b, kvf::Interval h, kvf::Interval q,
//                                      kvf::Interval k) const;                   // optional
//   };
// with q, k token POSITIONS and h the query head; optional `static constexpr int kNumParams`.
// classify() bounds the mask over boxes of (b, h, q, k): 0 EMPTY (no element admissible), 2 FULL
// (every element admissible), 1 PARTIAL (either; always a sound answer). The kernels ask it on the
// device for each (query rows, key tile) they process (classify.cuh): EMPTY tiles are skipped,
// FULL tiles skip the mask. Without classify() every non-empty tile is PARTIAL (sound, slower).
// kReadsH = false lets the decode kernel classify the rows of all query heads of a KV group at
// once; without kReadsH the kernels assume the mask reads h. kReadsB needs no case of its own (the
// key bounds are per sequence).
// Constraints: kTileK a multiple of 32 (it sets the classification granularity of the prefill:
// keys are processed 32 at a time, and the decode kernel classifies 32-key chunks); kTileQ a
// multiple of 4, at most 128 (each of the prefill's 4 warps owns kTileQ / 4 rows). Recommended, for
// every storage dtype (cuda-test/run.sh shows no spills): kTileK = 64; kTileQ = 64 for D = 64, 32
// for D = 128 and 256 (about 170, 130 and 160 registers). D = 128 with kTileQ = 64 also fits
// (about 220 registers at sm_80, 252 at sm_90: no room left for a heavy mask or score), with
// more reuse per staged key; a GPU timing should pick.
//
// Semantics: semantics.md section 1 and kvforge/cpu/forward.hpp, including its documented
// deviation (p below 2^-126 of the row's running maximum is dropped like a masked key). Arguments:
// kvforge/attn_args.hpp (kernel interface version 2), entry point and its allocation, stream and
// error rules: kvforge/cuda/host.cuh.
//
// Then, at namespace scope: KVF_REGISTER_CUDA_KERNEL("causal_1a2b", Variant_causal_1a2b);
// registers kvf::KVF_CUDA_NS::invoke<Variant> (a KernelFn taking const AttnArgs&) under backend
// "cuda" (nvcc) or "cuda-emu" (emulator), see kvforge/cuda/registry.hpp. It fails to compile when
// the Variant has a classify() the kernels cannot call (which would silently mean "no classify").
#pragma once
#include "kvforge/cuda/classify.cuh"
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/host.cuh"
#include "kvforge/cuda/registry.hpp"
#include "kvforge/interval.hpp"
#include "kvforge/registry.hpp"

#define KVF_REGISTER_CUDA_KERNEL(ID_STRING, VariantType)                                                 \
  static_assert(::kvf::KVF_CUDA_NS::kClassifyCallable<VariantType>,                                      \
                #VariantType "::classify must be callable as classify(kvf::Interval b, kvf::Interval h, "  \
                "kvf::Interval q, kvf::Interval k) const, returning 0 / 1 / 2");                         \
  static const ::kvf::detail::CudaRegistrar KVF_CONCAT(kvfCudaRegistrar_, __COUNTER__)(::kvf::CudaKernel{ \
      ID_STRING, KVF_CUDA_BACKEND, &::kvf::KVF_CUDA_NS::invoke<VariantType>, VariantType::kTileQ,           \
      VariantType::kTileK, ::kvf::detail::NumParams<VariantType>::value, VariantType::kHeadDim,             \
      ::kvf::KVF_CUDA_NS::StorageTraits<typename VariantType::Storage>::kName})
