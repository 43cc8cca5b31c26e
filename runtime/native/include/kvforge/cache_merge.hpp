// The merges of compression policies (cache_ops.hpp: MergeArgs, PyramidArgs; semantics.md 3.3;
// runtime/verify/policy/pyramid.ts is the float64 reference), written once for every backend as
// cache_slots.hpp is: the CPU (src/cache_policy_cpu.cpp) loops over heads, groups and columns; the
// CUDA kernels (src/cuda/cache_policy_cuda.cu) run one block per head and one thread per column.
//
// A merge pools head hd's region [s, s + n) in adjacent groups of g (BestVote: pairs) into slots
// dst, dst + 1, ... It runs in two phases:
//   A. per group, the decisions that read whole slots: the winner of a Best* group (bestMember),
//      per channel the bestVote flag over the region's pairs (voteFirst). Written to arrays.
//   B. per group and column, the pooled value (mergeGroupColumns), written at dst + i.
// Phase A reads the cache before phase B writes it (CUDA: a barrier between them).
//
// In place: group i reads its members, then writes slot dst + i. Groups run in an order under
// which no write lands on a member not yet read (mergeOrder): ascending when dst <= s (slot
// dst + i lies before group i + 1's first member); descending when dst - s >= (m - 1)(g - 1), as
// the pyramid's rounds have (slot dst + i lies past group i - 1's last member, s + i*g - 1). Any
// other dst (the literal decode mode: dst = sinks > s = 0) reads the members from a copy of the
// region (MergeOrder::Copy).
//
// Columns (cache_slots.hpp): D key values, Dv value values, position, count, mass, bias. A pooled
// slot takes its newest member's position, the sum of the counts (clamped to int32) and of the
// masses (float, member order), and bias ln(count); the count column writes the bias too (the
// bias column itself pools nothing), so no column reads another column's output.
#pragma once
#include <math.h>
#include <cstdint>
#include "kvforge/cache_ops.hpp"
#include "kvforge/cache_slots.hpp"
#include "kvforge/convert.hpp"
#include "kvforge/host_device.hpp"

