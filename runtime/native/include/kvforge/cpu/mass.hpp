// The attention-mass output of AttnArgs v3 (attn_args.hpp): per key slot, the sum of the
// probabilities it received over the call's query rows and the query heads of its KV group,
//   mass[b, hk, s] += sum_{g, i} exp(score(b, g, i, s) + bias(s) - lse(b, g, i))   (admissible s),
// in the fixed order heads g, then rows i, so the result does not depend on the thread count.
//
// Why a second pass and not a fused accumulator: a slot's probability needs its row's FINAL
// max and sum, which the online softmax only knows after the last key; a one-pass accumulator
// would have to keep each row's partial probabilities per slot, i.e. the probability matrix. So
// after the forward has written lse, this pass reads the keys once more (not the values),
// recomputes the scores of every (row, slot) of each key tile and sums exp(s - lse) per slot.
// No probability or score matrix is ever held: a tile's sums live in 64 floats on the stack.
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

template <class V, DType T>
void massPass(const V& var, const AttnArgs& a) {
  const SlotView& kv = a.kv;
  const int64_t Hkv = kv.Hkv, G = a.Hq / Hkv, D = kv.D, nT = ceilDiv(kv.maxLen, kMassTile);
  const int threads = std::clamp(a.threads, 1, kMaxThreads);
  // Without a score function scale * log2(e) is folded into q, as the forward does.
  const float qScale = V::kHasScore ? 1.0f : static_cast<float>(a.scale) * kLog2e;
  const float sScale = static_cast<float>(a.scale);
  const float* bias = biasOf(a);
  const int64_t Dpad = roundUp(D, 8);
  parallelFor(threads, a.B * Hkv * nT, [&](int64_t u, int) {
    const int64_t bh = u / nT, t = u % nT, b = bh / Hkv, hk = bh % Hkv;
    const int64_t n = a.rowCount[b], len = slotLen(kv, b, hk), s0 = t * kMassTile, s1 = std::min(len, s0 + kMassTile);
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
  });
}

}  // namespace kvf::cpu
