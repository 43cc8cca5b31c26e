// Hand-written example of a generated CUDA kernel file: sinks + sliding window mask (runtime
// window, baked sinks) with an ALiBi score, f32 storage, D = 256 (smaller query tile).
#include "kvforge/cuda/forward.cuh"
#include "kvforge/expr_ops.hpp"

namespace {

struct Variant_window_alibi_f32 {
  static constexpr int kTileQ = 32;
  static constexpr int kTileK = 64;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = true;
  static constexpr int kNumParams = 2;
  using Storage = float;
  static constexpr int kHeadDim = 256;

  int64_t p_window;
  float p_slope;

  KVF_HD explicit Variant_window_alibi_f32(const double* params)
      : p_window(static_cast<int64_t>(params[0])), p_slope(static_cast<float>(params[1])) {}

  __device__ bool mask([[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h, [[maybe_unused]] int64_t q,
                       [[maybe_unused]] int64_t k) const {
    return k < 2 || (q - p_window < k && k <= q);
  }

  __device__ float score(float s, [[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h,
                         [[maybe_unused]] int64_t q, [[maybe_unused]] int64_t k) const {
    return s - p_slope * static_cast<float>(h + 1) * static_cast<float>(q - k);
  }
};

}  // namespace

KVF_REGISTER_CUDA_KERNEL("window_alibi_f32_d256", Variant_window_alibi_f32);
