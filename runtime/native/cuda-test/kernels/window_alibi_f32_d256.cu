// Hand-written example of a generated CUDA kernel file: sinks + sliding window mask (runtime
// window, baked sinks) with an ALiBi score, f32 storage, D = 256 (smaller query tile); classify()
// as interval rules print it: each side of the || and && bounded separately.
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
  static constexpr bool kReadsB = false, kReadsH = false;

  int64_t p_window;
  float p_slope;

  KVF_HD explicit Variant_window_alibi_f32(const double* params)
      : p_window(static_cast<int64_t>(params[0])), p_slope(static_cast<float>(params[1])) {}

  __device__ bool mask([[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h, [[maybe_unused]] int64_t q,
                       [[maybe_unused]] int64_t k) const {
    return k < 2 || (q - p_window < k && k <= q);
  }

  // sinks (k < 2) || window (q - w < k && k <= q): FULL when either side holds for every (q, k),
  // EMPTY when neither can hold for any.
  KVF_HOST_DEVICE uint8_t classify(kvf::Interval, kvf::Interval, kvf::Interval q, kvf::Interval k) const {
    const double w = double(p_window);
    const bool sinksAll = k.hi < 2, sinksNone = k.lo >= 2;
    const bool windowAll = k.lo > q.hi - w && k.hi <= q.lo, windowNone = k.hi <= q.lo - w || k.lo > q.hi;
    return sinksAll || windowAll ? 2 : sinksNone && windowNone ? 0 : 1;
  }

  __device__ float score(float s, [[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h,
                         [[maybe_unused]] int64_t q, [[maybe_unused]] int64_t k) const {
    return s - p_slope * static_cast<float>(h + 1) * static_cast<float>(q - k);
  }
};

}  // namespace

static_assert(kvf::KVF_CUDA_NS::HasClassify<Variant_window_alibi_f32>::value, "classify() must be detected");
KVF_REGISTER_CUDA_KERNEL("window_alibi_f32_d256", Variant_window_alibi_f32);
