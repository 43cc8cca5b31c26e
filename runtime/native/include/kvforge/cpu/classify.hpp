// Tile classification inside the CPU kernels (interface v2, attn_args.hpp): the Variant's
// generated classify() is asked about a box of (batch, query head, query position, key position)
// ranges and answers EMPTY (mask false on the whole box), FULL (true on the whole box) or
// PARTIAL. The classes are the ones codegen/passes/classifyTiles.ts computes for the same boxes.
//
// Query ranges come from the rows' positions, key ranges from the cache's position summary
// (slot_view.hpp) when the kernel's key tile is a multiple of kSummaryTile, else from a scan of
// the tile's slot positions; both give the exact [min, max] of the valid slots.
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>
#include "kvforge/attn_args.hpp"
#include "kvforge/interval.hpp"
#include "kvforge/cpu/tile_map.hpp"

namespace kvf::cpu {

namespace detail {
template <class V, class = void>
struct HasClassify : std::false_type {};
template <class V>
struct HasClassify<V, std::void_t<decltype(std::declval<const V&>().classify(Interval{}, Interval{}, Interval{}, Interval{}))>>
    : std::true_type {};
template <class V, class = void>
struct ReadsH : std::true_type {};  // unknown: assume it does (classify per head: sound)
template <class V>
struct ReadsH<V, std::void_t<decltype(V::kReadsH)>> : std::integral_constant<bool, bool(V::kReadsH)> {};
}  // namespace detail

// Whether classes can differ between the query heads of one KV group.
template <class V>
constexpr bool classesPerHead() {
  return V::kHasMask && detail::HasClassify<V>::value && detail::ReadsH<V>::value;
}

inline Interval point(int64_t x) { return Interval{double(x), double(x)}; }

// The class of a box as the kernel acts on it (effectiveClass: no mask -> FULL). A Variant
// without classify() is PARTIAL on every box (sound: the mask runs everywhere).
template <class V>
inline TileClass classifyBox(const V& var, Interval b, Interval h, Interval q, Interval k) {
  if constexpr (!V::kHasMask) {
    (void)var, (void)b, (void)h, (void)q, (void)k;
    return kTileFull;
  } else if constexpr (detail::HasClassify<V>::value) {
    return effectiveClass<V>(var.classify(b, h, q, k));
  } else {
    (void)var, (void)b, (void)h, (void)q, (void)k;
    return kTilePartial;
  }
}

// [min, max] of the positions of slots [s0, s1) of (b, hk), s1 <= len (s0 < s1).
inline Interval keyRange(const SlotView& kv, int64_t b, int64_t hk, int64_t s0, int64_t s1) {
  if (kv.sumMin && s0 % kSummaryTile == 0) {
    const int32_t* mn = kv.sumMin + b * kv.sumStrideB + hk * kv.sumStrideH;
    const int32_t* mx = kv.sumMax + b * kv.sumStrideB + hk * kv.sumStrideH;
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (int64_t t = s0 / kSummaryTile; t * kSummaryTile < s1; ++t) lo = std::min(lo, mn[t]), hi = std::max(hi, mx[t]);
    // Entries cover whole summary tiles: exact when s1 is len or a multiple of kSummaryTile.
    if ((s1 % kSummaryTile == 0 || s1 == slotLen(kv, b, hk)) && lo <= hi) return Interval{double(lo), double(hi)};
  }
  const int32_t* p = slotPos(kv, b, hk);
  int32_t lo = INT32_MAX, hi = INT32_MIN;
  for (int64_t s = s0; s < s1; ++s) lo = std::min(lo, p[s]), hi = std::max(hi, p[s]);
  return Interval{double(lo), double(hi)};
}

// [min, max] of the query positions of rows [i0, i1) of sequence b.
inline Interval queryRange(const AttnArgs& a, int64_t b, int64_t i0, int64_t i1) {
  const int32_t* p = queryPositions(a, b);
  int32_t lo = INT32_MAX, hi = INT32_MIN;
  for (int64_t i = i0; i < i1; ++i) lo = std::min(lo, p[i]), hi = std::max(hi, p[i]);
  return Interval{double(lo), double(hi)};
}

}  // namespace kvf::cpu