namespace kvf {
namespace slots {

enum class MergeOrder : int32_t { Forward = 0, Reverse = 1, Copy = 2 };

KVF_HOST_DEVICE inline int64_t mergedSlots(int64_t n, int64_t g) { return (n + g - 1) / g; }

KVF_HOST_DEVICE inline MergeOrder mergeOrder(int64_t s, int64_t n, int64_t dst, int64_t g) {
  if (dst <= s) return MergeOrder::Forward;
  if (dst - s >= (mergedSlots(n, g) - 1) * (g - 1)) return MergeOrder::Reverse;
  return MergeOrder::Copy;
}

KVF_HOST_DEVICE inline bool isBest(Pooling p) { return p == Pooling::BestMass || p == Pooling::BestKeyNorm; }
KVF_HOST_DEVICE inline bool isNan(double x) { return x != x; }

// Where a merge reads its members: head `hd` of `view` (the cache itself, or a copy of the
// region at the same slot indices).
struct MemberSource {
  CacheView view;
  int64_t hd;
};

template <DType T>
KVF_HOST_DEVICE inline float memberK(const MemberSource& m, int64_t s, int64_t e) {
  return Storage<T>::load(keyRow<typename Storage<T>::Raw>(m.view, m.hd, s)[e]);
}
template <DType T>
KVF_HOST_DEVICE inline float memberV(const MemberSource& m, int64_t s, int64_t e) {
  return Storage<T>::load(valueRow<typename Storage<T>::Raw>(m.view, m.hd, s)[e]);
}
// Channel e of the D + Dv key and value channels.
template <DType T>
KVF_HOST_DEVICE inline float memberChannel(const MemberSource& m, int64_t s, int64_t e) {
  return e < m.view.D ? memberK<T>(m, s, e) : memberV<T>(m, s, e - m.view.D);
}

// Phase A, Best*: the member of [m0, m1) with the strictly largest importance (ties to the
// older; a NaN importance loses to any number): its mass, or its key's L2 norm (double).
template <DType T>
KVF_HOST_DEVICE inline int64_t bestMember(const MemberSource& m, int64_t m0, int64_t m1, Pooling p) {
  const auto importance = [&](int64_t s) {
    if (p == Pooling::BestMass) return double(massRow(m.view, m.hd)[s]);
    double sum = 0;
    for (int64_t e = 0; e < m.view.D; ++e) {
      const double x = memberK<T>(m, s, e);
      sum += x * x;
    }
    return ::sqrt(sum);
  };
  int64_t win = m0;
  double best = importance(m0);
  for (int64_t s = m0 + 1; s < m1; ++s) {
    const double r = importance(s);
    if (r > best || (isNan(best) && !isNan(r))) win = s, best = r;
  }
  return win;
}

// Phase A, BestVote: whether channel e takes the first member of each pair: first > second in
// strictly more than half of the region's pairs (pairOdd: an odd last slot is a pair with itself).
template <DType T>
KVF_HOST_DEVICE inline bool voteFirst(const MemberSource& m, int64_t r0, int64_t n, bool pairOdd, int64_t e) {
  const int64_t pairs = pairOdd ? (n + 1) / 2 : n / 2;
  int64_t votes = 0;
  for (int64_t i = 0; i < pairs; ++i) {
    const int64_t x = r0 + 2 * i, y = x + 1 < r0 + n ? x + 1 : x;
    votes += memberChannel<T>(m, x, e) > memberChannel<T>(m, y, e) ? 1 : 0;
  }
  return 2 * votes > pairs;
}

// Max as JavaScript's Math.max (the reference's): NaN wins, +0 beats -0.
KVF_HOST_DEVICE inline bool negative(double x) { return x < 0 || (x == 0 && 1.0 / x < 0); }  // -0 included
KVF_HOST_DEVICE inline double jsMax(double acc, double x) {
  if (isNan(acc) || isNan(x)) return NAN;
  if (x == acc) return (negative(acc) && negative(x)) ? acc : acc == 0 ? 0.0 : acc < 0 ? -acc : acc;
  return x > acc ? x : acc;
}

// One merge as both phases see it.
struct MergePlan {
  int64_t s, n, dst, g;  // region [s, s + n) of head hd, groups of g, written from dst on
  Pooling pooling;
  bool vote;             // BestVote: pairs, members (x, y) as voteFirst pairs them
  const int64_t* winner;     // [groups] Best*: phase A's bestMember (null otherwise)
  const uint8_t* firstOf;    // [D + Dv] BestVote: phase A's voteFirst (null otherwise)
  KVF_HOST_DEVICE int64_t groups() const { return mergedSlots(n, g); }
};

// Phase B: columns [c0, c1) of group i of plan p, read from `from`, written to slot p.dst + i of
// head hd of c. The group's members are [m0, m1) (vote: x and y).
template <DType T>
KVF_HOST_DEVICE inline void mergeGroupColumns(const CacheView& c, int64_t hd, const MemberSource& from, const MergePlan& p,
                                              int64_t i, int64_t c0, int64_t c1) {
  using Raw = typename Storage<T>::Raw;
  using E = Bits<T>;
  const int64_t m0 = p.s + i * p.g, m1 = min64(p.s + p.n, m0 + p.g), d = p.dst + i;
  const int64_t x = m0, y = p.vote ? (m0 + 1 < p.s + p.n ? m0 + 1 : m0) : m1 - 1;  // vote: the pair
  const int64_t last = p.vote ? y : m1 - 1;                                          // newest member
  const bool whole = !p.vote && (isBest(p.pooling) || m1 - m0 == 1);
  const int64_t win = !whole ? -1 : m1 - m0 == 1 ? m0 : p.winner[i];
  const CacheView& f = from.view;
  const int64_t fh = from.hd, KV = c.D + c.Dv, pc = KV;
  for (int64_t col = max64(c0, 0); col < min64(c1, KV); ++col) {
    const bool isK = col < c.D;
    const int64_t e = isK ? col : col - c.D;
    if (whole) {
      const E bits = isK ? keyRow<E>(f, fh, win)[e] : valueRow<E>(f, fh, win)[e];
      if (isK) keyRow<E>(c, hd, d)[e] = bits;
      else valueRow<E>(c, hd, d)[e] = bits;
      continue;
    }
    float out;
    if (p.vote) {
      out = memberChannel<T>(from, p.firstOf[col] ? x : y, col);
    } else {
      double acc = memberChannel<T>(from, m0, col);
      for (int64_t s = m0 + 1; s < m1; ++s) {
        const double v = memberChannel<T>(from, s, col);
        acc = p.pooling == Pooling::Mean ? acc + v : jsMax(acc, v);
      }
      out = float(p.pooling == Pooling::Mean ? acc / double(m1 - m0) : acc);
    }
    if (isK) keyRow<Raw>(c, hd, d)[e] = Storage<T>::store(out);
    else valueRow<Raw>(c, hd, d)[e] = Storage<T>::store(out);
  }
  if (c0 <= pc && pc < c1) posRow(c, hd)[d] = posRow(f, fh)[last];
  const bool single = p.vote ? y == x : m1 - m0 == 1;
  const int64_t b0 = x, b1 = p.vote ? (single ? x + 1 : y + 1) : m1;
  if (c0 <= pc + 1 && pc + 1 < c1) {
    int64_t count = 0;
    for (int64_t s = b0; s < b1; ++s) count += countRow(f, fh)[s];
    const int32_t cnt = int32_t(count > 2147483647 ? 2147483647 : count);
    countRow(c, hd)[d] = cnt;
    biasRow(c, hd)[d] = float(::log(double(cnt)));
  }
  if (c0 <= pc + 2 && pc + 2 < c1) {
    float mass = 0.0f;
    for (int64_t s = b0; s < b1; ++s) mass += massRow(f, fh)[s];
    massRow(c, hd)[d] = mass;
  }
}

// The pyramid rule's next round on a head (PyramidArgs): slots are [0, at) sinks (and, after
// earlier rounds, a gap), [at, at + merged) merged, then the recent ones up to len. A round
// merges the merged slots plus the oldest W recent ones into the m slots that end where the
// region ends. Returns false when no round is due (at most W recent slots).
struct PyramidRound {
  int64_t at, merged;
  KVF_HOST_DEVICE bool next(int64_t len, int64_t W, int64_t g, int64_t& s, int64_t& n, int64_t& dst) {
    if (len - at - merged <= W) return false;
    s = at, n = merged + W;
    const int64_t m = mergedSlots(n, g);
    dst = at + n - m;
    at = dst, merged = m;
    return true;
  }
};

}  // namespace slots
}  // namespace kvf
