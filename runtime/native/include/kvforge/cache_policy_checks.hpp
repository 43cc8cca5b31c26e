// Host-side validation (and dtype dispatch) of the compression policies' cache ops (cache_ops.hpp: CompactArgs,
// MergeArgs, PyramidArgs), shared by the backends: the CPU checks its arguments in place, the CUDA
// backends on host copies of the lengths and argument arrays (downloaded first). Each returns what
// is wrong, naming the head, or "" when the op may run; nothing is written before it has passed.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include "kvforge/cache_merge.hpp"
#include "kvforge/cache_ops.hpp"
#include "kvforge/cache_slots.hpp"

namespace kvf {
namespace slots {

// f(std::integral_constant<DType, t>{}): the ops' templates instantiated per storage dtype.
template <class F>
void withDType(DType t, F&& f) {
  switch (t) {
    case DType::F32: return f(std::integral_constant<DType, DType::F32>{});
    case DType::F16: return f(std::integral_constant<DType, DType::F16>{});
    case DType::BF16: return f(std::integral_constant<DType, DType::BF16>{});
  }
}

inline std::string headName(const CacheView& c, int64_t hd) {
  return "sequence " + std::to_string(hd / c.Hkv) + " head " + std::to_string(hd % c.Hkv);
}

// The view's shape and every length (len: host copy of c.len).
inline std::string viewProblem(const CacheView& c, const int32_t* len) {
  if (const char* why = shapeProblem(c)) return why;
  for (int64_t hd = 0; hd < heads(c); ++hd)
    if (len[hd] < 0 || len[hd] > c.capacity) return headName(c, hd) + ": length outside [0, capacity]";
  return "";
}

// Where each head's list starts in CompactArgs::keep ([heads + 1] entries).
inline void keepOffsets(int64_t H, const int32_t* keepCount, int64_t* at) {
  at[0] = 0;
  for (int64_t hd = 0; hd < H; ++hd) at[hd + 1] = at[hd] + std::max<int32_t>(0, keepCount[hd]);
}

inline std::string compactProblem(const CacheView& c, const int32_t* len, const int32_t* keep, const int32_t* keepCount,
                                  const int64_t* at) {
  for (int64_t hd = 0; hd < heads(c); ++hd) {
    const int64_t n = keepCount[hd];
    if (n < 0) continue;
    if (n > len[hd]) return headName(c, hd) + ": keeps " + std::to_string(n) + " slots of " + std::to_string(len[hd]);
    const int32_t* k = keep + at[hd];
    for (int64_t i = 0; i < n; ++i)
      if (k[i] < 0 || k[i] >= len[hd] || (i > 0 && k[i] <= k[i - 1]))
        return headName(c, hd) + ": kept slots must increase and lie below the length " + std::to_string(len[hd]);
  }
  return "";
}

inline std::string mergeProblem(const MergeArgs& a, const int32_t* len, const int32_t* start, const int32_t* count,
                                const int32_t* dst) {
  const CacheView& c = a.cache;
  if (!c.hasStats()) return "the cache has no slot statistics (count, mass, bias)";
  if (a.groupSize < 2) return "groupSize must be at least 2, got " + std::to_string(a.groupSize);
  if (a.pooling == Pooling::BestVote && !a.pairOdd && a.groupSize != 2) return "bestVote merges pairs: groupSize must be 2";
  if (int32_t(a.pooling) < 0 || int32_t(a.pooling) > 4) return "unknown pooling " + std::to_string(int32_t(a.pooling));
  for (int64_t hd = 0; hd < heads(c); ++hd) {
    const int64_t n = count[hd];
    if (n <= 0) continue;
    const int64_t s = start[hd], d = dst[hd], g = a.pairOdd ? 2 : a.groupSize, m = mergedSlots(n, g), tail = len[hd] - s - n;
    if (s < 0 || s + n > len[hd] || d < 0 || (tail > 0 && d + m > s + n) || d + m + tail > c.capacity)
      return headName(c, hd) + ": region [" + std::to_string(s) + ", " + std::to_string(s + n) + ") to " + std::to_string(d) +
             " must lie within the length " + std::to_string(len[hd]) + ", its " + std::to_string(m) +
             " merged slots end before the slots that follow it, and everything fit the capacity " + std::to_string(c.capacity);
  }
  return "";
}

inline std::string pyramidProblem(const PyramidArgs& a, const int32_t* len, const int32_t* sinks, const int32_t* compressed) {
  const CacheView& c = a.cache;
  if (!c.hasStats()) return "the cache has no slot statistics (count, mass, bias)";
  if (a.budget < 1) return "the budget must be at least 1, got " + std::to_string(a.budget);
  if (a.groupSize < 2) return "groupSize must be at least 2, got " + std::to_string(a.groupSize);
  if (int32_t(a.pooling) < 0 || int32_t(a.pooling) > 4 || (a.pooling == Pooling::BestVote && a.groupSize != 2))
    return "pooling must be 0..4 (bestVote in pairs), got " + std::to_string(int32_t(a.pooling));
  for (int64_t hd = 0; hd < heads(c); ++hd) {
    if (compressed[hd] < 0) continue;
    if (sinks[hd] < 0 || int64_t(sinks[hd]) + compressed[hd] > len[hd])
      return headName(c, hd) + ": " + std::to_string(sinks[hd]) + " sinks and " + std::to_string(compressed[hd]) +
             " merged slots do not fit its length " + std::to_string(len[hd]);
  }
  return "";
}

}  // namespace slots
}  // namespace kvf
