// Hand-written example of a generated CUDA kernel file: causal mask, bf16 storage, D = 128; a
// classify() that does not read b or h (decode classifies the rows of a KV group together).
#include "kvforge/cuda/forward.cuh"
#include "kvforge/expr_ops.hpp"

namespace {

struct Variant_causal_bf16 {
  static constexpr int kTileQ = 64;
  static constexpr int kTileK = 64;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = false;
  using Storage = __nv_bfloat16;
  static constexpr int kHeadDim = 128;
  static constexpr bool kReadsB = false, kReadsH = false;

  KVF_HD explicit Variant_causal_bf16([[maybe_unused]] const double* params) {}

  __device__ bool mask([[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h, [[maybe_unused]] int64_t q,
                       [[maybe_unused]] int64_t k) const {
    return k <= q;
  }

  // k <= q: FULL when every key is at or before every query, EMPTY when every key is after them.
  KVF_HOST_DEVICE uint8_t classify(kvf::Interval, kvf::Interval, kvf::Interval q, kvf::Interval k) const {
    return k.hi <= q.lo ? 2 : k.lo > q.hi ? 0 : 1;
  }

  __device__ float score(float s, [[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h,
                         [[maybe_unused]] int64_t q, [[maybe_unused]] int64_t k) const {
    return s;
  }
};

}  // namespace

static_assert(kvf::KVF_CUDA_NS::HasClassify<Variant_causal_bf16>::value, "classify() must be detected");
KVF_REGISTER_CUDA_KERNEL("causal_bf16_d128", Variant_causal_bf16);
