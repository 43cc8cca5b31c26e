// CacheOps "cpu": compaction and merges of the compression policies (kvforge/cache_ops.hpp has
// the contract, runtime/verify/policy/ the float64 reference they are checked against slot for
// slot). Both validate every argument first and throw std::runtime_error ("kvforge cpu: cache
// <op>: ...") before writing anything; heads run in parallel (each head is written by one
// thread, so results do not depend on the thread count).
//
// Compaction moves kept slot keep[i] to i in ascending order: keep[i] >= i, so every source is
// read before anything overwrites it. A merge first pools its groups into a head-local buffer
// (the literal decode mode writes pooled slots over the front of its own region), then writes
// them at dst and moves the tail after them (ascending: dst + merged <= start + count when there
// is a tail).
#include "cache_policy_cpu.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kvforge/cache_slots.hpp"
#include "kvforge/convert.hpp"
#include "kvforge/cpu/thread_pool.hpp"

namespace kvf::cpucache {
namespace {

using namespace kvf::slots;

[[noreturn]] void fail(const char* op, const std::string& why) {
  throw std::runtime_error(std::string("kvforge cpu: cache ") + op + ": " + why);
}

std::string headName(const CacheView& c, int64_t hd) {
  return "sequence " + std::to_string(hd / c.Hkv) + " head " + std::to_string(hd % c.Hkv);
}

void validate(const CacheView& c, const char* op) {
  if (const char* why = shapeProblem(c)) fail(op, why);
  for (int64_t hd = 0; hd < heads(c); ++hd)
    if (c.len[hd] < 0 || c.len[hd] > c.capacity) fail(op, headName(c, hd) + ": length outside [0, capacity]");
}

template <class F>
void forHeads(const CacheView& c, int threads, F&& f) {
  if (threads > 1 && heads(c) > 1) cpu::parallelFor(threads, heads(c), [&](int64_t hd, int) { f(hd); });
  else
    for (int64_t hd = 0; hd < heads(c); ++hd) f(hd);
}

void recomputeHead(const CacheView& c, int64_t hd, int64_t len) {
  for (int64_t t = 0; t < entriesPerHead(c); ++t) recomputeEntry(c, hd, len, t);
}

// Where each head's list starts in CompactArgs::keep.
std::vector<int64_t> keepOffsets(const CompactArgs& a) {
  std::vector<int64_t> at(size_t(heads(a.cache)) + 1, 0);
  for (int64_t hd = 0; hd < heads(a.cache); ++hd) at[size_t(hd) + 1] = at[size_t(hd)] + std::max<int32_t>(0, a.keepCount[hd]);
  return at;
}

template <class E>
void compactAs(const CompactArgs& a, const std::vector<int64_t>& at) {
  const CacheView& c = a.cache;
  const int64_t C = columns(c);
  forHeads(c, a.threads, [&](int64_t hd) {
    const int64_t n = a.keepCount[hd];
    if (n < 0) return;
    const int32_t* keep = a.keep + at[size_t(hd)];
    for (int64_t i = 0; i < n; ++i)
      if (keep[i] != i) copyColumns<E>(c, hd, i, c, hd, keep[i], 0, C);
    recomputeHead(c, hd, n);
    c.len[hd] = int32_t(n);
  });
}

// One head's merged slots, widened: K/V as float, the rest as they are stored.
struct Pooled {
  std::vector<float> k, v;
  std::vector<int32_t> pos, count;
  std::vector<float> mass;
  std::vector<uint8_t> rawOf;  // Best*: the slot was copied whole from member `src` (bits kept)
  std::vector<int64_t> src;
};

template <DType T>
float loadK(const CacheView& c, int64_t hd, int64_t s, int64_t e) {
  return Storage<T>::load(keyRow<typename Storage<T>::Raw>(c, hd, s)[e]);
}
template <DType T>
float loadV(const CacheView& c, int64_t hd, int64_t s, int64_t e) {
  return Storage<T>::load(valueRow<typename Storage<T>::Raw>(c, hd, s)[e]);
}

template <DType T>
double keyNorm(const CacheView& c, int64_t hd, int64_t s) {
  double sum = 0;
  for (int64_t e = 0; e < c.D; ++e) {
    const double x = loadK<T>(c, hd, s, e);
    sum += x * x;
  }
  return std::sqrt(sum);
}

// Members [m0, m1) of a group of head hd (m1 - m0 >= 1), as pooled slot g of out.
template <DType T>
void poolGroup(const MergeArgs& a, int64_t hd, int64_t m0, int64_t m1, int64_t g, Pooled& out) {
  const CacheView& c = a.cache;
  const int32_t* pos = posRow(c, hd);
  int64_t count = 0;
  float mass = 0.0f;
  for (int64_t s = m0; s < m1; ++s) count += countRow(c, hd)[s], mass += massRow(c, hd)[s];
  out.pos[size_t(g)] = pos[m1 - 1];
  out.count[size_t(g)] = int32_t(count > INT32_MAX ? INT32_MAX : count);
  out.mass[size_t(g)] = mass;
  float* k = &out.k[size_t(g * c.D)];
  float* v = &out.v[size_t(g * c.Dv)];
  if (a.pooling == Pooling::BestMass || a.pooling == Pooling::BestKeyNorm || m1 - m0 == 1) {
    int64_t win = m0;
    double best = a.pooling == Pooling::BestKeyNorm ? keyNorm<T>(c, hd, m0) : double(massRow(c, hd)[m0]);
    for (int64_t s = m0 + 1; s < m1; ++s) {
      const double r = a.pooling == Pooling::BestKeyNorm ? keyNorm<T>(c, hd, s) : double(massRow(c, hd)[s]);
      if (r > best || (std::isnan(best) && !std::isnan(r))) win = s, best = r;
    }
    out.rawOf[size_t(g)] = 1;
    out.src[size_t(g)] = win;
    return;
  }
  const bool mean = a.pooling == Pooling::Mean;
  // Max as JavaScript's Math.max (the reference's): NaN wins, +0 beats -0.
  const auto jsMax = [](double acc, double x) {
    if (std::isnan(acc) || std::isnan(x)) return double(NAN);
    if (x == acc) return (std::signbit(acc) && std::signbit(x)) ? acc : std::fabs(acc);
    return x > acc ? x : acc;
  };
  const auto pool = [&](auto load, int64_t cols, float* dst) {
    for (int64_t e = 0; e < cols; ++e) {
      double acc = load(m0, e);
      for (int64_t s = m0 + 1; s < m1; ++s) {
        const double x = load(s, e);
        acc = mean ? acc + x : jsMax(acc, x);
      }
      dst[e] = float(mean ? acc / double(m1 - m0) : acc);
    }
  };
  pool([&](int64_t s, int64_t e) { return double(loadK<T>(c, hd, s, e)); }, c.D, k);
  pool([&](int64_t s, int64_t e) { return double(loadV<T>(c, hd, s, e)); }, c.Dv, v);
}

// bestVote over the region's pairs [r0, r0 + 2p) (and a last single slot, unchanged).
template <DType T>
void votePairs(const MergeArgs& a, int64_t hd, int64_t r0, int64_t n, Pooled& out) {
  const CacheView& c = a.cache;
  const int64_t pairs = a.pairOdd ? (n + 1) / 2 : n / 2;
  // Member b of pair i: r0 + 2i + 1, or (pairOdd, odd n, last pair) the slot itself.
  const auto second = [&](int64_t i) { return r0 + 2 * i + 1 < r0 + n ? r0 + 2 * i + 1 : r0 + 2 * i; };
  const auto vote = [&](auto load, int64_t cols, std::vector<uint8_t>& first) {
    first.assign(size_t(cols), 0);
    for (int64_t e = 0; e < cols; ++e) {
      int64_t votes = 0;
      for (int64_t i = 0; i < pairs; ++i) votes += load(r0 + 2 * i, e) > load(second(i), e) ? 1 : 0;
      first[size_t(e)] = 2 * votes > pairs ? 1 : 0;
    }
  };
  std::vector<uint8_t> kFirst, vFirst;
  vote([&](int64_t s, int64_t e) { return loadK<T>(c, hd, s, e); }, c.D, kFirst);
  vote([&](int64_t s, int64_t e) { return loadV<T>(c, hd, s, e); }, c.Dv, vFirst);
  const int64_t groups = (n + 1) / 2;
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t x = r0 + 2 * g, y = 2 * g + 1 < n ? x + 1 : x;
    const bool single = y == x;
    out.pos[size_t(g)] = posRow(c, hd)[y];
    out.count[size_t(g)] = single ? countRow(c, hd)[x] : countRow(c, hd)[x] + countRow(c, hd)[y];
    out.mass[size_t(g)] = single ? massRow(c, hd)[x] : massRow(c, hd)[x] + massRow(c, hd)[y];
    for (int64_t e = 0; e < c.D; ++e) out.k[size_t(g * c.D + e)] = loadK<T>(c, hd, kFirst[size_t(e)] ? x : y, e);
    for (int64_t e = 0; e < c.Dv; ++e) out.v[size_t(g * c.Dv + e)] = loadV<T>(c, hd, vFirst[size_t(e)] ? x : y, e);
  }
}

// Pools head hd's region [s, s + n) (groups as `a` says) and writes the merged slots at
// [dst, dst + m), m returned. Reads every member first, so the output may overlap the region.
template <DType T>
int64_t mergeRegionInto(const MergeArgs& a, int64_t hd, int64_t s, int64_t n, int64_t dst) {
  using Raw = typename Storage<T>::Raw;
  using E = Bits<T>;
  const CacheView& c = a.cache;
  const int64_t g = a.pairOdd ? 2 : a.groupSize, m = (n + g - 1) / g;
  Pooled out;
  out.k.resize(size_t(m * c.D)), out.v.resize(size_t(m * c.Dv));
  out.pos.resize(size_t(m)), out.count.resize(size_t(m)), out.mass.resize(size_t(m));
  out.rawOf.assign(size_t(m), 0), out.src.assign(size_t(m), -1);
  if (a.pooling == Pooling::BestVote) {
    votePairs<T>(a, hd, s, n, out);
  } else {
    for (int64_t i = 0; i < m; ++i) poolGroup<T>(a, hd, s + i * g, s + std::min(n, (i + 1) * g), i, out);
  }
  // Whole-slot winners keep their bits: copy them out before anything is overwritten.
  std::vector<E> rawK, rawV;
  for (int64_t i = 0; i < m; ++i)
    if (out.rawOf[size_t(i)]) {
      const E* kr = keyRow<E>(c, hd, out.src[size_t(i)]);
      const E* vr = valueRow<E>(c, hd, out.src[size_t(i)]);
      rawK.insert(rawK.end(), kr, kr + c.D);
      rawV.insert(rawV.end(), vr, vr + c.Dv);
    }
  for (int64_t i = 0, raw = 0; i < m; ++i) {
    const int64_t d = dst + i;
    if (out.rawOf[size_t(i)]) {
      copyRange(keyRow<E>(c, hd, d), rawK.data() + raw * c.D, 0, c.D);
      copyRange(valueRow<E>(c, hd, d), rawV.data() + raw * c.Dv, 0, c.Dv);
      ++raw;
    } else {
      Raw* kd = keyRow<Raw>(c, hd, d);
      Raw* vd = valueRow<Raw>(c, hd, d);
      for (int64_t e = 0; e < c.D; ++e) kd[e] = Storage<T>::store(out.k[size_t(i * c.D + e)]);
      for (int64_t e = 0; e < c.Dv; ++e) vd[e] = Storage<T>::store(out.v[size_t(i * c.Dv + e)]);
    }
    posRow(c, hd)[d] = out.pos[size_t(i)];
    countRow(c, hd)[d] = out.count[size_t(i)];
    massRow(c, hd)[d] = out.mass[size_t(i)];
    biasRow(c, hd)[d] = float(std::log(double(out.count[size_t(i)])));
  }
  return m;
}

template <DType T>
void mergeAs(const MergeArgs& a) {
  using E = Bits<T>;
  const CacheView& c = a.cache;
  const int64_t C = columns(c);
  forHeads(c, a.threads, [&](int64_t hd) {
    const int64_t n = a.count[hd];
    if (n <= 0) return;
    const int64_t s = a.start[hd], dst = a.dst[hd], len = c.len[hd];
    const int64_t m = mergeRegionInto<T>(a, hd, s, n, dst);
    for (int64_t t = s + n, d = dst + m; t < len; ++t, ++d) copyColumns<E>(c, hd, d, c, hd, t, 0, C);
    const int64_t newLen = dst + m + (len - s - n);
    recomputeHead(c, hd, newLen);
    c.len[hd] = int32_t(newLen);
  });
}

// The pyramid rule's whole loop on head hd (cache_ops.hpp, PyramidArgs). Each round's merged
// slots are written right before the recent slots that remain (where the round's region ends), so
// a round moves only its own merged slots, not the rest of the cache; one compaction closes the
// gap after the sinks at the end: O(length) per call instead of O(length^2 / W).
template <DType T>
void pyramidAs(const PyramidArgs& p) {
  using E = Bits<T>;
  const CacheView& c = p.cache;
  const int64_t C = columns(c), W = p.budget;
  MergeArgs a;
  a.cache = c, a.groupSize = p.groupSize, a.pooling = p.pooling, a.pairOdd = false;
  forHeads(c, p.threads, [&](int64_t hd) {
    if (p.compressed[hd] < 0) return;
    const int64_t s0 = p.sinks[hd], len = c.len[hd];
    int64_t at = s0, merged = p.compressed[hd];  // merged slots [at, at + merged), then the recent ones
    while (len - at - merged > W) {
      const int64_t n = merged + W, m = (n + p.groupSize - 1) / p.groupSize;
      mergeRegionInto<T>(a, hd, at, n, at + n - m);
      at += n - m, merged = m;
    }
    if (at == s0) return;
    for (int64_t t = at, d = s0; t < len; ++t, ++d) copyColumns<E>(c, hd, d, c, hd, t, 0, C);
    const int64_t newLen = len - (at - s0);
    recomputeHead(c, hd, newLen);
    c.len[hd] = int32_t(newLen);
  });
}

}  // namespace

