// Hand-written example of a generated CUDA kernel file: softcap score (runtime parameter cap), no
// mask (classify() says FULL everywhere; the kernels do not ask it without a mask), f16 storage,
// D = 64.
#include "kvforge/cuda/forward.cuh"
#include "kvforge/expr_ops.hpp"

namespace {

struct Variant_softcap_f16 {
  static constexpr int kTileQ = 64;
  static constexpr int kTileK = 64;
  static constexpr bool kHasMask = false;
  static constexpr bool kHasScore = true;
  static constexpr int kNumParams = 1;
  using Storage = __half;
  static constexpr int kHeadDim = 64;
  static constexpr bool kReadsB = false, kReadsH = false;

  float p_cap;

  KVF_HD explicit Variant_softcap_f16(const double* params) : p_cap(static_cast<float>(params[0])) {}

  __device__ bool mask([[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h, [[maybe_unused]] int64_t q,
                       [[maybe_unused]] int64_t k) const {
    return true;
  }

  KVF_HOST_DEVICE uint8_t classify(kvf::Interval, kvf::Interval, kvf::Interval, kvf::Interval) const { return 2; }

  __device__ float score(float s, [[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h,
                         [[maybe_unused]] int64_t q, [[maybe_unused]] int64_t k) const {
    return p_cap * tanhf(s / p_cap);
  }
};

}  // namespace

KVF_REGISTER_CUDA_KERNEL("softcap_f16_d64", Variant_softcap_f16);
