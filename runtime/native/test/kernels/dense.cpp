// Hand-written example of a generated kernel file: no mask, no score (plain attention).
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"
#include "box_classify.hpp"

namespace {
struct Variant_dense {
  static constexpr int kTileQ = 64;
  static constexpr int kTileK = 128;
  static constexpr bool kHasMask = false;
  static constexpr bool kHasScore = false;
  explicit Variant_dense(const double* params) { (void)params; }
  bool mask(int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h, (void)q, (void)k;
    return true;
  }
  float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h, (void)q, (void)k;
    return s;
  }
};
}  // namespace

KVF_REGISTER_TEST_KERNELS("dense_7e8f9a0b", Variant_dense);
