// Hand-written example of a generated kernel file: sliding window of p_window keys (a runtime
// parameter, params[0]), including the query's own position.
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"

namespace {
struct Variant_window {
  static constexpr int kTileQ = 64;
  static constexpr int kTileK = 128;
  static constexpr bool kHasMask = true;
  static constexpr bool kHasScore = false;
  static constexpr int kNumParams = 1;
  int64_t p_window;
  explicit Variant_window(const double* params) : p_window(static_cast<int64_t>(params[0])) {}
  bool mask(int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h;
    return q - p_window < k && k <= q;
  }
  float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const {
    (void)b, (void)h, (void)q, (void)k;
    return s;
  }
};
}  // namespace

KVF_REGISTER_CPU_KERNEL("slidingWindow_5e6f7a8b", Variant_window);