void compact(const CompactArgs& a) {
  const CacheView& c = a.cache;
  validate(c, "compact");
  if (heads(c) == 0) return;
  if (!a.keepCount) fail("compact", "null keepCount");
  const std::vector<int64_t> at = keepOffsets(a);
  if (at.back() > 0 && !a.keep) fail("compact", "null keep");
  for (int64_t hd = 0; hd < heads(c); ++hd) {
    const int64_t n = a.keepCount[hd];
    if (n < 0) continue;
    if (n > c.len[hd]) fail("compact", headName(c, hd) + ": keeps " + std::to_string(n) + " slots of " + std::to_string(c.len[hd]));
    const int32_t* keep = a.keep + at[size_t(hd)];
    for (int64_t i = 0; i < n; ++i)
      if (keep[i] < 0 || keep[i] >= c.len[hd] || (i > 0 && keep[i] <= keep[i - 1]))
        fail("compact", headName(c, hd) + ": kept slots must increase and lie below the length " + std::to_string(c.len[hd]));
  }
  if (dtypeBytes(c.dtype) == 4) return compactAs<uint32_t>(a, at);
  compactAs<uint16_t>(a, at);
}

void pyramid(const PyramidArgs& a) {
  const CacheView& c = a.cache;
  validate(c, "pyramid");
  if (heads(c) == 0) return;
  if (!c.hasStats()) fail("pyramid", "the cache has no slot statistics (count, mass, bias)");
  if (!a.sinks || !a.compressed) fail("pyramid", "null sinks or compressed");
  if (a.budget < 1) fail("pyramid", "the budget must be at least 1, got " + std::to_string(a.budget));
  if (a.groupSize < 2) fail("pyramid", "groupSize must be at least 2, got " + std::to_string(a.groupSize));
  if (int32_t(a.pooling) < 0 || int32_t(a.pooling) > 4 || (a.pooling == Pooling::BestVote && a.groupSize != 2))
    fail("pyramid", "pooling must be 0..4 (bestVote in pairs), got " + std::to_string(int32_t(a.pooling)));
  for (int64_t hd = 0; hd < heads(c); ++hd) {
    if (a.compressed[hd] < 0) continue;
    if (a.sinks[hd] < 0 || int64_t(a.sinks[hd]) + a.compressed[hd] > c.len[hd])
      fail("pyramid", headName(c, hd) + ": " + std::to_string(a.sinks[hd]) + " sinks and " + std::to_string(a.compressed[hd]) +
                          " merged slots do not fit its length " + std::to_string(c.len[hd]));
  }
  switch (c.dtype) {
    case DType::F32: return pyramidAs<DType::F32>(a);
    case DType::F16: return pyramidAs<DType::F16>(a);
    case DType::BF16: return pyramidAs<DType::BF16>(a);
  }
}

