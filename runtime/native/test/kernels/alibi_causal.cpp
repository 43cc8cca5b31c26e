// Hand-written example of a generated kernel file with both a mask and a score that reads h:
// causal ALiBi, s - p_slope * (h + 1) * (q - k).
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"
#include "box_classify.hpp"

namespace {
struct Variant_alibiCausal {
  static constexpr int kTileQ = 64;
  static constexpr int kTileK = 128;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = true;
  static constexpr int kNumParams = 1;
  float p_slope;
  explicit Variant_alibiCausal(const double* params) : p_slope(static_cast<float>(params[0])) {}
  bool mask(int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h;
    return k <= q;
  }
  float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b;
    return s - p_slope * static_cast<float>(h + 1) * static_cast<float>(q - k);
  }
};
}  // namespace

KVF_REGISTER_TEST_KERNELS("alibiCausal_4b5a6978", Variant_alibiCausal);
