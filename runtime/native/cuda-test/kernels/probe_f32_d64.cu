// Test-only variants (not examples of generated files), f32 storage, D = 64, causal mask:
// - probe_f32_d64 / probe_rows_f32_d64: classify() answers the runtime parameter (0 EMPTY,
//   1 PARTIAL, 2 FULL) for every tile, whatever the mask says, so check_cuda sees that the kernels
//   act on the classes they compute: all rows empty, the causal result, the unmasked result. Two
//   instances, kReadsH false and true, for the decode kernel's two ways of classifying.
// - causal_plain_f32_d64: no classify() at all (every tile PARTIAL).
// - big_f32_d512 (emulator only; nvcc would spill its 16 x 16 accumulators): a prefill that needs
//   more shared memory per block than a device allows, for the launch code's check.
#include "kvforge/cuda/forward.cuh"
#include "kvforge/expr_ops.hpp"

namespace {

template <bool kH>
struct Variant_probe {
  static constexpr int kTileQ = 16;
  static constexpr int kTileK = 32;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = false;
  static constexpr int kNumParams = 1;
  using Storage = float;
  static constexpr int kHeadDim = 64;
  static constexpr bool kReadsB = false, kReadsH = kH;

  uint8_t p_cls;

  KVF_HD explicit Variant_probe(const double* params) : p_cls(static_cast<uint8_t>(params[0])) {}

  __device__ bool mask([[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h, int64_t q, int64_t k) const {
    return k <= q;
  }
  KVF_HOST_DEVICE uint8_t classify(kvf::Interval, kvf::Interval, kvf::Interval, kvf::Interval) const { return p_cls; }
  __device__ float score(float s, int64_t, int64_t, int64_t, int64_t) const { return s; }
};

struct Variant_causal_plain_f32 {
  static constexpr int kTileQ = 64;
  static constexpr int kTileK = 64;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = false;
  using Storage = float;
  static constexpr int kHeadDim = 64;

  KVF_HD explicit Variant_causal_plain_f32([[maybe_unused]] const double* params) {}

  __device__ bool mask([[maybe_unused]] int64_t b, [[maybe_unused]] int64_t h, int64_t q, int64_t k) const {
    return k <= q;
  }
  __device__ float score(float s, int64_t, int64_t, int64_t, int64_t) const { return s; }
};

using Variant_probe_slices = Variant_probe<false>;
using Variant_probe_rows = Variant_probe<true>;

}  // namespace

static_assert(kvf::KVF_CUDA_NS::HasClassify<Variant_probe_slices>::value, "classify() must be detected");
static_assert(!kvf::KVF_CUDA_NS::ReadsH<Variant_probe_slices>::value && kvf::KVF_CUDA_NS::ReadsH<Variant_probe_rows>::value,
              "kReadsH must be read");
static_assert(!kvf::KVF_CUDA_NS::HasClassify<Variant_causal_plain_f32>::value &&
                  kvf::KVF_CUDA_NS::ReadsH<Variant_causal_plain_f32>::value,
              "no classify(), and h assumed read");
KVF_REGISTER_CUDA_KERNEL("probe_f32_d64", Variant_probe_slices);
KVF_REGISTER_CUDA_KERNEL("probe_rows_f32_d64", Variant_probe_rows);
KVF_REGISTER_CUDA_KERNEL("causal_plain_f32_d64", Variant_causal_plain_f32);

#if defined(KVF_CUDA_EMULATION)
namespace {
struct Variant_big_f32 {
  static constexpr int kTileQ = 64;
  static constexpr int kTileK = 64;
  static constexpr bool kHasMask = false;
  static constexpr bool kHasScore = false;
  using Storage = float;
  static constexpr int kHeadDim = 512;

  KVF_HD explicit Variant_big_f32([[maybe_unused]] const double* params) {}
  __device__ bool mask(int64_t, int64_t, int64_t, int64_t) const { return true; }
  __device__ float score(float s, int64_t, int64_t, int64_t, int64_t) const { return s; }
};
static_assert(kvf::KVF_CUDA_NS::prefillSmemBytes<Variant_big_f32>() > 227 * 1024, "must exceed the emulator's limit");
}  // namespace
KVF_REGISTER_CUDA_KERNEL("big_f32_d512", Variant_big_f32);
#endif
