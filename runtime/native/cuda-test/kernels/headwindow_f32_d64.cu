// Hand-written example of a generated CUDA kernel file: a mask that depends on the batch and the
// query head (per-(b, h) tile maps, rows of one decode block in different tile classes), with
// JavaScript integer semantics through expr_ops.hpp; f32 storage, D = 64, unusual tiles.
#include "kvforge/cuda/forward.cuh"
#include "kvforge/expr_ops.hpp"

namespace {

struct Variant_headwindow_f32 {
  static constexpr int kTileQ = 16;
  static constexpr int kTileK = 32;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = false;
  static constexpr int kNumParams = 1;
  using Storage = float;
  static constexpr int kHeadDim = 64;

  int64_t p_w;

  KVF_HD explicit Variant_headwindow_f32(const double* params) : p_w(static_cast<int64_t>(params[0])) {}

  __device__ bool mask(int64_t b, int64_t h, int64_t q, int64_t k) const {
    return q - (1 + kvf::floor_div(h, 2) % 3) * p_w < k && k <= q - b;
  }

  __device__ float score(float s, [[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h,
                         [[maybe_unused]] int64_t q, [[maybe_unused]] int64_t k) const {
    return s;
  }
};

}  // namespace

KVF_REGISTER_CUDA_KERNEL("headwindow_f32_d64", Variant_headwindow_f32);