void merge(const MergeArgs& a) {
  const CacheView& c = a.cache;
  validate(c, "merge");
  if (heads(c) == 0) return;
  if (!c.hasStats()) fail("merge", "the cache has no slot statistics (count, mass, bias)");
  if (!a.start || !a.count || !a.dst) fail("merge", "null start, count or dst");
  if (a.groupSize < 2) fail("merge", "groupSize must be at least 2, got " + std::to_string(a.groupSize));
  if (a.pooling == Pooling::BestVote && !a.pairOdd && a.groupSize != 2) fail("merge", "bestVote merges pairs: groupSize must be 2");
  if (int32_t(a.pooling) < 0 || int32_t(a.pooling) > 4) fail("merge", "unknown pooling " + std::to_string(int32_t(a.pooling)));
  for (int64_t hd = 0; hd < heads(c); ++hd) {
    const int64_t n = a.count[hd];
    if (n <= 0) continue;
    const int64_t s = a.start[hd], d = a.dst[hd], g = a.pairOdd ? 2 : a.groupSize, m = (n + g - 1) / g, tail = c.len[hd] - s - n;
    if (s < 0 || s + n > c.len[hd] || d < 0 || (tail > 0 && d + m > s + n) || d + m + tail > c.capacity)
      fail("merge", headName(c, hd) + ": region [" + std::to_string(s) + ", " + std::to_string(s + n) + ") to " + std::to_string(d) +
                        " must lie within the length " + std::to_string(c.len[hd]) + ", its " + std::to_string(m) +
                        " merged slots end before the slots that follow it, and everything fit the capacity " + std::to_string(c.capacity));
  }
  switch (c.dtype) {
    case DType::F32: return mergeAs<DType::F32>(a);
    case DType::F16: return mergeAs<DType::F16>(a);
    case DType::BF16: return mergeAs<DType::BF16>(a);
  }
}

}  // namespace kvf::cpucache
