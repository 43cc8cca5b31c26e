// Test-only classify() for the hand-written example kernels: the class of a box found by
// evaluating the Variant's own mask() at every integer point of it (boxes of more than
// kMaxPoints points answer PARTIAL, which is always sound). Three registrations per example:
//   <id>        no classify(): the kernel treats every tile as PARTIAL;
//   <id>_exact  the brute-force class of every box (what a perfect interval analysis gives);
//   <id>_loose  the exact class, weakened to PARTIAL on about a third of the boxes (a hash of
//               the box), as a conservative interval analysis leaves some.
// check_kernel.cpp runs every example under all three.
#pragma once
#include <cstdint>
#include "kvforge/cpu/forward.hpp"
#include "kvforge/interval.hpp"
#include "kvforge/registry.hpp"

namespace kvf::test {

template <class V, bool Loose>
struct BoxClassified : V {
  using V::V;
  static constexpr int64_t kMaxPoints = 1 << 18;

  uint8_t classify(Interval b, Interval h, Interval q, Interval k) const {
    const auto n = [](Interval i) { return int64_t(i.hi) - int64_t(i.lo) + 1; };
    if (n(b) * n(h) > kMaxPoints || n(q) * n(k) > kMaxPoints || n(b) * n(h) * n(q) * n(k) > kMaxPoints) return 1;
    bool any = false, all = true;
    for (int64_t bi = int64_t(b.lo); bi <= int64_t(b.hi); ++bi)
      for (int64_t hi = int64_t(h.lo); hi <= int64_t(h.hi); ++hi)
        for (int64_t qi = int64_t(q.lo); qi <= int64_t(q.hi); ++qi)
          for (int64_t ki = int64_t(k.lo); ki <= int64_t(k.hi); ++ki) {
            const bool m = this->mask(bi, hi, qi, ki);
            any |= m, all &= m;
          }
    const uint8_t c = !any ? 0 : all ? 2 : 1;
    if constexpr (Loose) {
      const uint64_t x = uint64_t(int64_t(q.lo) * 1000003 + int64_t(k.lo) * 7919 + int64_t(h.lo) * 31 + int64_t(b.lo));
      if (((x * 0x9E3779B97F4A7C15ull) >> 61) % 3 == 0) return 1;
    }
    return c;
  }
};

template <class V>
using ExactClassified = BoxClassified<V, false>;
template <class V>
using LooseClassified = BoxClassified<V, true>;

}  // namespace kvf::test

#define KVF_REGISTER_TEST_KERNELS(ID, VariantType)                                                   \
  KVF_REGISTER_CPU_KERNEL(ID, VariantType);                                                          \
  KVF_REGISTER_CPU_KERNEL(ID "_exact", ::kvf::test::ExactClassified<VariantType>);            \
  KVF_REGISTER_CPU_KERNEL(ID "_loose", ::kvf::test::LooseClassified<VariantType>)
