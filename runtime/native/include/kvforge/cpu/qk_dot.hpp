// Q*K^T micro-kernels of decode, keys read straight from the caller's K (no packing).
//
// Decode does not pack K: every key is used by only G * Lq rows, so a packing pass would double
// the memory traffic that bounds decode.
//
// SIMD builds: "rows in lanes" (qkLanes*). One vector holds R rows x W consecutive dimensions
// (lane r * W + e is dimension p * W + e of row r; R * W = the vector width, W = 1, 2 or 4),
// prepared once per unit (laneQueries). Per step p a key contributes W dimensions broadcast to
// every row: one broadcast load of W floats (a plain element, pair or quad broadcast: load-port
// only, no shuffle) and one FMA that serves all R rows at once. 16 (AVX-512; 8 on AVX2) keys
// are in flight, so per p one Q load and 16 key loads feed 16 FMAs, every key row is read once
// for all the rows of its group, and the only shuffles are one transpose-reduce per 16 keys
// (about 8% of the FMAs at W = 2) that sums the W partial sums and writes S row-major.
// Summation order: W interleaved chains of D / W FMAs per score, then a pairwise sum.
//
// Scalar build: qkDot3x4, 3 query rows x 4 keys with horizontal sums (12 accumulators, 7 loads
// per 12 FMAs; written out variable by variable: with arrays GCC reloaded the query vectors).
// Q rows must be zero-padded to a multiple of 8 floats (ldQ >= roundUp(D, 8)); with Tail the last
// D % 8 floats of each key are read with a lane-masked load, never past the key row.
#pragma once
#include <cstdint>
#include <cstring>
#include "kvforge/cpu/simd.hpp"
#include "kvforge/cpu/storage_rows.hpp"
#include "kvforge/cpu/vec16.hpp"
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

#if KVF_CPU_AVX2

// ---- rows in lanes (SIMD builds) ----

constexpr int kQkLanes = KVF_CPU_AVX512 ? 16 : 8;  // vector width
constexpr int kQkKeys = KVF_CPU_AVX512 ? 16 : 8;   // keys per micro-kernel call (accumulators)

// Lanes per row for a group of n rows (1 <= n <= kQkLanes): AVX-512 packs 16/pow2(n) dimensions
// of each row (W = 1, 2 or 4; a group of one or two rows still takes 4); AVX2 keeps W = 1.
inline int laneWidthFor(int n) {
#if KVF_CPU_AVX512
  return n > 8 ? 1 : n > 4 ? 2 : 4;
#else
  (void)n;
  return 1;
#endif
}

// One group of query rows in the lane layout: QL[p * kQkLanes + r * W + e] = row r, dimension
// p * W + e, zero past D and past the group's n rows. nP = ceil(D / W) steps.
struct QkGroup {
  int r0, n, W;
  int64_t nP;
  const float* QL;  // nP * kQkLanes floats, 64-byte aligned
};

namespace qk_detail {
// Rows [r0, r0 + n) of Q into lanes at width W; lanes of rows n.. are zero. Q's columns [D, ldQ)
// must be zero (decode pads them) and ldQ >= nP * W, so a row's last incomplete W-tuple is read
// as it is, without a per-element test.
template <int W>
inline void laneQueriesW(const float* Q, int64_t ldQ, int r0, int n, int64_t nP, float* QL) {
  constexpr int kRows = kQkLanes / W;
  for (int64_t p = 0; p < nP; ++p) {
    float* dst = QL + p * kQkLanes;
    for (int r = 0; r < n; ++r)
      for (int e = 0; e < W; ++e) dst[r * W + e] = Q[(r0 + r) * ldQ + p * W + e];
    for (int i = n * W; i < kRows * W; ++i) dst[i] = 0.0f;
  }
}
}  // namespace qk_detail

