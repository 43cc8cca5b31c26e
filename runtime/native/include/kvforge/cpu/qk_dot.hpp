// Q*K^T micro-kernel of decode: 3 query rows x 4 keys read straight from the caller's K.
//
// Decode does not pack K: every key is used by only G * Lq rows, so a packing pass would double
// the memory traffic that bounds decode. Instead each key row is read once per 3 query rows and
// the 12 dot products are reduced horizontally at the end: 12 accumulators, 7 loads per 12
// FMAs. Written out variable by variable: with arrays and loops GCC has been seen reloading the
// query vectors for every FMA (24 loads per 12 FMAs, 20% slower decode).
//
// Q rows must be zero-padded to a multiple of 8 floats (ldQ >= roundUp(D, 8)); with Tail the last
// D % 8 floats of each key are read with a lane-masked load, never past the key row.
#pragma once
#include <cstdint>
#include "kvforge/cpu/simd.hpp"
#include "kvforge/cpu/vec8.hpp"

namespace kvf::cpu {

constexpr int kDotRows = 3, kDotKeys = 4;

// S[r][t] = sum_d Q[r][d] * key_t[d] for r < 3, t < 4 (S rows have stride ldS, 4 floats each).
template <bool Tail>
KVF_MICROKERNEL void qkDot3x4(const float* Q, int64_t ldQ, const float* k0, const float* k1, const float* k2,
                              const float* k3, int64_t D, Mask8 tail, float* S, int64_t ldS) {
  const float* q0p = Q;
  const float* q1p = Q + ldQ;
  const float* q2p = Q + 2 * ldQ;
  Vec8 a00 = zero8(), a01 = zero8(), a02 = zero8(), a03 = zero8();
  Vec8 a10 = zero8(), a11 = zero8(), a12 = zero8(), a13 = zero8();
  Vec8 a20 = zero8(), a21 = zero8(), a22 = zero8(), a23 = zero8();
  const int64_t dFull = Tail ? (D & ~int64_t(7)) : D;
  auto step = [&](int64_t d, Vec8 x0, Vec8 x1, Vec8 x2, Vec8 x3) {
    const Vec8 q0 = load8(q0p + d), q1 = load8(q1p + d), q2 = load8(q2p + d);
    a00 = fma(q0, x0, a00), a10 = fma(q1, x0, a10), a20 = fma(q2, x0, a20);
    a01 = fma(q0, x1, a01), a11 = fma(q1, x1, a11), a21 = fma(q2, x1, a21);
    a02 = fma(q0, x2, a02), a12 = fma(q1, x2, a12), a22 = fma(q2, x2, a22);
    a03 = fma(q0, x3, a03), a13 = fma(q1, x3, a13), a23 = fma(q2, x3, a23);
  };
  for (int64_t d = 0; d < dFull; d += 8) step(d, load8(k0 + d), load8(k1 + d), load8(k2 + d), load8(k3 + d));
  if constexpr (Tail) step(dFull, loadN(k0 + dFull, tail), loadN(k1 + dFull, tail), loadN(k2 + dFull, tail), loadN(k3 + dFull, tail));
  hsum4(a00, a01, a02, a03, S);
  hsum4(a10, a11, a12, a13, S + ldS);
  hsum4(a20, a21, a22, a23, S + 2 * ldS);
}

// All keys [0, nk) of a step (key j at K + j * ldK, D values) for rows [0, rowsPadded) (a multiple of 3). Keys of the last,
// incomplete group are read from zeroRow; S needs roundUp(nk, 4) columns.
template <bool Tail>
inline void qkDotAll(const float* Q, int64_t ldQ, int64_t rowsPadded, const float* K, int64_t ldK, int64_t D, int nk,
                     const float* zeroRow, Mask8 tail, float* S, int64_t ldS) {
  for (int j = 0; j < nk; j += kDotKeys) {
    const float* k[kDotKeys];
    for (int t = 0; t < kDotKeys; ++t) k[t] = j + t < nk ? K + (j + t) * ldK : zeroRow;
    for (int64_t r = 0; r < rowsPadded; r += kDotRows)
      qkDot3x4<Tail>(Q + r * ldQ, ldQ, k[0], k[1], k[2], k[3], D, tail, S + r * ldS + j, ldS);
  }
}

}  // namespace kvf::cpu
