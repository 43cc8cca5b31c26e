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
#include <type_traits>
#include "kvforge/cpu/online_softmax.hpp"
#include "kvforge/cpu/storage_rows.hpp"
#include "kvforge/cpu/vec16.hpp"
#include "kvforge/cpu/vec8.hpp"

namespace kvf::cpu {

#if KVF_CPU_AVX512

// AVX-512: a chunk is up to 64 value columns, NV zmm vectors (1..4); at R = 6, NV = 4 that is 24
// accumulators, and per key NV loads of V and R broadcasts of p feed R * NV FMAs. Tail: the last
// vector of the chunk has fewer than 16 valid columns and is read with lane mask mt.
// VT = uint16_t: V rows are bf16 (NV = 2 or 4: one or two 32-column loads, no tail), converted
// here in the split layout of widenRowsSplit (storage_rows.hpp: per 32 columns the even ones,
// then the odd ones; two integer ops per 32 values), so decode's bf16 values need no widened tile.
template <int R, int NV, bool Tail, class VT = float>
KVF_MICROKERNEL void pvPanel16(const float* P, int64_t ldP, const BlockMode* modes, int nk, const VT* V,
                               int64_t ldV, __mmask16 mt, const float* alpha, float* O, int64_t ldO,
                               const LinePrefetch pf) {
  Vec16 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const Vec16 a = set16(alpha[r]);
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c) acc[r][c] = mul(load16(O + r * ldO + 16 * c), a);
  }
  auto loadV = [&](const VT* row, Vec16* v) {
    if constexpr (std::is_same_v<VT, uint16_t>) {
      static_assert((NV == 2 || NV == 4) && !Tail, "bf16 values: whole 32-column chunks");
      const __m512i hi = _mm512_set1_epi32(int32_t(0xFFFF0000u));
#pragma GCC unroll 2
      for (int c = 0; c < NV; c += 2) {
        const __m512i x = _mm512_loadu_si512(row + 16 * c);
        v[c] = {_mm512_castsi512_ps(_mm512_slli_epi32(x, 16))};
        v[c + 1] = {_mm512_castsi512_ps(_mm512_and_si512(x, hi))};
      }
    } else {
#pragma GCC unroll 4
      for (int c = 0; c < NV; ++c) v[c] = (Tail && c == NV - 1) ? loadN16(row + 16 * c, mt) : load16(row + 16 * c);
    }
  };
  const int nBlk = (nk + kKeyBlock - 1) / kKeyBlock;
  for (int blk = 0; blk < nBlk; ++blk) {
    const BlockMode mode = modes[blk];
    if (mode == kBlockSkip) continue;
    const int j0 = blk * kKeyBlock, j1 = j0 + kKeyBlock < nk ? j0 + kKeyBlock : nk;
    if (mode == kBlockFma) {
      for (int j = j0; j < j1; ++j) {
        prefetchStep(pf, j);
        Vec16 v[NV];
        loadV(V + j * ldV, v);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const Vec16 p = bcast16(P + r * ldP + j);
#pragma GCC unroll 4
          for (int c = 0; c < NV; ++c) acc[r][c] = fma(p, v[c], acc[r][c]);
        }
      }
    } else {
      for (int j = j0; j < j1; ++j) {
        prefetchStep(pf, j);
        Vec16 v[NV];
        loadV(V + j * ldV, v);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const Vec16 p = bcast16(P + r * ldP + j);
          const __mmask16 keep = nonZeroMask(p);  // p == 0: the product is dropped, not added
#pragma GCC unroll 4
          for (int c = 0; c < NV; ++c) acc[r][c] = {_mm512_mask3_fmadd_ps(p.v, v[c].v, acc[r][c].v, keep)};
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c) store16(O + r * ldO + 16 * c, acc[r][c]);
}

// All value columns [0, Dv) (Dv a multiple of 32) of bf16 V rows, for R <= 8 rows; O's columns
// in the split order (see pvPanel16). Panels of 32 columns, R x 2 accumulators: every value row
// is converted once per row panel, and a GQA group of 8 query heads is one panel. (Rows 6 + 2
// over 64 columns converted each V row twice and ran the last 2 rows on 8 accumulators.)
template <int R>
inline void pvRowsBf16Split(const float* P, int64_t ldP, const BlockMode* modes, int nk, const uint16_t* V, int64_t ldV,
                            int64_t Dv, const float* alpha, float* O, int64_t ldO, const LinePrefetch& pf) {
  for (int64_t c0 = 0; c0 < Dv; c0 += 32)
    pvPanel16<R, 2, false, uint16_t>(P, ldP, modes, nk, V + c0, ldV, 0, alpha, O + c0, ldO, c0 == 0 ? pf : LinePrefetch{});
}

#endif

