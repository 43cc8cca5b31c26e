// Test kernel for the "admissible but -inf" rule: causal, and every key at an even position
// scores -inf. A row whose only admissible keys are even (query position 0) must output exactly
// 0 with lse -inf, like a row with no admissible key.
#include <cmath>
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"
#include "box_classify.hpp"

namespace {
struct Variant_evenKeysMinusInf {
  static constexpr int kTileQ = 16;
  static constexpr int kTileK = 32;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = true;
  explicit Variant_evenKeysMinusInf(const double* params) { (void)params; }
  bool mask(int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h;
    return k <= q;
  }
  float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h, (void)q;
    return k % 2 == 0 ? -INFINITY : s;
  }
};
}  // namespace

KVF_REGISTER_TEST_KERNELS("evenKeysMinusInf_8c7b6a59", Variant_evenKeysMinusInf);
