// Hand-written example of a generated kernel file: softcap score p_cap * tanh(s / p_cap), no
// mask; tiles deliberately not multiples of the micro-kernel sizes.
#include <cmath>
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"
#include "box_classify.hpp"

namespace {
struct Variant_softcap {
  static constexpr int kTileQ = 40;
  static constexpr int kTileK = 72;
  static constexpr bool kHasMask = false;
  static constexpr bool kHasScore = true;
  static constexpr int kNumParams = 1;
  float p_cap;
  explicit Variant_softcap(const double* params) : p_cap(static_cast<float>(params[0])) {}
  bool mask(int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h, (void)q, (void)k;
    return true;
  }
  float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h, (void)q, (void)k;
    return p_cap * tanhf(s / p_cap);
  }
};
}  // namespace

KVF_REGISTER_TEST_KERNELS("softcap_9c0d1e2f", Variant_softcap);
