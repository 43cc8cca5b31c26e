// CacheOps "cpu": compaction and merges of the compression policies (kvforge/cache_ops.hpp has
// the contract, runtime/verify/policy/ the float64 reference they are checked against slot for
// slot). Validation (cache_policy_checks.hpp) runs first and throws std::runtime_error
// ("kvforge cpu: cache <op>: ...") before anything is written; heads run in parallel (each head is
// written by one thread, so results do not depend on the thread count).
//
// The merges are cache_merge.hpp's, which the CUDA backends run too: per head, phase A (Best*
// winners, bestVote flags) then phase B group by group, all columns of a group at once, in the
// order mergeOrder allows in place (or from a copy of the region for the literal decode mode).
// Compaction moves kept slot keep[i] to i in ascending order: keep[i] >= i, so every source is
// read before anything overwrites it.
#include "cache_policy_cpu.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <vector>

#include "kvforge/cache_merge.hpp"
#include "kvforge/cache_policy_checks.hpp"
#include "kvforge/cache_slots.hpp"
#include "kvforge/convert.hpp"
#include "kvforge/cpu/thread_pool.hpp"

namespace kvf::cpucache {
namespace {

using namespace kvf::slots;

[[noreturn]] void fail(const char* op, const std::string& why) {
  throw std::runtime_error(std::string("kvforge cpu: cache ") + op + ": " + why);
}

void check(const char* op, const std::string& problem) {
  if (!problem.empty()) fail(op, problem);
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

// Slots [src, src + n) of head hd to [dst, dst + n), every column, as whole blocks (a head's rows
// are contiguous in each array); dst <= src, so memmove's overlap rule is all that is needed.
template <class E>
void moveSlots(const CacheView& c, int64_t hd, int64_t dst, int64_t src, int64_t n) {
  const auto move = [&](auto* base, int64_t width) {
    using T = std::remove_pointer_t<decltype(base)>;
    T* row = base + hd * c.capacity * width;
    std::memmove(row + dst * width, row + src * width, size_t(n * width) * sizeof(T));
  };
  if (c.D > 0) move(static_cast<E*>(c.k), c.D);
  if (c.Dv > 0) move(static_cast<E*>(c.v), c.Dv);
  move(c.pos, 1);
  if (c.count) move(c.count, 1), move(c.mass, 1), move(c.bias, 1);
}

// Kept slot keep[i] to i, in ascending order (keep[i] >= i: every source is read before it is
// overwritten), one block move per run of consecutive kept slots: a sink cache's step is two runs
// (the sinks, the window) instead of one row copy per slot.
template <class E>
void compactAs(const CompactArgs& a, const std::vector<int64_t>& at) {
  const CacheView& c = a.cache;
  forHeads(c, a.threads, [&](int64_t hd) {
    const int64_t n = a.keepCount[hd];
    if (n < 0) return;
    const int32_t* keep = a.keep + at[size_t(hd)];
    for (int64_t i0 = 0, i1; i0 < n; i0 = i1) {
      for (i1 = i0 + 1; i1 < n && keep[i1] == keep[i1 - 1] + 1; ++i1) {
      }
      if (keep[i0] != i0) moveSlots<E>(c, hd, i0, keep[i0], i1 - i0);
    }
    recomputeHead(c, hd, n);
    c.len[hd] = int32_t(n);
  });
}

// A one-head cache holding a copy of slots [s, s + n) of head hd at the same slot indices: where
// a merge whose order is MergeOrder::Copy reads its members.
template <class E>
struct RegionCopy {
  std::vector<E> k, v;
  std::vector<int32_t> pos, count;
  std::vector<float> mass, bias;
  MemberSource of(const CacheView& c, int64_t hd, int64_t s, int64_t n) {
    CacheView r = c;
    r.B = 1, r.Hkv = 1, r.capacity = s + n;
    k.resize(size_t(r.capacity * c.D)), v.resize(size_t(r.capacity * c.Dv));
    pos.resize(size_t(r.capacity)), count.resize(pos.size()), mass.resize(pos.size()), bias.resize(pos.size());
    r.k = k.data(), r.v = v.data(), r.pos = pos.data(), r.count = count.data(), r.mass = mass.data(), r.bias = bias.data();
    r.len = nullptr, r.sumMin = r.sumMax = nullptr;
    for (int64_t slot = s; slot < s + n; ++slot) copyColumns<E>(r, 0, slot, c, hd, slot, 0, columns(c));
    return MemberSource{r, 0};
  }
};

// Merge region [s, s + n) of head hd into slots from dst on (both phases of cache_merge.hpp).
template <DType T>
void mergeRegion(const CacheView& c, int64_t hd, int64_t s, int64_t n, int64_t dst, int64_t g, Pooling pooling, bool pairOdd) {
  MergePlan p{s, n, dst, g, pooling, pooling == Pooling::BestVote, nullptr, nullptr};
  const MergeOrder order = mergeOrder(s, n, dst, g);
  RegionCopy<Bits<T>> copy;
  const MemberSource from = order == MergeOrder::Copy ? copy.of(c, hd, s, n) : MemberSource{c, hd};
  const int64_t m = p.groups();
  std::vector<int64_t> winner;
  std::vector<uint8_t> first;
  if (isBest(pooling)) {
    winner.resize(size_t(m));
    for (int64_t i = 0; i < m; ++i) winner[size_t(i)] = bestMember<T>(from, s + i * g, std::min(s + n, s + (i + 1) * g), pooling);
    p.winner = winner.data();
  }
  if (p.vote) {
    first.resize(size_t(c.D + c.Dv));
    for (int64_t e = 0; e < c.D + c.Dv; ++e) first[size_t(e)] = voteFirst<T>(from, s, n, pairOdd, e) ? 1 : 0;
    p.firstOf = first.data();
  }
  const int64_t C = columns(c);
  if (order == MergeOrder::Reverse)
    for (int64_t i = m - 1; i >= 0; --i) mergeGroupColumns<T>(c, hd, from, p, i, 0, C);
  else
    for (int64_t i = 0; i < m; ++i) mergeGroupColumns<T>(c, hd, from, p, i, 0, C);
}

template <DType T>
void mergeAs(const MergeArgs& a) {
  using E = Bits<T>;
  const CacheView& c = a.cache;
  const int64_t C = columns(c), g = a.pairOdd ? 2 : a.groupSize;
  forHeads(c, a.threads, [&](int64_t hd) {
    const int64_t n = a.count[hd];
    if (n <= 0) return;
    const int64_t s = a.start[hd], dst = a.dst[hd], len = c.len[hd], m = mergedSlots(n, g);
    mergeRegion<T>(c, hd, s, n, dst, g, a.pooling, a.pairOdd);
    for (int64_t t = s + n, d = dst + m; t < len; ++t, ++d) copyColumns<E>(c, hd, d, c, hd, t, 0, C);
    const int64_t newLen = dst + m + (len - s - n);
    recomputeHead(c, hd, newLen);
    c.len[hd] = int32_t(newLen);
  });
}

// The pyramid rule's whole loop on head hd (PyramidRound): each round's merged slots end where
// its region ends, so a round moves only its own merged slots; one move closes the gap after the
// sinks at the end: O(length) per call instead of O(length^2 / W).
template <DType T>
void pyramidAs(const PyramidArgs& p) {
  using E = Bits<T>;
  const CacheView& c = p.cache;
  const int64_t C = columns(c);
  forHeads(c, p.threads, [&](int64_t hd) {
    if (p.compressed[hd] < 0) return;
    const int64_t s0 = p.sinks[hd], len = c.len[hd];
    PyramidRound r{s0, p.compressed[hd]};
    int64_t s, n, dst;
    while (r.next(len, p.budget, p.groupSize, s, n, dst)) mergeRegion<T>(c, hd, s, n, dst, p.groupSize, p.pooling, false);
    if (r.at == s0) return;
    for (int64_t t = r.at, d = s0; t < len; ++t, ++d) copyColumns<E>(c, hd, d, c, hd, t, 0, C);
    const int64_t newLen = len - (r.at - s0);
    recomputeHead(c, hd, newLen);
    c.len[hd] = int32_t(newLen);
  });
}

}  // namespace

void compact(const CompactArgs& a) {
  const CacheView& c = a.cache;
  check("compact", viewProblem(c, c.len));
  if (heads(c) == 0) return;
  if (!a.keepCount) fail("compact", "null keepCount");
  std::vector<int64_t> at(size_t(heads(c)) + 1);
  keepOffsets(heads(c), a.keepCount, at.data());
  if (at.back() > 0 && !a.keep) fail("compact", "null keep");
  check("compact", compactProblem(c, c.len, a.keep, a.keepCount, at.data()));
  if (dtypeBytes(c.dtype) == 4) return compactAs<uint32_t>(a, at);
  compactAs<uint16_t>(a, at);
}

void pyramid(const PyramidArgs& a) {
  const CacheView& c = a.cache;
  check("pyramid", viewProblem(c, c.len));
  if (heads(c) == 0) return;
  if (!a.sinks || !a.compressed) fail("pyramid", "null sinks or compressed");
  check("pyramid", pyramidProblem(a, c.len, a.sinks, a.compressed));
  withDType(c.dtype, [&](auto t) { pyramidAs<decltype(t)::value>(a); });
}

void merge(const MergeArgs& a) {
  const CacheView& c = a.cache;
  check("merge", viewProblem(c, c.len));
  if (heads(c) == 0) return;
  if (!a.start || !a.count || !a.dst) fail("merge", "null start, count or dst");
  check("merge", mergeProblem(a, c.len, a.start, a.count, a.dst));
  withDType(c.dtype, [&](auto t) { mergeAs<decltype(t)::value>(a); });
}

}  // namespace kvf::cpucache
