// Hand-written example of a generated kernel file: noDiagonal (k < q; the first token has no
// admissible key and outputs 0).
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"
#include "box_classify.hpp"

namespace {
struct Variant_noDiagonal {
  static constexpr int kTileQ = 32;
  static constexpr int kTileK = 64;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = false;
  explicit Variant_noDiagonal(const double* params) { (void)params; }
  bool mask(int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h;
    return k < q;
  }
  float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h, (void)q, (void)k;
    return s;
  }
};
}  // namespace

KVF_REGISTER_TEST_KERNELS("noDiagonal_3a4b5c6d", Variant_noDiagonal);