// NV: vectors per chunk (1 or 2). Tail: the chunk has fewer than 8 * NV valid columns and is
// read with lane masks (m0, m1). O has full 8 * NV columns (scratch, padded).
template <int R, int NV, bool Tail>
KVF_MICROKERNEL void pvPanel(const float* P, int64_t ldP, const BlockMode* modes, int nk, const float* V, int64_t ldV,
                    Mask8 m0, Mask8 m1, const float* alpha, float* O, int64_t ldO, const LinePrefetch pf) {
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
        prefetchStep(pf, j);
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
        prefetchStep(pf, j);
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

// True when rows [0, n) x columns [0, cols) of V are all finite. 0 * x is 0 for finite x and
// NaN for NaN or +-Inf, so one FMA per vector accumulates the answer.
inline bool allFinite(const float* V, int64_t ldV, int n, int64_t cols) {
  const Vec8 z = zero8();
  Vec8 acc0 = zero8(), acc1 = zero8();
  const int64_t full = cols & ~int64_t(7);
  const Mask8 tail = laneMask(static_cast<int>(cols - full));
  for (int j = 0; j < n; ++j) {
    const float* row = V + j * ldV;
    int64_t c = 0;
    for (; c + 16 <= full; c += 16) {
      acc0 = fma(load8(row + c), z, acc0);
      acc1 = fma(load8(row + c + 8), z, acc1);
    }
    if (c < full) acc0 = fma(load8(row + c), z, acc0);
    if (full < cols) acc1 = fma(loadN(row + full, tail), z, acc1);
  }
  return hsum(add(acc0, acc1)) == 0.0f;
}

// A SAFE block whose values are all finite can use plain FMAs: then p == 0 contributes exactly
// 0 anyway. Checking costs about 1/6 of the block's P*V work, selection about 2x of it; masks
// with a diagonal or a window edge put one or two such blocks in every row panel.
inline void relaxSafeBlocks(BlockMode* modes, int nk, const float* V, int64_t ldV, int64_t Dv) {
  const int nBlk = (nk + kKeyBlock - 1) / kKeyBlock;
  for (int blk = 0; blk < nBlk; ++blk) {
    if (modes[blk] != kBlockSafe) continue;
    const int j0 = blk * kKeyBlock, n = nk - j0 < kKeyBlock ? nk - j0 : kKeyBlock;
    if (allFinite(V + j0 * ldV, ldV, n, Dv)) modes[blk] = kBlockFma;
  }
}

// All value columns [0, Dv) for R rows: chunks of 16, the last one possibly narrower. Value row j
// starts at V + j * ldV. The first chunk issues the prefetches pf (per key).
template <int R>
inline void pvRows(const float* P, int64_t ldP, const BlockMode* modes, int nk, const float* V, int64_t ldV, int64_t Dv,
                   const float* alpha, float* O, int64_t ldO, const LinePrefetch& pf = LinePrefetch{}) {
  const LinePrefetch none;
#if KVF_CPU_AVX512
  int64_t c0 = 0;
  for (; c0 + 64 <= Dv; c0 += 64)
    pvPanel16<R, 4, false>(P, ldP, modes, nk, V + c0, ldV, 0, alpha, O + c0, ldO, c0 == 0 ? pf : none);
  const int rest = static_cast<int>(Dv - c0);
  if (rest == 0) return;
  const int nv = (rest + 15) / 16;
  const __mmask16 mt = laneMask16(rest - 16 * (nv - 1));
  const float* Vc = V + c0;
  float* Oc = O + c0;
  if (rest % 16 == 0) {
    switch (nv) {
      case 1: pvPanel16<R, 1, false>(P, ldP, modes, nk, Vc, ldV, mt, alpha, Oc, ldO, c0 == 0 ? pf : none); break;
      case 2: pvPanel16<R, 2, false>(P, ldP, modes, nk, Vc, ldV, mt, alpha, Oc, ldO, c0 == 0 ? pf : none); break;
      default: pvPanel16<R, 3, false>(P, ldP, modes, nk, Vc, ldV, mt, alpha, Oc, ldO, c0 == 0 ? pf : none); break;
    }
  } else {
    switch (nv) {
      case 1: pvPanel16<R, 1, true>(P, ldP, modes, nk, Vc, ldV, mt, alpha, Oc, ldO, c0 == 0 ? pf : none); break;
      case 2: pvPanel16<R, 2, true>(P, ldP, modes, nk, Vc, ldV, mt, alpha, Oc, ldO, c0 == 0 ? pf : none); break;
      case 3: pvPanel16<R, 3, true>(P, ldP, modes, nk, Vc, ldV, mt, alpha, Oc, ldO, c0 == 0 ? pf : none); break;
      default: pvPanel16<R, 4, true>(P, ldP, modes, nk, Vc, ldV, mt, alpha, Oc, ldO, c0 == 0 ? pf : none); break;
    }
  }
#else
  int64_t c0 = 0;
  for (; c0 + 16 <= Dv; c0 += 16)
    pvPanel<R, 2, false>(P, ldP, modes, nk, V + c0, ldV, Mask8{}, Mask8{}, alpha, O + c0, ldO, c0 == 0 ? pf : none);
  const int rest = static_cast<int>(Dv - c0);
  if (rest == 8) {
    pvPanel<R, 1, false>(P, ldP, modes, nk, V + c0, ldV, Mask8{}, Mask8{}, alpha, O + c0, ldO, c0 == 0 ? pf : none);
  } else if (rest > 8) {
    pvPanel<R, 2, true>(P, ldP, modes, nk, V + c0, ldV, laneMask(8), laneMask(rest - 8), alpha, O + c0, ldO,
                        c0 == 0 ? pf : none);
  } else if (rest > 0) {
    pvPanel<R, 1, true>(P, ldP, modes, nk, V + c0, ldV, laneMask(rest), Mask8{}, alpha, O + c0, ldO, c0 == 0 ? pf : none);
  }
#endif
}

}  // namespace kvf::cpu
