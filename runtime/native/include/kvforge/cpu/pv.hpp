// P*V micro-kernel: O[r] = alpha[r] * O[r] + sum_j p[r][j] * V[j], R rows (R <= 6) x one chunk
// of up to 16 value columns, V read straight from the caller's [Lk, Dv] rows (no packing needed:
// a chunk of one value row is already contiguous).
//
// Register blocking: R x NV accumulators (12 ymm at R = 6, NV = 2) live across all keys of the
// block range; per key, NV loads of V and R broadcasts of p feed R * NV FMAs.
// Per 16-key block the mode (online_softmax.hpp) picks plain FMAs, skipping, or the safe form
// that drops p == 0 products by selection, so a NaN/Inf value of a masked (or underflowed) key
// never reaches O. Blocks are visited in order, so results do not depend on the modes.
#pragma once
#include <cstdint>
#include "kvforge/cpu/online_softmax.hpp"
#include "kvforge/cpu/vec8.hpp"

namespace kvf::cpu {

// NV: vectors per chunk (1 or 2). Tail: the chunk has fewer than 8 * NV valid columns and is
// read with lane masks (m0, m1). O has full 8 * NV columns (scratch, padded).
template <int R, int NV, bool Tail>
inline void pvPanel(const float* P, int64_t ldP, const BlockMode* modes, int nk, const float* V, int64_t ldV,
                    Mask8 m0, Mask8 m1, const float* alpha, float* O, int64_t ldO) {
  Vec8 acc[R][NV];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    const Vec8 a = set8(alpha[r]);
    for (int c = 0; c < NV; ++c) acc[r][c] = mul(load8(O + r * ldO + 8 * c), a);
  }
  auto loadV = [&](const float* row, Vec8* v) {
    if constexpr (Tail) {
      v[0] = loadN(row, m0);
      if constexpr (NV == 2) v[1] = loadN(row + 8, m1);
    } else {
      v[0] = load8(row);
      if constexpr (NV == 2) v[1] = load8(row + 8);
    }
  };
  const int nBlk = (nk + kKeyBlock - 1) / kKeyBlock;
  for (int blk = 0; blk < nBlk; ++blk) {
    const BlockMode mode = modes[blk];
    if (mode == kBlockSkip) continue;
    const int j0 = blk * kKeyBlock, j1 = j0 + kKeyBlock < nk ? j0 + kKeyBlock : nk;
    if (mode == kBlockFma) {
      for (int j = j0; j < j1; ++j) {
        Vec8 v[NV];
        loadV(V + j * ldV, v);
#pragma GCC unroll 6
        for (int r = 0; r < R; ++r) {
          const Vec8 p = bcast8(P + r * ldP + j);
          for (int c = 0; c < NV; ++c) acc[r][c] = fma(p, v[c], acc[r][c]);
        }
      }
    } else {
      for (int j = j0; j < j1; ++j) {
        Vec8 v[NV];
        loadV(V + j * ldV, v);
#pragma GCC unroll 6
        for (int r = 0; r < R; ++r) {
          const Vec8 p = bcast8(P + r * ldP + j);
          for (int c = 0; c < NV; ++c) acc[r][c] = add(acc[r][c], keepNonZero(p, mul(p, v[c])));
        }
      }
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NV; ++c) store8(O + r * ldO + 8 * c, acc[r][c]);
}

// All value columns for R rows: chunks of 16, the last one possibly narrower.
template <int R>
inline void pvRows(const float* P, int64_t ldP, const BlockMode* modes, int nk, const float* V, int64_t Dv,
                   const float* alpha, float* O, int64_t ldO) {
  int64_t c0 = 0;
  for (; c0 + 16 <= Dv; c0 += 16)
    pvPanel<R, 2, false>(P, ldP, modes, nk, V + c0, Dv, Mask8{}, Mask8{}, alpha, O + c0, ldO);
  const int rest = static_cast<int>(Dv - c0);
  if (rest == 8) {
    pvPanel<R, 1, false>(P, ldP, modes, nk, V + c0, Dv, Mask8{}, Mask8{}, alpha, O + c0, ldO);
  } else if (rest > 8) {
    pvPanel<R, 2, true>(P, ldP, modes, nk, V + c0, Dv, laneMask(8), laneMask(rest - 8), alpha, O + c0, ldO);
  } else if (rest > 0) {
    pvPanel<R, 1, true>(P, ldP, modes, nk, V + c0, Dv, laneMask(rest), Mask8{}, alpha, O + c0, ldO);
  }
}

}  // namespace kvf::cpu
