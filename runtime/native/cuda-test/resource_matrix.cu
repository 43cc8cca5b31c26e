// nvcc-only resource check (run.sh): one variant per head dim x storage dtype x {mask, score,
// mask + score}, at the recommended tiles, so ptxas reports registers, shared memory and spills of
// every kernel instantiation that generated files will produce (with a classify(), as generated
// variants have; its mask reads h, so decode classifies per row). Not linked into anything.
#include "kvforge/cuda/forward.cuh"
#include "kvforge/expr_ops.hpp"

// Recommended tiles (forward.cuh): kTileQ 64 for D = 64, 32 for D = 128 and 256; kTileK 64.
// (kernels/causal_bf16_d128.cu covers the alternative D = 128, kTileQ = 64.)
#define KVF_MATRIX_VARIANT(NAME, DTYPE, DIM, MASK, SCORE)                                             \
  namespace {                                                                                          \
  struct NAME {                                                                                        \
    static constexpr int kTileQ = (DIM) <= 64 ? 64 : 32;                                                \
    static constexpr int kTileK = 64;                                                                  \
    static constexpr bool kHasMask = MASK;                                                             \
    static constexpr bool kHasScore = SCORE;                                                           \
    using Storage = DTYPE;                                                                             \
    static constexpr int kHeadDim = DIM;                                                               \
    int64_t p_window;                                                                                  \
    float p_cap;                                                                                       \
    KVF_HD explicit NAME(const double* params)                                                         \
        : p_window(static_cast<int64_t>(params[0])), p_cap(static_cast<float>(params[1])) {}           \
    static constexpr bool kReadsB = false, kReadsH = true;                                             \
    __device__ bool mask(int64_t, int64_t h, int64_t q, int64_t k) const {                             \
      return k < 4 || (q - p_window * (1 + kvf::floor_div(h, 4)) < k && k <= q);                       \
    }                                                                                                  \
    /* As the interval rules bound the mask: each side of || and && on its own. */                    \
    KVF_HOST_DEVICE uint8_t classify(kvf::Interval, kvf::Interval h, kvf::Interval q,                  \
                                     kvf::Interval k) const {                                          \
      const double w = double(p_window), a = (1 + floor(h.lo / 4)) * w, c = (1 + floor(h.hi / 4)) * w;  \
      const double lo = a < c ? a : c, hi = a < c ? c : a;                                             \
      const bool sinksAll = k.hi < 4, sinksNone = k.lo >= 4;                                           \
      const bool windowAll = k.lo > q.hi - lo && k.hi <= q.lo;                                          \
      const bool windowNone = k.hi <= q.lo - hi || k.lo > q.hi;                                         \
      return sinksAll || windowAll ? 2 : sinksNone && windowNone ? 0 : 1;                              \
    }                                                                                                  \
    __device__ float score(float s, int64_t, int64_t h, int64_t q, int64_t k) const {                  \
      return p_cap * tanhf(s / p_cap) - 0.0625f * static_cast<float>(h + 1) * static_cast<float>(q - k); \
    }                                                                                                  \
  };                                                                                                   \
  }                                                                                                    \
  KVF_REGISTER_CUDA_KERNEL(#NAME, NAME);

#define KVF_MATRIX_DIM(DTYPE, TAG, DIM)                                     \
  KVF_MATRIX_VARIANT(mask_##TAG##_d##DIM, DTYPE, DIM, true, false)          \
  KVF_MATRIX_VARIANT(score_##TAG##_d##DIM, DTYPE, DIM, false, true)         \
  KVF_MATRIX_VARIANT(maskscore_##TAG##_d##DIM, DTYPE, DIM, true, true)

#define KVF_MATRIX_DTYPE(DTYPE, TAG) \
  KVF_MATRIX_DIM(DTYPE, TAG, 64)     \
  KVF_MATRIX_DIM(DTYPE, TAG, 128)    \
  KVF_MATRIX_DIM(DTYPE, TAG, 256)

KVF_MATRIX_DTYPE(float, f32)
KVF_MATRIX_DTYPE(__half, f16)
KVF_MATRIX_DTYPE(__nv_bfloat16, bf16)
