// Hand-written example of a generated kernel file whose mask reads b and h, so the tile map is
// per (batch, head): a causal window of (1 + h % 3) * p_window keys, shifted back b positions
// per batch. Odd tiles on purpose (tileQ not a multiple of 6, tileK not of 16).
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"
#include "box_classify.hpp"

namespace {
struct Variant_batchHeadWindow {
  static constexpr int kTileQ = 29;
  static constexpr int kTileK = 50;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = false;
  static constexpr int kNumParams = 1;
  int64_t p_window;
  explicit Variant_batchHeadWindow(const double* params) : p_window(static_cast<int64_t>(params[0])) {}
  bool mask(int64_t b, int64_t h, int64_t q, int64_t k) const {
    return q - (1 + h % 3) * p_window < k && k <= q - b;
  }
  float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h, (void)q, (void)k;
    return s;
  }
};
}  // namespace

KVF_REGISTER_TEST_KERNELS("batchHeadWindow_0f1e2d3c", Variant_batchHeadWindow);
