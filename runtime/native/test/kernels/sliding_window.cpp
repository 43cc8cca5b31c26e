// Hand-written example of a generated kernel file: sliding window of p_window keys (a runtime
// parameter, params[0]), including the query's own position.
#include "kvforge/cpu/forward.hpp"
#include "kvforge/registry.hpp"
#include "box_classify.hpp"

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
// With the interval classify() the code generator would print (what bench_kernel times).
struct Variant_window_iv : Variant_window {
  using Variant_window::Variant_window;
  static constexpr bool kReadsB = false, kReadsH = false;
  uint8_t classify(kvf::Interval, kvf::Interval, kvf::Interval q, kvf::Interval k) const {
    const double w = double(p_window);
    if (k.lo > q.hi || k.hi <= q.lo - w) return 0;
    return k.hi <= q.lo && k.lo > q.hi - w ? 2 : 1;
  }
};
}  // namespace

KVF_REGISTER_TEST_KERNELS("slidingWindow_5e6f7a8b", Variant_window);
KVF_REGISTER_CPU_KERNEL("slidingWindow_iv", Variant_window_iv);
