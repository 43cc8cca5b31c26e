// Tile classes on the device: EMPTY (no admissible element: skipped), FULL (every element
// admissible: the mask is not evaluated) or PARTIAL, asked of the Variant's classify() for a set of
// query rows against a range of key slots of one (sequence, KV head):
//   var.classify(Interval b, Interval h, Interval q, Interval k) -> 0 EMPTY / 1 PARTIAL / 2 FULL
// with b = [b, b], h = the query heads of the rows, q = [min, max] of the rows' positions and
// k = [min of sumMin, max of sumMax] over the summary entries (kSummaryTile slots each) that cover
// the key range, which a kernel clips to the slots below len (slot_view.hpp). The result is a
// bound for every (row, slot) pair of the sets, so any superset of rows or heads is sound, only
// less sharp.
//
// A Variant without classify(), a view without summaries, or a value other than 0 / 2 mean PARTIAL
// (sound: the mask then decides every element). Variants without a mask are FULL everywhere.
// kReadsH (the mask reads h; true when the Variant does not say) lets the decode kernel classify
// the rows of all query heads of a KV group at once (decode.cuh). kReadsB needs no special case:
// the key summaries are per sequence, so classes are per sequence anyway.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/device_args.cuh"
#include "kvforge/interval.hpp"
#include "kvforge/slot_view.hpp"

namespace kvf {
namespace KVF_CUDA_NS {

template <class V, class = void>
struct HasClassify : std::false_type {};
template <class V>
struct HasClassify<V, std::void_t<decltype(std::declval<const V&>().classify(Interval{}, Interval{}, Interval{},
                                                                              Interval{}))>> : std::true_type {};

// A member named classify that HasClassify cannot call (a signature drifted): without this check
// the kernels would silently treat every tile as PARTIAL. KVF_REGISTER_CUDA_KERNEL asserts it.
template <class V, class = void>
struct NamesClassify : std::false_type {};
template <class V>
struct NamesClassify<V, std::void_t<decltype(&V::classify)>> : std::true_type {};
template <class V>
constexpr bool kClassifyCallable = !NamesClassify<V>::value || HasClassify<V>::value;

template <class V, class = void>
struct ReadsH : std::true_type {};
template <class V>
struct ReadsH<V, std::void_t<decltype(V::kReadsH)>> : std::integral_constant<bool, bool(V::kReadsH)> {};

// Whether kernels of V ask classify() at all (a mask, and a classify() to ask).
template <class V>
constexpr bool kClassifies = V::kHasMask && HasClassify<V>::value;

// [min, max] of n > 0 positions (shared memory, read by broadcast), as an Interval.
__device__ __forceinline__ Interval positionRange(const int* p, int n) {
  int lo = p[0], hi = p[0];
  for (int i = 1; i < n; ++i) {
    lo = p[i] < lo ? p[i] : lo;
    hi = p[i] > hi ? p[i] : hi;
  }
  return Interval{double(lo), double(hi)};
}

// The class of query heads h, query positions q against slots [s0, s1) of (b, hk), s0 a multiple
// of kSummaryTile and s1 <= the slots the kernel reads (so every summary entry read is below len).
template <class V, class T>
__device__ __forceinline__ uint8_t classifyKeys(const V& var, const DeviceArgs<T>& a, int64_t b, int64_t hk,
                                                Interval h, Interval q, int64_t s0, int64_t s1) {
  if (a.sumMin == nullptr || a.sumMax == nullptr) return kTilePartial;
  const int64_t off = b * a.sumStrideB + hk * a.sumStrideH;
  const int64_t e1 = (s1 + kSummaryTile - 1) / kSummaryTile;
  int lo = a.sumMin[off + s0 / kSummaryTile], hi = a.sumMax[off + s0 / kSummaryTile];
  for (int64_t e = s0 / kSummaryTile + 1; e < e1; ++e) {
    const int mn = a.sumMin[off + e], mx = a.sumMax[off + e];
    lo = mn < lo ? mn : lo;
    hi = mx > hi ? mx : hi;
  }
  const double bd = double(b);
  return uint8_t(var.classify(Interval{bd, bd}, h, q, Interval{double(lo), double(hi)}));
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