// Builds group rows [r0, r0 + n) of the row-major Q (stride ldQ >= roundUp(D, 8), columns
// [D, ldQ) zero) into QL.
inline QkGroup laneQueries(const float* Q, int64_t ldQ, int r0, int n, int64_t D, float* QL) {
  const int W = laneWidthFor(n);
  const int64_t nP = (D + W - 1) / W;
  if (W == 1) qk_detail::laneQueriesW<1>(Q, ldQ, r0, n, nP, QL);
  else if (W == 2) qk_detail::laneQueriesW<2>(Q, ldQ, r0, n, nP, QL);
  else qk_detail::laneQueriesW<4>(Q, ldQ, r0, n, nP, QL);
  return QkGroup{r0, n, W, nP, QL};
}

#if KVF_CPU_AVX512

namespace qk_detail {

// W consecutive floats of a key, repeated across the 16 lanes: one broadcast load.
template <int W>
inline __m512 bcastW(const float* k) {
  if constexpr (W == 1) {
    return _mm512_set1_ps(*k);
  } else if constexpr (W == 2) {
    double x;
    std::memcpy(&x, k, sizeof x);
    return _mm512_castpd_ps(_mm512_set1_pd(x));
  } else {
    return _mm512_broadcast_f32x4(_mm_loadu_ps(k));
  }
}
// The last, incomplete W floats of a key (lane mask m of the valid ones), zeros after them: never
// reads past the row.
template <int W>
inline __m512 bcastTailW(const float* k, __mmask16 m) {
  const __m128 x = _mm512_castps512_ps128(_mm512_maskz_loadu_ps(m, k));
  if constexpr (W == 2) return _mm512_castpd_ps(_mm512_broadcastsd_pd(_mm_castps_pd(x)));
  else return _mm512_broadcast_f32x4(x);
}

// R[l] = [M0 lane l, M1 lane l, M2 lane l, M3 lane l] for 128-bit lanes l.
inline void transpose4x128(__m512& m0, __m512& m1, __m512& m2, __m512& m3) {
  const __m512 t0 = _mm512_shuffle_f32x4(m0, m1, 0x44), t1 = _mm512_shuffle_f32x4(m0, m1, 0xEE);
  const __m512 t2 = _mm512_shuffle_f32x4(m2, m3, 0x44), t3 = _mm512_shuffle_f32x4(m2, m3, 0xEE);
  m0 = _mm512_shuffle_f32x4(t0, t2, 0x88), m1 = _mm512_shuffle_f32x4(t0, t2, 0xDD);
  m2 = _mm512_shuffle_f32x4(t1, t3, 0x88), m3 = _mm512_shuffle_f32x4(t1, t3, 0xDD);
}

// Per 128-bit lane: [a0 + a1, a2 + a3, b0 + b1, b2 + b3].
inline __m512 pairSums(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x88), _mm512_shuffle_ps(a, b, 0xDD));
}

// acc[t] (key t) lanes r * W + e -> S[r][t] = sum_e, rows r < 16 / W.
template <int W>
inline void reduceStore(__m512 (&acc)[16], float* S, int64_t ldS) {
  if constexpr (W == 1) {
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm512_unpacklo_ps(acc[2 * i], acc[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(acc[2 * i], acc[2 * i + 1]);
    }
    __m512 x[4][4];  // x[q][e]: 128-bit lane l = row 4l + e, keys 4q..4q+3
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      x[q][0] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
      x[q][1] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0xEE);
      x[q][2] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
      x[q][3] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int e = 0; e < 4; ++e) {
      transpose4x128(x[0][e], x[1][e], x[2][e], x[3][e]);
#pragma GCC unroll 4
      for (int l = 0; l < 4; ++l) _mm512_storeu_ps(S + (4 * l + e) * ldS, x[l][e]);
    }
  } else if constexpr (W == 2) {
    __m512 u[8];  // 128-bit lane l: [s_2i[2l], s_2i[2l+1], s_2i+1[2l], s_2i+1[2l+1]]
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) u[i] = pairSums(acc[2 * i], acc[2 * i + 1]);
    __m512 v[2][4];  // v[par][q]: 128-bit lane l = row 2l + par, keys 4q..4q+3
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      v[0][q] = _mm512_shuffle_ps(u[2 * q], u[2 * q + 1], 0x88);
      v[1][q] = _mm512_shuffle_ps(u[2 * q], u[2 * q + 1], 0xDD);
    }
