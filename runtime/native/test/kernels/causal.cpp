// Hand-written example of a generated kernel file: causal mask, no score function.
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"

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
}  // namespace

KVF_REGISTER_CPU_KERNEL("causal_1a2b3c4d", Variant_causal);
