// The attention-mass output of AttnArgs v3 (attn_args.hpp): per key slot, the sum of the
// probabilities it received over the call's query rows and the query heads of its KV group,
//   mass[b, hk, s] += sum_{g, i} exp(score(b, g, i, s) + bias(s) - lse(b, g, i))   (admissible s),
// in the fixed order heads g, then rows i, so the result does not depend on the thread count.
// (The tapes' order is fixed too: mass_tape.hpp.)
//
// SIMD builds score the keys with decode's rows-in-lanes Q*K^T and vectorised exp2; the scalar
// build dots one (row, key) at a time.
//
// When this pass runs: decode and prefill compute the mass along with the attention, from the
// probabilities their steps already hold (mass_tape.hpp), whenever those fit in kMassTapeFloats.
// This pass is for the calls where they would not: it reads the keys once more after the
// forward has written lse (not the values), recomputes the scores of every (row, slot) of each
// key tile and sums exp(s - lse) per slot. It holds nothing beyond a tile: a tile's sums live in
// 64 floats on the stack. Measured side by side (bench-policies, Hq=32 Hkv=4 D=64 Lk=4096, 2
// threads): this pass cost +69% on decode B=1 f32 and +76-97% on a 1024-row prefill; the tapes
// cost +10% and -1..+3%.
// Masks are evaluated on positions exactly as in the forward (tile classes first, the mask only
// in PARTIAL tiles), and a row with lse = -inf (no admissible key) adds nothing.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include "kvforge/attn_args.hpp"
#include "kvforge/cpu/classify.hpp"
#include "kvforge/cpu/exp2.hpp"
#include "kvforge/cpu/scratch.hpp"
#include "kvforge/cpu/score_mask.hpp"
#include "kvforge/cpu/storage_rows.hpp"
#include "kvforge/cpu/thread_pool.hpp"
#include "kvforge/cpu/qk_dot.hpp"
#include "kvforge/cpu/tile_map.hpp"
#include "kvforge/cpu/vec8.hpp"

