// Hand-written example of a generated CUDA kernel file: a mask that depends on the batch and the
// query head (classify() reads both: decode classifies each row on its own, rows of one decode
// block in different tile classes), with JavaScript integer semantics through expr_ops.hpp; f32
// storage, D = 64, unusual tiles.
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
  static constexpr bool kReadsB = true, kReadsH = true;

  int64_t p_w;

  KVF_HD explicit Variant_headwindow_f32(const double* params) : p_w(static_cast<int64_t>(params[0])) {}

  __device__ bool mask(int64_t b, int64_t h, int64_t q, int64_t k) const {
    return q - (1 + kvf::floor_div(h, 2) % 3) * p_w < k && k <= q - b;
  }

  // window (q - m(h) w < k, m(h) = 1 + floor(h / 2) % 3 in [1, 3]) && diagonal (k <= q - b),
  // for heads h >= 0: FULL when both hold for every element of the box, EMPTY when either holds
  // for none.
  KVF_HOST_DEVICE uint8_t classify(kvf::Interval b, kvf::Interval h, kvf::Interval q, kvf::Interval k) const {
    const double f0 = floor(h.lo / 2), f1 = floor(h.hi / 2);
    double mLo = 1, mHi = 3;
    if (f1 - f0 < 2) {
      const double m0 = 1 + fmod(f0, 3.0), m1 = 1 + fmod(f1, 3.0);
      mLo = m0 < m1 ? m0 : m1, mHi = m0 < m1 ? m1 : m0;
    }
    const double w = double(p_w), mwLo = mLo * w < mHi * w ? mLo * w : mHi * w, mwHi = mLo * w < mHi * w ? mHi * w : mLo * w;
    const bool windowAll = k.lo > q.hi - mwLo, windowNone = k.hi <= q.lo - mwHi;
    const bool diagAll = k.hi <= q.lo - b.hi, diagNone = k.lo > q.hi - b.lo;
    return windowAll && diagAll ? 2 : windowNone || diagNone ? 0 : 1;
  }

  __device__ float score(float s, [[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h,
                         [[maybe_unused]] int64_t q, [[maybe_unused]] int64_t k) const {
    return s;
  }
};

}  // namespace

static_assert(kvf::KVF_CUDA_NS::HasClassify<Variant_headwindow_f32>::value, "classify() must be detected");
KVF_REGISTER_CUDA_KERNEL("headwindow_f32_d64", Variant_headwindow_f32);