#pragma GCC unroll 2
    for (int par = 0; par < 2; ++par) {
      transpose4x128(v[par][0], v[par][1], v[par][2], v[par][3]);
#pragma GCC unroll 4
      for (int l = 0; l < 4; ++l) _mm512_storeu_ps(S + (2 * l + par) * ldS, v[par][l]);
    }
  } else {
    static_assert(W == 4, "lane widths are 1, 2 and 4");
    __m512 u[8];  // 128-bit lane l (row l): [s_2i half sums, s_2i+1 half sums]
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) u[i] = pairSums(acc[2 * i], acc[2 * i + 1]);
    __m512 w[4];  // 128-bit lane l = row l, keys 4q..4q+3
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) w[q] = pairSums(u[2 * q], u[2 * q + 1]);
    transpose4x128(w[0], w[1], w[2], w[3]);
#pragma GCC unroll 4
    for (int l = 0; l < 4; ++l) _mm512_storeu_ps(S + l * ldS, w[l]);
  }
}

}  // namespace qk_detail

// S[r][t] (rows r < 16 / W of the group, keys t < 16 at K + t * ldK) = sum_d Q[r][d] * key_t[d].
// With Tail the last step reads only the valid floats of each key (lane mask `tail`).
template <int W, bool Tail>
KVF_MICROKERNEL void qkLanes16(const float* QL, int64_t nP, const float* K, int64_t ldK, __mmask16 tail, float* S,
                               int64_t ldS, const LinePrefetch pf) {
  using namespace qk_detail;
  __m512 acc[16];
#pragma GCC unroll 16
  for (int t = 0; t < 16; ++t) acc[t] = _mm512_setzero_ps();
  // Four base pointers (keys 4i..4i+3 at base_i + {0, 1, 2, 3} * ldK): addressing modes then
  // cover all 16 keys without 16 pointer registers.
  const float* k0 = K;
  const float* k1 = K + 4 * ldK;
  const float* k2 = K + 8 * ldK;
  const float* k3 = K + 12 * ldK;
  const int64_t ld2 = 2 * ldK, ld3 = 3 * ldK;
  const int64_t pFull = Tail ? nP - 1 : nP;
  auto step = [&](const __m512 q, auto load) {
    acc[0] = _mm512_fmadd_ps(q, load(k0), acc[0]);
    acc[1] = _mm512_fmadd_ps(q, load(k0 + ldK), acc[1]);
    acc[2] = _mm512_fmadd_ps(q, load(k0 + ld2), acc[2]);
    acc[3] = _mm512_fmadd_ps(q, load(k0 + ld3), acc[3]);
    acc[4] = _mm512_fmadd_ps(q, load(k1), acc[4]);
    acc[5] = _mm512_fmadd_ps(q, load(k1 + ldK), acc[5]);
    acc[6] = _mm512_fmadd_ps(q, load(k1 + ld2), acc[6]);
    acc[7] = _mm512_fmadd_ps(q, load(k1 + ld3), acc[7]);
    acc[8] = _mm512_fmadd_ps(q, load(k2), acc[8]);
    acc[9] = _mm512_fmadd_ps(q, load(k2 + ldK), acc[9]);
    acc[10] = _mm512_fmadd_ps(q, load(k2 + ld2), acc[10]);
    acc[11] = _mm512_fmadd_ps(q, load(k2 + ld3), acc[11]);
    acc[12] = _mm512_fmadd_ps(q, load(k3), acc[12]);
    acc[13] = _mm512_fmadd_ps(q, load(k3 + ldK), acc[13]);
    acc[14] = _mm512_fmadd_ps(q, load(k3 + ld2), acc[14]);
    acc[15] = _mm512_fmadd_ps(q, load(k3 + ld3), acc[15]);
  };
  const auto full = [](const float* k) { return bcastW<W>(k); };
  for (int64_t p = 0; p < pFull; ++p) {
    prefetchStep(pf, p);
    step(_mm512_load_ps(QL + p * 16), full);
    k0 += W, k1 += W, k2 += W, k3 += W;
  }
  if constexpr (Tail) step(_mm512_load_ps(QL + pFull * 16), [tail](const float* k) { return bcastTailW<W>(k, tail); });
  reduceStore<W>(acc, S, ldS);
}

