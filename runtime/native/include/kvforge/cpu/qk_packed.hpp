// Q*K^T micro-kernel of the prefill: R query rows (R <= 6) x 16 packed keys.
//
// Register blocking: 2 x R accumulators (12 ymm at R = 6) stay in registers for the whole D
// loop; per d it loads one 16-key row of the panel (2 vectors) and broadcasts R query values, so
// 12 FMAs cost 8 loads. The key panel layout [D][16] (pack_keys.hpp) makes those loads
// contiguous; packing once per call is what lets this loop run near the FMA limit.
//
// Accumulation: each score is one chain of D fused multiply-adds in f32 (the order of a plain
// loop over d); different scores are independent, which is where the parallelism comes from.
#pragma once
#include <cstdint>
#include "kvforge/cpu/vec16.hpp"
#include "kvforge/cpu/vec8.hpp"

namespace kvf::cpu {

#if KVF_CPU_AVX512

// AVX-512: one panel row of 16 keys is one zmm. qkPanel2 takes two consecutive panels (32 keys,
// 2 x R accumulators = 12 zmm at R = 6; per d 2 loads + R broadcasts feed 2R FMAs), qkPanel one.

// S[r][0..16) = sum_d Q[r][d] * panel[d][0..16) for r < R. Q rows have stride ldQ.
template <int R>
KVF_MICROKERNEL void qkPanel(const float* Q, int64_t ldQ, const float* panel, int64_t D, float* S, int64_t ldS) {
  Vec16 acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = zero16();
  for (int64_t d = 0; d < D; ++d) {
    const Vec16 k0 = load16(panel + d * 16);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r] = fma(bcast16(Q + r * ldQ + d), k0, acc[r]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) store16(S + r * ldS, acc[r]);
}

// S[r][0..32) from panels p0 (keys 0..16) and p0 + 16 * D (keys 16..32).
template <int R>
KVF_MICROKERNEL void qkPanel2(const float* Q, int64_t ldQ, const float* p0, int64_t D, float* S, int64_t ldS) {
  const float* p1 = p0 + 16 * D;
  Vec16 acc[R][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = zero16();
  for (int64_t d = 0; d < D; ++d) {
    const Vec16 k0 = load16(p0 + d * 16), k1 = load16(p1 + d * 16);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Vec16 q = bcast16(Q + r * ldQ + d);
      acc[r][0] = fma(q, k0, acc[r][0]);
      acc[r][1] = fma(q, k1, acc[r][1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    store16(S + r * ldS, acc[r][0]);
    store16(S + r * ldS + 16, acc[r][1]);
  }
}

// Blocks [0, nBlk) of consecutive panels into S (block blk at column 16 * blk).
template <int R>
inline void qkBlocks(const float* Q, int64_t ldQ, const float* panels, int64_t D, int nBlk, float* S, int64_t ldS) {
  int blk = 0;
  for (; blk + 2 <= nBlk; blk += 2) qkPanel2<R>(Q, ldQ, panels + blk * 16 * D, D, S + blk * 16, ldS);
  if (blk < nBlk) qkPanel<R>(Q, ldQ, panels + blk * 16 * D, D, S + blk * 16, ldS);
}

#else

// S[r][0..16) = sum_d Q[r][d] * panel[d][0..16) for r < R. Q rows have stride ldQ.
template <int R>
KVF_MICROKERNEL void qkPanel(const float* Q, int64_t ldQ, const float* panel, int64_t D, float* S, int64_t ldS) {
  Vec8 acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = zero8();
  for (int64_t d = 0; d < D; ++d) {
    const Vec8 k0 = load8(panel + d * 16), k1 = load8(panel + d * 16 + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const Vec8 q = bcast8(Q + r * ldQ + d);
      acc[r][0] = fma(q, k0, acc[r][0]);
      acc[r][1] = fma(q, k1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    store8(S + r * ldS, acc[r][0]);
    store8(S + r * ldS + 8, acc[r][1]);
  }
}

template <int R>
inline void qkBlocks(const float* Q, int64_t ldQ, const float* panels, int64_t D, int nBlk, float* S, int64_t ldS) {
  for (int blk = 0; blk < nBlk; ++blk) qkPanel<R>(Q, ldQ, panels + blk * 16 * D, D, S + blk * 16, ldS);
}

#endif

}  // namespace kvf::cpu