namespace kvf::cpu {

constexpr int64_t kMassTile = 64;  // slots per work unit of the mass pass (a multiple of kSummaryTile)

// dot(q, k) over D floats, 8 lanes at a time (the tail by lane mask).
inline float massDot(const float* q, const float* k, int64_t D) {
  Vec8 acc0 = zero8(), acc1 = zero8();
  int64_t d = 0;
  for (; d + 16 <= D; d += 16) {
    acc0 = fma(load8(q + d), load8(k + d), acc0);
    acc1 = fma(load8(q + d + 8), load8(k + d + 8), acc1);
  }
  if (d + 8 <= D) acc0 = fma(load8(q + d), load8(k + d), acc0), d += 8;
  if (d < D) {
    const Mask8 m = laneMask(static_cast<int>(D - d));
    acc1 = fma(loadN(q + d, m), loadN(k + d, m), acc1);
  }
  return hsum(add(acc0, acc1));
}

// What both builds' mass units start from. Without a score function scale * log2(e) is folded
// into q, as the forward does; with one, q is unscaled and s = scale * dot goes through it.
struct MassScales {
  float qScale, sScale;
  const float* bias;
  int64_t Dpad;
};
template <class V>
MassScales massScales(const AttnArgs& a) {
  return MassScales{V::kHasScore ? 1.0f : static_cast<float>(a.scale) * kLog2e, static_cast<float>(a.scale), biasOf(a), roundUp(a.kv.D, 8)};
}

#if KVF_CPU_AVX2
// SIMD builds: per unit (b, hk, kMassChunk keys), rows in blocks of kMassRows; per block the
// query rows go into the lane layout of decode's Q*K^T (qk_dot.hpp) once, and every 64-key step
// of the unit is scored by it: Q*K^T, then the mask and score stage the forward uses
// (admissibleRange, applyScoreMask), then exp2(s - lse) added per key over the block's rows.
constexpr int64_t kMassChunk = 512;  // keys per unit: one lane layout of the rows serves them all
constexpr int kMassRows = 64;        // rows per block (scratch bounded whatever the call's rows)
constexpr int kMassStep = 64;        // keys scored at once (S is kMassRows x kMassStep)

// The mass of keys [c0, c1) (at most kMassChunk) of (b, hk), from every row of sequence b.
template <class V, DType T>
void massUnit(const V& var, const AttnArgs& a, int64_t b, int64_t hk, int64_t c0, int64_t c1) {
  const SlotView& kv = a.kv;
  const int64_t Hkv = kv.Hkv, G = a.Hq / Hkv, D = kv.D;
  const auto [qScale, sScale, bias, Dpad] = massScales<V>(a);
  {
    const int64_t n = a.rowCount[b];
    c1 = std::min(c1, slotLen(kv, b, hk));
    if (n == 0 || c0 >= c1) return;
    const int32_t* kpos = slotPos(kv, b, hk);
    const int32_t* qp = queryPositions(a, b);
    const Interval bI = point(b);
    if (classifyBox(var, bI, Interval{double(hk * G), double(hk * G + G - 1)}, queryRange(a, b, 0, n), keyRange(kv, b, hk, c0, c1)) == kTileEmpty) return;
    thread_local ReusedScratch<float> qMem, qlMem, kMem, sMem;
    thread_local ReusedScratch<uint8_t> admitMem;
    thread_local ReusedScratch<float> lseMem;
    const int nGroupsMax = int(ceilDiv(kMassRows, kQkLanes));
    float* Q = qMem.reserve(size_t(kMassRows * Dpad), "mass pass queries");
    float* QL = qlMem.reserve(size_t(nGroupsMax * Dpad * kQkLanes), "mass pass queries");
    float* K = kMem.reserve(size_t(kMassStep * Dpad), "mass pass keys");
    float* S = sMem.reserve(size_t(kMassRows * kMassStep), "mass pass scores");
    uint8_t* admit = admitMem.reserve(size_t(kMassRows * kMassStep), "mass pass mask");
    float* lse2 = lseMem.reserve(size_t(kMassRows), "mass pass lse");
    float acc[kMassChunk] = {};
    const int64_t R = G * n;
    for (int64_t r0 = 0; r0 < R; r0 += kMassRows) {
      const int nR = static_cast<int>(std::min<int64_t>(kMassRows, R - r0));
      RowInfo rows[kMassRows];
      std::fill(Q, Q + kMassRows * Dpad, 0.0f);
      bool anyRow = false;
      for (int r = 0; r < nR; ++r) {
        const int64_t idx = r0 + r, g = idx / n, i = idx % n;
        rows[r] = RowInfo{hk * G + g, i, qp[i], g};
        const float l = *lseAt(a, b, rows[r].h, i);
        lse2[r] = l * kLog2e;
        anyRow |= l != -INFINITY;
        const float* src = queryRow(a, b, rows[r].h, i);
        for (int64_t d = 0; d < D; ++d) Q[r * Dpad + d] = src[d] * qScale;
      }
      if (!anyRow) continue;
      QkGroup groups[kMassRows / 8 + 1];
      int nGroups = 0;
      for (int g0 = 0; g0 < nR; g0 += kQkLanes, ++nGroups)
        groups[nGroups] = laneQueries(Q, Dpad, g0, std::min(kQkLanes, nR - g0), D, QL + int64_t(nGroups) * Dpad * kQkLanes);
      for (int64_t s0 = c0; s0 < c1; s0 += kMassStep) {
        const int nk = static_cast<int>(std::min<int64_t>(kMassStep, c1 - s0));
        const Interval kI = keyRange(kv, b, hk, s0, s0 + nk);
        TileClass cls[kMassRows];
        bool any = false;
        for (int r = 0; r < nR; ++r) {
          cls[r] = lse2[r] == -INFINITY ? kTileEmpty : classifyBox(var, bI, point(rows[r].h), point(rows[r].qpos), kI);
          any |= cls[r] != kTileEmpty;
        }
        if (!any) continue;
        (void)admissibleRange(var, b, rows, cls, nR, kpos + s0, nk, admit, kMassStep);
        const int nkPad = static_cast<int>(roundUp(nk, kQkKeys));
        if constexpr (T == DType::F32) {
          for (int j = 0; j < nk; ++j) std::copy_n(slotK<float>(kv, b, hk, s0 + j), D, K + j * Dpad);
        } else {
          widenRows<T>(slotK<typename Storage<T>::Raw>(kv, b, hk, s0), kv.kStrideS, nk, D, K, Dpad);
        }
        for (int j = nk; j < nkPad; ++j) std::fill(K + j * Dpad, K + (j + 1) * Dpad, 0.0f);
        const auto none = [](int) { return LinePrefetch{}; };
        for (int gi = 0; gi < nGroups; ++gi) qkLanes(groups[gi], K, Dpad, D, nkPad, S, kMassStep, none);
        const int nkBlk = static_cast<int>(roundUp(nk, kKeyBlock));
        applyScoreMask(var, b, rows, cls, nR, kpos + s0, admit, kMassStep, nk, nkBlk, sScale, S, kMassStep, bias ? slotBias(a, b, hk) + s0 : nullptr);
        float* accStep = acc + (s0 - c0);
        for (int r = 0; r < nR; ++r) {
          if (cls[r] == kTileEmpty) continue;
          const float* sr = S + r * kMassStep;
          const Vec8 l2 = set8(lse2[r]);
          int j = 0;
          for (; j + 8 <= nk; j += 8) store8(accStep + j, add(load8(accStep + j), exp2(sub(load8(sr + j), l2))));
          for (; j < nk; ++j) accStep[j] += exp2Scalar(sr[j] - lse2[r]);
        }
      }
    }
    float* m = slotMass(a, b, hk) + c0;
    for (int64_t j = 0; j < c1 - c0; ++j) m[j] += acc[j];
  }
}
#else
constexpr int64_t kMassChunk = kMassTile;

// The mass of keys [s0, s1) (at most kMassTile) of (b, hk), from every row of sequence b.
template <class V, DType T>
void massUnit(const V& var, const AttnArgs& a, int64_t b, int64_t hk, int64_t s0, int64_t s1in) {
  const SlotView& kv = a.kv;
  const int64_t Hkv = kv.Hkv, G = a.Hq / Hkv, D = kv.D;
  const auto [qScale, sScale, bias, Dpad] = massScales<V>(a);
  {
    const int64_t n = a.rowCount[b], len = slotLen(kv, b, hk), s1 = std::min(len, s1in);
    if (n == 0 || s0 >= s1) return;
    const int nk = static_cast<int>(s1 - s0);
    thread_local ReusedScratch<float> keyMem, qMem;
    float* K = keyMem.reserve(size_t(kMassTile * Dpad), "mass pass keys");
    float* q = qMem.reserve(size_t(Dpad), "mass pass query");
    if constexpr (T == DType::F32) {
      for (int j = 0; j < nk; ++j) std::copy_n(slotK<float>(kv, b, hk, s0 + j), D, K + j * Dpad);
    } else {
      widenRows<T>(slotK<typename Storage<T>::Raw>(kv, b, hk, s0), kv.kStrideS, nk, D, K, Dpad);
    }
    const int32_t* kpos = slotPos(kv, b, hk) + s0;
    const float* brow = bias ? slotBias(a, b, hk) + s0 : nullptr;
    const int32_t* qp = queryPositions(a, b);
    const Interval bI = point(b), kI = keyRange(kv, b, hk, s0, s1);
    const TileClass all = classifyBox(var, bI, Interval{double(hk * G), double(hk * G + G - 1)}, queryRange(a, b, 0, n), kI);
    if (all == kTileEmpty) return;
    float acc[kMassTile] = {};
    for (int64_t g = 0; g < G; ++g) {
      const int64_t h = hk * G + g;
      for (int64_t i = 0; i < n; ++i) {
        const float lse = *lseAt(a, b, h, i);
        if (lse == -INFINITY) continue;
        const TileClass c = all == kTilePartial ? classifyBox(var, bI, point(h), point(qp[i]), kI) : all;
        if (c == kTileEmpty) continue;
        const float* src = queryRow(a, b, h, i);
        for (int64_t d = 0; d < D; ++d) q[d] = src[d] * qScale;
        const float lse2 = lse * kLog2e;
        for (int j = 0; j < nk; ++j) {
          if (V::kHasMask && c == kTilePartial && !var.mask(b, h, qp[i], kpos[j])) continue;
          float x = massDot(q, K + j * Dpad, D);
          if constexpr (V::kHasScore) {
            const float y = var.score(x * sScale, b, h, qp[i], kpos[j]);
            x = (brow ? y + brow[j] : y) * kLog2e;
          } else if (brow) {
            x += brow[j] * kLog2e;
          }
          acc[j] += exp2Scalar(x - lse2);
        }
      }
    }
    float* m = slotMass(a, b, hk) + s0;
    for (int j = 0; j < nk; ++j) m[j] += acc[j];
  }
}

#endif

// Every unit of the call: (b, hk, kMassChunk keys), in parallel; each slot written by one thread.
template <class V, DType T>
void massPass(const V& var, const AttnArgs& a) {
  const int64_t Hkv = a.kv.Hkv, nC = ceilDiv(a.kv.maxLen, kMassChunk);
  parallelFor(std::clamp(a.threads, 1, kMaxThreads), a.B * Hkv * nC, [&](int64_t u, int) {
    const int64_t bh = u / nC, c = u % nC;
    massUnit<V, T>(var, a, bh / Hkv, bh % Hkv, c * kMassChunk, (c + 1) * kMassChunk);
  });
}

// The mass of every key of (b, hk), on the calling thread (decode runs it right after the unit's
// attention, while its keys are still in cache).
template <class V, DType T>
void massHead(const V& var, const AttnArgs& a, int64_t b, int64_t hk) {
  const int64_t len = slotLen(a.kv, b, hk);
  for (int64_t c0 = 0; c0 < len; c0 += kMassChunk) massUnit<V, T>(var, a, b, hk, c0, c0 + kMassChunk);
}

}  // namespace kvf::cpu
