// The CUDA forward of one attention variant: what generated .cu files include and instantiate.
//
// A Variant (written by the code generator; cuda-test/*.cu are hand-written examples) is
//   struct Variant_x {
//     static constexpr int  kTileQ, kTileK;       // the plan's tiles (the tile map's granularity)
//     static constexpr bool kHasMask, kHasScore;  // false: mask()/score() are never called
//     using Storage = float | __half | __nv_bfloat16;  // device dtype of q, k, v
//     static constexpr int  kHeadDim;             // D = Dv, a multiple of 32 (64, 128, 256, ...)
//     KVF_HD explicit Variant_x(const double* params);   // runtime parameters, declared order
//     __device__ bool  mask(int64_t b, int64_t h, int64_t q, int64_t k) const;            // admissible
//     __device__ float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const;  // s scaled
//   };
// with q, k token POSITIONS and h the query head; optional `static constexpr int kNumParams`.
// Constraints: kTileK a multiple of 32 (it only sets the tile map's granularity: keys are
// processed 32 at a time); kTileQ a multiple of 4, at most 128 (each of the prefill's 4 warps owns
// kTileQ / 4 rows). Recommended, for every storage dtype (cuda-test/run.sh shows no spills):
// kTileK = 64; kTileQ = 64 for D = 64, 32 for D = 128 and 256 (about 170, 130 and 160 registers).
// D = 128 with kTileQ = 64 also fits (222-230 registers at sm_80, 252-254 at sm_90: no room left
// for a heavy mask or score), with more reuse per staged key; a GPU timing should pick.
//
// Semantics: semantics.md section 1 and kvforge/cpu/forward.hpp, including its documented
// deviation (p below 2^-126 of the row's running maximum is dropped like a masked key).
//
// Then, at namespace scope: KVF_REGISTER_CUDA_KERNEL("causal_1a2b", Variant_causal_1a2b);
// registers kvf::KVF_CUDA_NS::invoke<Variant> under backend "cuda" (nvcc) or "cuda-emu"
// (emulator), see kvforge/cuda/registry.hpp.
#pragma once
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/host.cuh"
#include "kvforge/cuda/registry.hpp"
#include "kvforge/registry.hpp"

#define KVF_REGISTER_CUDA_KERNEL(ID_STRING, VariantType)                                                 \
  static const ::kvf::detail::CudaRegistrar KVF_CONCAT(kvfCudaRegistrar_, __COUNTER__)(::kvf::CudaKernel{ \
      ID_STRING, KVF_CUDA_BACKEND, &::kvf::KVF_CUDA_NS::invoke<VariantType>, VariantType::kTileQ,           \
      VariantType::kTileK, ::kvf::detail::NumParams<VariantType>::value, VariantType::kHeadDim,             \
      ::kvf::KVF_CUDA_NS::StorageTraits<typename VariantType::Storage>::kName})