// Rows of group g against keys [0, nk) (nk a multiple of 16; key j at K + j * ldK, D floats
// each, all readable): S[g.r0 + r][j] for the group's rows. The call for keys [j, j + 16) issues
// the prefetches prefetchFor(j) returns (a LinePrefetch).
template <class PrefetchFor>
inline void qkLanes(const QkGroup& g, const float* K, int64_t ldK, int64_t D, int nk, float* S, int64_t ldS,
                    PrefetchFor&& prefetchFor) {
  const bool tail = D % g.W != 0;
  const __mmask16 tm = static_cast<__mmask16>((1u << (D - (g.nP - 1) * g.W)) - 1u);
  float* Sg = S + g.r0 * ldS;
  for (int j = 0; j < nk; j += 16) {
    const LinePrefetch pf = prefetchFor(j);
    const float* Kj = K + j * ldK;
    switch (g.W * 2 + tail) {
      case 2: qkLanes16<1, false>(g.QL, g.nP, Kj, ldK, tm, Sg + j, ldS, pf); break;
      case 4: qkLanes16<2, false>(g.QL, g.nP, Kj, ldK, tm, Sg + j, ldS, pf); break;
      case 5: qkLanes16<2, true>(g.QL, g.nP, Kj, ldK, tm, Sg + j, ldS, pf); break;
      case 8: qkLanes16<4, false>(g.QL, g.nP, Kj, ldK, tm, Sg + j, ldS, pf); break;
      default: qkLanes16<4, true>(g.QL, g.nP, Kj, ldK, tm, Sg + j, ldS, pf); break;
    }
  }
}

#else  // AVX2: 8 lanes = 8 rows (W = 1), 8 keys per call

// S[r][t] for r < 8, t < 8 (keys at K + t * ldK).
KVF_MICROKERNEL inline void qkLanes8(const float* QL, int64_t nP, const float* K, int64_t ldK, float* S, int64_t ldS,
                                     const LinePrefetch pf) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  const float* k0 = K;
  const float* k1 = K + 4 * ldK;
  const int64_t ld2 = 2 * ldK, ld3 = 3 * ldK;
  for (int64_t p = 0; p < nP; ++p, ++k0, ++k1) {
    prefetchStep(pf, p);
    const __m256 q = _mm256_load_ps(QL + p * 8);
    a0 = _mm256_fmadd_ps(q, _mm256_broadcast_ss(k0), a0);
    a1 = _mm256_fmadd_ps(q, _mm256_broadcast_ss(k0 + ldK), a1);
    a2 = _mm256_fmadd_ps(q, _mm256_broadcast_ss(k0 + ld2), a2);
    a3 = _mm256_fmadd_ps(q, _mm256_broadcast_ss(k0 + ld3), a3);
    a4 = _mm256_fmadd_ps(q, _mm256_broadcast_ss(k1), a4);
    a5 = _mm256_fmadd_ps(q, _mm256_broadcast_ss(k1 + ldK), a5);
    a6 = _mm256_fmadd_ps(q, _mm256_broadcast_ss(k1 + ld2), a6);
    a7 = _mm256_fmadd_ps(q, _mm256_broadcast_ss(k1 + ld3), a7);
  }
  // 8 x 8 transpose: a_t lane r -> row r, column t.
  const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
  const __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
  const __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
  const __m256 t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(S, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(S + ldS, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(S + 2 * ldS, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(S + 3 * ldS, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(S + 4 * ldS, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(S + 5 * ldS, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(S + 6 * ldS, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(S + 7 * ldS, _mm256_permute2f128_ps(u3, u7, 0x31));
}

template <class PrefetchFor>
inline void qkLanes(const QkGroup& g, const float* K, int64_t ldK, int64_t D, int nk, float* S, int64_t ldS,
                    PrefetchFor&& prefetchFor) {
  (void)D;
  float* Sg = S + g.r0 * ldS;
  for (int j = 0; j < nk; j += 8) qkLanes8(g.QL, g.nP, K + j * ldK, ldK, Sg + j, ldS, prefetchFor(j));
}

#endif
#endif  // KVF_CPU_AVX2

}  // namespace kvf::cpu
