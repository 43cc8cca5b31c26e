// Hand-written example of a generated kernel file: causal mask, no score function.
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"
#include "box_classify.hpp"

namespace {
struct Variant_causal {
  static constexpr int kTileQ = 64;
  static constexpr int kTileK = 128;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = false;
  explicit Variant_causal(const double* params) { (void)params; }
  bool mask(int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h;
    return k <= q;
  }
  float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h, (void)q, (void)k;
    return s;
  }
};
// With the interval classify() the code generator would print (what bench_kernel times).
struct Variant_causal_iv : Variant_causal {
  using Variant_causal::Variant_causal;
  static constexpr bool kReadsB = false, kReadsH = false;
  uint8_t classify(kvf::Interval, kvf::Interval, kvf::Interval q, kvf::Interval k) const {
    return k.lo > q.hi ? 0 : k.hi <= q.lo ? 2 : 1;
  }
};
}  // namespace

KVF_REGISTER_TEST_KERNELS("causal_1a2b3c4d", Variant_causal);
KVF_REGISTER_CPU_KERNEL("causal_iv", Variant_causal_iv);
