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
#include "kvforge/cpu/vec8.hpp"

namespace kvf::cpu {

// S[r][0..16) = sum_d Q[r][d] * panel[d][0..16) for r < R. Q rows have stride ldQ.
template <int R>
inline void qkPanel(const float* Q, int64_t ldQ, const float* panel, int64_t D, float* S, int64_t ldS) {
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

}  // namespace kvf::cpu
