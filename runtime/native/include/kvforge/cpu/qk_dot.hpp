// Q*K^T micro-kernel of decode: 3 query rows x 4 keys read straight from the caller's K.
//
// Decode does not pack K: every key is used by only G * Lq rows, so a packing pass would double
// the memory traffic that bounds decode. Instead each key row is read once per 3 query rows and
// reduced horizontally: 12 accumulators (3 x 4 vectors over d), 7 loads per 12 FMAs, then one
// 4-way horizontal sum per row.
//
// Q rows must be zero-padded to a multiple of 8 floats (ldQ >= roundUp(D, 8)); the K tail is read
// with a lane-masked load, never past the key row.
#pragma once
#include <cstdint>
#include "kvforge/cpu/vec8.hpp"

namespace kvf::cpu {

// S[r][j] = sum_d Q[r][d] * K[j][d] for r < 3, j < 4; key j's row starts at keys[j].
inline void qkDot3x4(const float* Q, int64_t ldQ, const float* const keys[4], int64_t D, Mask8 tail,
                     float* S, int64_t ldS) {
  Vec8 acc[3][4];
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < 4; ++j) acc[r][j] = zero8();
  const int64_t dFull = D & ~int64_t(7);
  for (int64_t d = 0; d < dFull; d += 8) {
    const Vec8 q0 = load8(Q + d), q1 = load8(Q + ldQ + d), q2 = load8(Q + 2 * ldQ + d);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const Vec8 k = load8(keys[j] + d);
      acc[0][j] = fma(q0, k, acc[0][j]);
      acc[1][j] = fma(q1, k, acc[1][j]);
      acc[2][j] = fma(q2, k, acc[2][j]);
    }
  }
  if (dFull < D) {
    const Vec8 q0 = load8(Q + dFull), q1 = load8(Q + ldQ + dFull), q2 = load8(Q + 2 * ldQ + dFull);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const Vec8 k = loadN(keys[j] + dFull, tail);
      acc[0][j] = fma(q0, k, acc[0][j]);
      acc[1][j] = fma(q1, k, acc[1][j]);
      acc[2][j] = fma(q2, k, acc[2][j]);
    }
  }
  for (int r = 0; r < 3; ++r) hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3], S + r * ldS);
}

}  // namespace kvf::cpu
