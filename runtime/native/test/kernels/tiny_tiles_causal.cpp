// Test kernel: causal with tiles far smaller than the micro-kernels (3 query rows x 5 keys), so
// every panel and key block straddles tile boundaries.
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"
#include "box_classify.hpp"

namespace {
struct Variant_tinyTiles {
  static constexpr int kTileQ = 3;
  static constexpr int kTileK = 5;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = false;
  explicit Variant_tinyTiles(const double* params) { (void)params; }
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

KVF_REGISTER_TEST_KERNELS("tinyTilesCausal_6d5c4b3a", Variant_tinyTiles);
