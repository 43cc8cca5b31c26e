// Decode forward (few query rows per sequence, at most kDecodeMaxLq): bound by reading K and V
// once, in place, from the cache's slots (attn_args.hpp, slot_view.hpp).
//
// Schedule, and why:
// - No packing: each key serves only G * rows rows, and a packing pass would double the DRAM
//   traffic. K and V rows are streamed from the slots (f16/bf16 rows are widened per step into an
//   L1-resident f32 tile, storage_rows.hpp).
// - Work unit = (b, kv head, key chunk) with ALL G * Lq rows of that kv head, so every K/V row
//   read from memory is used by all the query heads that share it.
// - Tile classes come from the Variant's classify() (classify.hpp): once per key tile for the box
//   of all rows of the unit, and per row only when that box is PARTIAL.
// - When B * Hkv is too small to keep every thread busy (< 2 x threads), the key axis is split
//   into chunks along key-tile boundaries; each chunk leaves an unnormalised (O, m, l) per row and
//   a merge pass combines them exactly (log-sum-exp merge).
// - Keys are processed in steps of kDecodeStep so the step's K and V rows stay in L1 between
//   Q*K^T and P*V; in PARTIAL tiles the mask is evaluated first and only the blocks of a step
//   between the first and last admissible key are read at all.
// - Q*K^T (SIMD builds) keeps all rows of the unit in the vector lanes (qk_dot.hpp: 8 rows x 2
//   dimensions per zmm at G = 8), so each key row is read once from L1 for all of them and one
//   broadcast load feeds one FMA; P*V uses pv.hpp's register-blocked panels.
// - While a step computes, the K/V rows kPrefetchSteps ahead are requested into L2, a few lines
//   per micro-kernel iteration: the hardware prefetchers alone leave DRAM idle during compute.
// - bf16 rows are widened in the split layout (storage_rows.hpp: two integer ops per 2 x lanes
//   values); Q's columns are permuted to match and O's are put back once per unit. On AVX-512
//   with Dv a multiple of 64, bf16 V rows are not widened: P*V converts them in registers into
//   the same layout (pvRowsBf16Split, pv.hpp), in panels of 8 rows x 32 columns. Measured side by side (bf16, shared machine,
//   medians of 3-4 runs): L2-resident 0.152 -> 0.115 ms, B=1 DRAM share 0.41 -> 0.47, B=16
//   0.46 -> 0.48 (second window 0.40 -> 0.48); the widened V tile, with the widened K tile and
//   the step's raw rows, was ~54 KB against a 48 KB L1d, and its stores cost more than the
//   extra conversion ops of a second row panel.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>
#include "kvforge/attn_args.hpp"
#include "kvforge/cpu/classify.hpp"
#include "kvforge/cpu/storage_rows.hpp"
#include "kvforge/cpu/dispatch_rows.hpp"
#include "kvforge/cpu/mass.hpp"
#include "kvforge/cpu/mass_tape.hpp"
#include "kvforge/cpu/online_softmax.hpp"
#include "kvforge/cpu/pv.hpp"
#include "kvforge/cpu/qk_dot.hpp"
#include "kvforge/cpu/scratch.hpp"
#include "kvforge/cpu/score_mask.hpp"
#include "kvforge/cpu/thread_pool.hpp"
#include "kvforge/cpu/tile_map.hpp"

namespace kvf::cpu {

// At most this many query rows per head take this path: measured at G = 8, Lk = 4096, decode
// beats packing K up to Lq = 8 and loses from Lq = 16.
constexpr int64_t kDecodeMaxLq = 8;
constexpr int kDecodeStep = 64;      // keys per Q*K^T -> softmax -> P*V step
// Steps ahead that K/V are prefetched to L2 (measured on the reference case: 1, 2 and 4 within
// noise of each other; requests issued in one burst per step overlapped nothing).
constexpr int kPrefetchSteps = 1;
// Key chunks per (b, kv head) at most: the split aims at 4 units per thread, so this bounds
// threads * 4 (kMaxThreads = 256 -> 1024).
constexpr int64_t kMaxDecodeChunks = 1024;

// Q*K^T of SIMD builds: rows in lanes (qk_dot.hpp), groups of up to kGroupRows rows, keys in
// calls of kGroupKeys. Scalar builds: qkDot3x4 on row triples.
#ifndef KVF_DECODE_LANES
#define KVF_DECODE_LANES KVF_CPU_AVX2
#endif
#if KVF_DECODE_LANES
constexpr bool kSimdQk = true;
constexpr int kGroupRows = kQkLanes, kGroupKeys = kQkKeys;
#else
constexpr bool kSimdQk = false;
constexpr int kGroupRows = kDotRows, kGroupKeys = kDotKeys;
#endif

// The rows of one (sequence, kv head): row r is query row r % n of query head hk * G + r / n,
// n = rowCount[b] (at most maxRows).
struct DecodeShape {
  int64_t G, Rmax, Rpad, Dpad, ldO, nKt, nChunks, tilesPerChunk;

  static DecodeShape of(const AttnArgs& a, int64_t tileK, int threads) {
    DecodeShape s;
    s.G = a.Hq / a.kv.Hkv;
    s.Rmax = s.G * a.maxRows;
    // Padding rows of Q are zero, their scores ignored; the lane kernels write whole groups.
    s.Rpad = roundUp(s.Rmax, kGroupRows);
    s.Dpad = roundUp(a.kv.D, 8);
    s.ldO = roundUp(a.kv.Dv, 16);
    s.nKt = ceilDiv(a.kv.maxLen, tileK);
    const int64_t BH = a.B * a.kv.Hkv;
    // Split the keys only when there are too few (b, kv head) pairs to feed the threads; aim
    // for about 4 units per thread so the last one to finish does not hold up the others.
    const int64_t want = BH < 2 * threads ? ceilDiv(4 * threads, BH) : 1;
    s.nChunks = std::clamp<int64_t>(want, 1, std::max<int64_t>(s.nKt, 1));
    s.tilesPerChunk = std::max<int64_t>(ceilDiv(s.nKt, s.nChunks), 1);
    s.nChunks = std::max<int64_t>(ceilDiv(s.nKt, s.tilesPerChunk), 1);
    return s;
  }
};

struct DecodeScratch {
  Scratch<float> q, ql, s, o, kf, vf;
  Scratch<float> m, l, alpha;
  Scratch<uint32_t> zb;
  Scratch<TileClass> cls;
  Scratch<RowInfo> rows;
  Scratch<BlockMode> modes;
  Scratch<uint8_t> admit;  // R x kDecodeStep mask results of PARTIAL rows
#if KVF_DECODE_LANES
  Scratch<QkGroup> groups;
#endif

  DecodeScratch(const DecodeShape& sh, int64_t D, bool widen)
      : q(sh.Rpad * sh.Dpad, "query rows"),
        ql(kSimdQk ? ceilDiv(sh.Rmax, kGroupRows) * D * kGroupRows : 0, "query rows"),
        s(sh.Rpad * kDecodeStep, "scores"),
        o(sh.Rmax * sh.ldO, "output accumulators"),
        // Widened keys, or (f32) the copy of a step's last incomplete key group.
        kf(kDecodeStep * sh.Dpad, "widened keys"),
        vf(widen ? kDecodeStep * sh.ldO : 0, "widened values"),
        m(sh.Rmax, "softmax state"),
        l(sh.Rmax, "softmax state"),
        alpha(sh.Rmax, "softmax state"),
        zb(sh.Rpad * (kDecodeStep / kKeyBlock), "probability bits"),
        cls(sh.Rmax, "tile classes"),
        rows(sh.Rmax, "row descriptors"),
        modes(kDecodeStep / kKeyBlock, "block modes"),
        admit(sh.Rmax * kDecodeStep, "mask results")
#if KVF_DECODE_LANES
        , groups(ceilDiv(sh.Rmax, kGroupRows), "query row groups")
#endif
  {}
};

// The DecodeScratch of the calling thread, kept across calls: every size above is monotone in
// (Rmax, Rpad, Dpad, ldO, D, widen), so one built for the largest of each serves every smaller
// shape (the strides come from the call's DecodeShape, not from the scratch).
struct DecodeScratchSize {
  int64_t Rmax = 0, Rpad = 0, Dpad = 0, ldO = 0, D = 0;
  bool widen = false;
  bool covers(const DecodeScratchSize& o) const {
    return Rmax >= o.Rmax && Rpad >= o.Rpad && Dpad >= o.Dpad && ldO >= o.ldO && D >= o.D && (widen || !o.widen);
  }
};

inline DecodeScratch& threadDecodeScratch(const DecodeShape& sh, int64_t D, bool widen) {
  thread_local std::unique_ptr<DecodeScratch> ws;
  thread_local DecodeScratchSize have;
  const DecodeScratchSize need{sh.Rmax, sh.Rpad, sh.Dpad, sh.ldO, D, widen};
  if (!ws || !have.covers(need)) {
    const DecodeScratchSize grown{std::max(have.Rmax, need.Rmax), std::max(have.Rpad, need.Rpad), std::max(have.Dpad, need.Dpad),
                                  std::max(have.ldO, need.ldO), std::max(have.D, need.D), have.widen || need.widen};
    DecodeShape big = sh;
    big.Rmax = grown.Rmax, big.Rpad = grown.Rpad, big.Dpad = grown.Dpad, big.ldO = grown.ldO;
    ws.reset();  // the old one first: peak memory is one scratch, not two
    ws = std::make_unique<DecodeScratch>(big, grown.D, grown.widen);
    have = grown;
  }
  return *ws;
}

// Classes of the R rows of (b, hk) for key slots [s0, s1): one classify() of the box of all rows,
// then one per row only when that box is PARTIAL. Returns whether any row is non-EMPTY.
template <class V>
bool decodeClasses(const V& var, const SlotView& kv, int64_t b, int64_t hk, int64_t s0, int64_t s1, const RowInfo* rows,
                   int64_t R, Interval hBox, Interval qBox, TileClass* cls) {
  const Interval bI = point(b), kI = keyRange(kv, b, hk, s0, s1);
  const TileClass all = classifyBox(var, bI, hBox, qBox, kI);
  if (all != kTilePartial || !V::kHasMask) {
    for (int64_t r = 0; r < R; ++r) cls[r] = all;
    return all != kTileEmpty;
  }
  bool any = false;
  for (int64_t r = 0; r < R; ++r) {
    cls[r] = classifyBox(var, bI, point(rows[r].h), point(rows[r].qpos), kI);
    any |= cls[r] != kTileEmpty;
  }
  return any;
}

// L2 prefetch of the bytes [p, p + bytes), one request per 64-byte line (prefetchL2,
// storage_rows.hpp), and of rows [0, n) of a slot array (stride and row length in bytes).
inline void prefetchBytes(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  const char* end = c + bytes;
  for (c = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(c) & ~uintptr_t(63)); c < end; c += 64)
    prefetchL2(c);
}
inline void prefetchRows(const void* p, int64_t stride, int64_t rowBytes, int64_t n) {
  if (n <= 0) return;
  if (stride == rowBytes) return prefetchBytes(p, n * rowBytes);
  for (int64_t j = 0; j < n; ++j) prefetchBytes(static_cast<const char*>(p) + j * stride, rowBytes);
}

// One unit: the R rows of (b, hk) against key tiles [kt0, kt1). Leaves O (unnormalised), m, l,
// and (tape non-null) every step's probabilities for the attention mass (mass_tape.hpp).
template <class V, DType T>
void decodeUnit(const V& var, const AttnArgs& a, int64_t tileK, const DecodeShape& sh, int64_t b, int64_t hk,
                int64_t kt0, int64_t kt1, const float* zeroRow, DecodeScratch& ws, MassTape* tape) {
  const SlotView& kv = a.kv;
  const int64_t D = kv.D, Dv = kv.Dv, n = a.rowCount[b], R = sh.G * n, ldQ = sh.Dpad, ldS = kDecodeStep;
  const float qScale = V::kHasScore ? 1.0f : static_cast<float>(a.scale) * kLog2e;
  const float sScale = static_cast<float>(a.scale);
  constexpr bool kSplit = T == DType::BF16 && kSplitChunk > 0;  // storage_rows.hpp: widenRowsSplit
  RowInfo* rows = ws.rows.data();
  float* Q = ws.q.data();
  const int64_t Rpad = roundUp(R, kGroupRows);
  std::fill(Q, Q + Rpad * ldQ, 0.0f);
  const int32_t* qp = queryPositions(a, b);
  for (int64_t r = 0; r < R; ++r) {
    const int64_t g = r / n, i = r % n;
    rows[r] = RowInfo{hk * sh.G + g, i, qp[i], g};
    const float* src = queryRow(a, b, rows[r].h, i);
    for (int64_t d = 0; d < D; ++d) Q[r * ldQ + d] = src[kSplit ? splitSource(d, D) : d] * qScale;
  }
#if KVF_DECODE_LANES
  QkGroup* groups = ws.groups.data();
  int nGroups = 0;
  for (int r0 = 0; r0 < R; r0 += kGroupRows, ++nGroups)
    groups[nGroups] = laneQueries(Q, ldQ, r0, static_cast<int>(std::min<int64_t>(kGroupRows, R - r0)), D,
                                  ws.ql.data() + int64_t(nGroups) * D * kGroupRows);
#endif
  float* O = ws.o.data();
  std::fill(O, O + R * sh.ldO, 0.0f);
  std::fill(ws.m.data(), ws.m.data() + R, -INFINITY);
  std::fill(ws.l.data(), ws.l.data() + R, 0.0f);

  const int64_t len = slotLen(kv, b, hk);
  kt1 = std::min(kt1, ceilDiv(len, tileK));
  if (kt0 >= kt1) return;
  const Interval hBox{double(hk * sh.G), double(hk * sh.G + sh.G - 1)};
  const Interval qBox = queryRange(a, b, 0, n);
  const int32_t* kpos = slotPos(kv, b, hk);
  const float* biasRow = biasOf(a) ? slotBias(a, b, hk) : nullptr;
#if !KVF_DECODE_LANES
  const Mask8 dTail = laneMask(static_cast<int>(D & 7));
#else
  (void)zeroRow;
#endif
  const int nR = static_cast<int>(R);
  // bf16 values are converted inside P*V (pvRowsBf16Split) when Dv is whole 64-column chunks:
  // no widened V tile, which with the widened K tile and the step's raw rows overflowed L1.
  bool vRaw = false;
#if KVF_CPU_AVX512 && KVF_DECODE_LANES
  vRaw = kSplit && Dv % 32 == 0;
#endif
  for (int64_t kt = kt0; kt < kt1; ++kt) {
    const int64_t tileStart = kt * tileK, tileEnd = std::min(len, tileStart + tileK);
    if (!decodeClasses(var, kv, b, hk, tileStart, tileEnd, rows, R, hBox, qBox, ws.cls.data())) continue;
    for (int64_t s0 = tileStart; s0 < tileEnd; s0 += kDecodeStep) {
      const int nStep = static_cast<int>(std::min<int64_t>(kDecodeStep, tileEnd - s0));
      const KeyRange kr = admissibleRange(var, b, rows, ws.cls.data(), nR, kpos + s0, nStep, ws.admit.data(), kDecodeStep);
      if (kr.empty()) continue;
      const int64_t k0 = s0 + kr.lo;  // keys [k0, k0 + nk) are all this step computes
      const int nk = kr.hi - kr.lo;
      // Prefetch (L2) of the keys kPrefetchSteps steps ahead: without it the DRAM transfers of
      // a step and its compute do not overlap (f32, one thread: 1.21 -> 0.93 ms per call).
      using Raw = typename Storage<T>::Raw;
      const int64_t pf0 = k0 + kPrefetchSteps * kDecodeStep;
      const int64_t ldKb = kv.kStrideS * int64_t(sizeof(Raw)), ldVb = kv.vStrideS * int64_t(sizeof(Raw));
      const int64_t rowK = D * int64_t(sizeof(Raw)), rowV = Dv * int64_t(sizeof(Raw));
      // Slots [pf0 + j, pf0 + j + n) of K and V, clipped to the head's length, requested at once.
      const auto prefetchAhead = [&](int64_t j, int64_t n) {
        n = std::min(n, len - (pf0 + j));
        if (n <= 0) return;
        prefetchRows(slotK<Raw>(kv, b, hk, pf0 + j), ldKb, rowK, n);
        prefetchRows(slotV<Raw>(kv, b, hk, pf0 + j), ldVb, rowV, n);
      };
      // SIMD builds with contiguous rows spread the requests over the step's micro-kernels.
      const bool spread = kSimdQk && ldKb == rowK && ldVb == rowV;
      if (!kSimdQk) prefetchAhead(0, kDecodeStep);
      const int nBlk = static_cast<int>(ceilDiv(nk, kKeyBlock));
      const int nkPad = nBlk * kKeyBlock;
      float* S = ws.s.data();
      const float* Vs;
      int64_t ldV;
#if KVF_DECODE_LANES
      // Keys [0, nkQ) in whole calls of kGroupKeys: the last, incomplete call reads a zero-padded
      // copy (f32) or the zero-padded widened tile, never past the step's keys.
      const int nkQ = static_cast<int>(roundUp(nk, kGroupKeys));
      const float* K;
      int64_t ldK;
      int nIn;  // keys read in place
      if constexpr (T == DType::F32) {
        K = slotK<float>(kv, b, hk, k0), ldK = kv.kStrideS;
        Vs = slotV<float>(kv, b, hk, k0), ldV = kv.vStrideS;
        nIn = nk / kGroupKeys * kGroupKeys;
        if (nIn < nk) {
          float* kt = ws.kf.data();
          for (int j = 0; j < kGroupKeys; ++j) {
            float* dst = kt + j * sh.Dpad;
            if (nIn + j < nk) std::copy(K + (nIn + j) * ldK, K + (nIn + j) * ldK + D, dst);
            else std::fill(dst, dst + D, 0.0f);
          }
        }
      } else {
        widenRowsSplit<T>(slotK<Raw>(kv, b, hk, k0), kv.kStrideS, nk, D, ws.kf.data(), sh.Dpad);
        if (!vRaw) widenRowsSplit<T>(slotV<Raw>(kv, b, hk, k0), kv.vStrideS, nk, Dv, ws.vf.data(), sh.ldO);
        for (int j = nk; j < nkQ; ++j) std::fill(ws.kf.data() + j * sh.Dpad, ws.kf.data() + j * sh.Dpad + D, 0.0f);
        K = ws.kf.data(), ldK = sh.Dpad, Vs = ws.vf.data(), ldV = sh.ldO;
        nIn = nkQ;
      }
      // The first group's Q*K^T call for keys [j, j + kGroupKeys) requests those keys' future K
      // rows, spread over its D loop (or, rows not contiguous, their K and V rows at once); the
      // P*V panels request the future V rows (linesOf, storage_rows.hpp).
      const auto ahead = [&](int j) {
        const int64_t s = pf0 + j, n = std::min<int64_t>(kGroupKeys, len - s);
        if (n <= 0) return LinePrefetch{};
        if (!spread) {
          prefetchAhead(j, n);
          return LinePrefetch{};
        }
        return linesOf(slotK<Raw>(kv, b, hk, s), n * rowK, std::max<int64_t>(1, groups[0].nP - 1));
      };
      const auto none = [](int) { return LinePrefetch{}; };
      for (int gi = 0; gi < nGroups; ++gi) {
        if (nIn > 0) {
          if (gi == 0) qkLanes(groups[gi], K, ldK, D, nIn, S, ldS, ahead);
          else qkLanes(groups[gi], K, ldK, D, nIn, S, ldS, none);
        }
        if (nIn < nkQ) qkLanes(groups[gi], ws.kf.data(), sh.Dpad, D, nkQ - nIn, S + nIn, ldS, none);
      }
#else
      const float* K;
      int64_t ldK;
      if constexpr (T == DType::F32) {
        K = slotK<float>(kv, b, hk, k0), ldK = kv.kStrideS;
        Vs = slotV<float>(kv, b, hk, k0), ldV = kv.vStrideS;
      } else {
        widenRows<T>(slotK<typename Storage<T>::Raw>(kv, b, hk, k0), kv.kStrideS, nk, D, ws.kf.data(), sh.Dpad);
        widenRows<T>(slotV<typename Storage<T>::Raw>(kv, b, hk, k0), kv.vStrideS, nk, Dv, ws.vf.data(), sh.ldO);
        K = ws.kf.data(), ldK = sh.Dpad, Vs = ws.vf.data(), ldV = sh.ldO;
      }
      if (D % 8 != 0) qkDotAll<true>(Q, ldQ, Rpad, K, ldK, D, nk, zeroRow, dTail, S, ldS);
      else qkDotAll<false>(Q, ldQ, Rpad, K, ldK, D, nk, zeroRow, dTail, S, ldS);
#endif
      applyScoreMask(var, b, rows, ws.cls.data(), nR, kpos + k0, ws.admit.data() + kr.lo, kDecodeStep, nk, nkPad,
                     sScale, S, ldS, biasRow ? biasRow + k0 : nullptr);
      softmaxUpdate(S, ldS, nR, nkPad, ws.m.data(), ws.l.data(), ws.alpha.data(), ws.zb.data());
      if (tape) tape->record(S, ldS, k0, nk, ws.m.data());
      // Raw bf16 values: panels of up to 8 rows (pvRowsBf16Split), so a group of 8 query heads
      // converts each value row once.
      const int panelRows = vRaw ? kWidePanelRows : kPanelRows;
      const int nPanels = static_cast<int>(ceilDiv(nR, panelRows));
      const int64_t pfV = std::clamp<int64_t>(len - pf0, 0, kDecodeStep);  // future V rows to request
      for (int r0 = 0, pi = 0; r0 < nR; r0 += panelRows, ++pi) {
        const int rg = std::min(panelRows, nR - r0);
        blockModes(ws.zb.data(), nBlk, r0, r0 + rg, nk, ws.modes.data());
        // (Raw bf16 values keep their SAFE blocks: selection is exact whatever the values.)
        if (!vRaw) relaxSafeBlocks(ws.modes.data(), nk, Vs, ldV, Dv);
        // Panel pi requests its share of the future V rows, spread over its keys.
        const int64_t v0 = pfV * pi / nPanels, v1 = pfV * (pi + 1) / nPanels;
        const LinePrefetch lp =
            spread && v1 > v0 ? linesOf(slotV<Raw>(kv, b, hk, pf0 + v0), (v1 - v0) * rowV, nk) : LinePrefetch{};
        withRowsWide(rg, [&](auto rc) {
          constexpr int kR = decltype(rc)::value;
#if KVF_CPU_AVX512 && KVF_DECODE_LANES
          if constexpr (kSplit) {
            if (vRaw) {
              pvRowsBf16Split<kR>(S + r0 * ldS, ldS, ws.modes.data(), nk, slotV<uint16_t>(kv, b, hk, k0), kv.vStrideS,
                                  Dv, ws.alpha.data() + r0, O + r0 * sh.ldO, sh.ldO, lp);
              return;
            }
          }
#endif
          if constexpr (kR <= kPanelRows)
            pvRows<kR>(S + r0 * ldS, ldS, ws.modes.data(), nk, Vs, ldV, Dv, ws.alpha.data() + r0, O + r0 * sh.ldO,
                       sh.ldO, lp);
        });
      }
    }
  }
  if constexpr (kSplit) {
    // O's columns are in the split order of the widened values: back to the original order.
    float* tmp = ws.vf.data();  // free now; ldO >= Dv floats
    for (int64_t r = 0; r < R; ++r) {
      float* Or = O + r * sh.ldO;
      for (int64_t c = 0; c < Dv; ++c) tmp[splitSource(c, Dv)] = Or[c];
      std::copy(tmp, tmp + Dv, Or);
    }
  }
}

// Combine the chunks' (O, m, l) of one row: the log-sum-exp merge, exact up to rounding.
// Chunks with l == 0 saw no admissible key and are ignored; NaN in any chunk makes the row NaN.
inline void mergeRow(const float* Oparts, const float* ms, const float* ls, int64_t nChunks, int64_t strideO,
                     int64_t Dv, float* out, float* lse) {
  float M = -INFINITY;
  bool any = false;
  for (int64_t c = 0; c < nChunks; ++c) {
    if (ls[c] == 0.0f) continue;
    any = true;
    if (ms[c] > M || ms[c] != ms[c]) M = (M != M) ? M : ms[c];
  }
  if (!any) {
    finalizeRow(nullptr, 0.0f, 0.0f, Dv, out, lse);
    return;
  }
  float L = 0.0f;
  for (int64_t c = 0; c < Dv; ++c) out[c] = 0.0f;
  for (int64_t c = 0; c < nChunks; ++c) {
    if (ls[c] == 0.0f) continue;
    const float w = exp2Scalar(ms[c] - M);
    L += ls[c] * w;
    const float* Oc = Oparts + c * strideO;
    for (int64_t x = 0; x < Dv; ++x) out[x] += Oc[x] * w;
  }
  for (int64_t x = 0; x < Dv; ++x) out[x] /= L;
  *lse = (M + std::log2(L)) * kLn2;
}

// A call with at most this many key slots in all (over the sequences with rows and their KV
// heads) runs on the calling thread: waking a pool thread costs about what ~150 slots of a
// memory-bound decode do (a short cache, or the first steps after a prompt), so splitting such a
// call only adds the wake-up to the call's time.
constexpr int64_t kDecodeInlineSlots = 512;

inline int decodeThreads(const AttnArgs& a) {
  int64_t slots = 0;
  for (int64_t b = 0; b < a.B && slots <= kDecodeInlineSlots; ++b)
    if (a.rowCount[b] > 0)
      for (int64_t hk = 0; hk < a.kv.Hkv; ++hk) slots += slotLen(a.kv, b, hk);
  return slots <= kDecodeInlineSlots ? 1 : std::clamp(a.threads, 1, kMaxThreads);
}

// The attention mass of a decode call (AttnArgs v3) comes from the units' tapes (mass_tape.hpp)
// when they fit in massTapeLimit() floats: one per thread for whole-head units, one for the call when the
// keys are split (the chunks' probabilities wait for the merged lse).
struct DecodeMassPlan {
  bool tape = false;
  int64_t ldP = 0, maxSteps = 0;
};
template <class V>
DecodeMassPlan decodeMassPlan(const AttnArgs& a, const DecodeShape& sh, bool split) {
  DecodeMassPlan p;
  if (!massOf(a) || sh.Rmax > MassTape::kMaxRows) return p;
  p.ldP = roundUp(std::max<int64_t>(a.kv.maxLen, 1), 16);
  p.maxSteps = massTapeSteps(0, sh.tilesPerChunk, V::kTileK, kDecodeStep);
  const int64_t floats = (split ? a.B * a.kv.Hkv : 1) * sh.Rmax * p.ldP;
  p.tape = floats <= massTapeLimit().load(std::memory_order_relaxed);
  return p;
}

// Rows' lse in log2 units, the order of the unit's rows (g, then i).
inline void rowLse2(const AttnArgs& a, int64_t b, int64_t hk, int64_t G, int64_t n, float* lse2) {
  for (int64_t r = 0; r < G * n; ++r) lse2[r] = *lseAt(a, b, hk * G + r / n, r % n) * kLog2e;
}

// Returns whether the attention mass (when asked for) was computed along; otherwise the caller
// runs massPass after it (a tape would not fit).
template <class V, DType T>
bool decodeForward(const V& var, const AttnArgs& a) {
  const int threads = decodeThreads(a);
  const DecodeShape sh = DecodeShape::of(a, V::kTileK, threads);
  const int64_t Hkv = a.kv.Hkv, Dv = a.kv.Dv, BH = a.B * Hkv, units = BH * sh.nChunks;
  const bool split = sh.nChunks > 1;
  const DecodeMassPlan mp = decodeMassPlan<V>(a, sh, split);
  // Partial results of split units: O [unit][Rmax][Dv] unnormalised, m and l [unit][Rmax]. Kept by
  // the calling thread across calls, as each worker's DecodeScratch is (a serving loop's steady
  // state allocates nothing).
  thread_local ReusedScratch<float> partOMem, partMMem, partLMem, zeroMem;
  // Split calls: every (b, hk)'s p~ and every unit's steps. (Named through a reference: inside the
  // workers' lambdas the thread_local itself would be each worker's own, empty, instance.)
  thread_local MassTapeMemory callTapeMem;
  MassTapeMemory& callTape = callTapeMem;
  thread_local ReusedScratch<int64_t> stepCountMem;
  float* partO = split ? partOMem.reserve(size_t(units * sh.Rmax * Dv), "partial outputs of key chunks") : nullptr;
  float* partM = split ? partMMem.reserve(size_t(units * sh.Rmax), "partial outputs of key chunks") : nullptr;
  float* partL = split ? partLMem.reserve(size_t(units * sh.Rmax), "partial outputs of key chunks") : nullptr;
  int64_t* stepCount = nullptr;
  if (split && mp.tape) {
    callTape.reserve(BH * sh.Rmax * mp.ldP, units, mp.maxSteps, sh.Rmax);
    stepCount = stepCountMem.reserve(size_t(units), "attention-mass tape");
  }
  float* zeroRow = zeroMem.reserve(size_t(sh.Dpad), "a zero key");
  std::fill(zeroRow, zeroRow + sh.Dpad, 0.0f);

  parallelFor(threads, units, [&](int64_t u, int) {
    const int64_t bh = u / sh.nChunks, c = u % sh.nChunks;
    const int64_t b = bh / Hkv, hk = bh % Hkv;
    const int64_t n = a.rowCount[b], R = sh.G * n;
    if (stepCount) stepCount[u] = 0;
    if (n == 0) return;
    DecodeScratch* ws = &threadDecodeScratch(sh, a.kv.D, T != DType::F32);
    MassTape tape;
    if (mp.tape && split) {
      tape = callTape.view(bh * sh.Rmax * mp.ldP, mp.ldP, u, mp.maxSteps, sh.Rmax, int(R));
    } else if (mp.tape) {
      thread_local MassTapeMemory unitTape;
      unitTape.reserve(sh.Rmax * mp.ldP, 1, mp.maxSteps, sh.Rmax);
      tape = unitTape.view(0, mp.ldP, 0, mp.maxSteps, sh.Rmax, int(R));
    }
    const int64_t kt0 = c * sh.tilesPerChunk, kt1 = std::min(sh.nKt, kt0 + sh.tilesPerChunk);
    decodeUnit<V, T>(var, a, V::kTileK, sh, b, hk, kt0, kt1, zeroRow, *ws, mp.tape ? &tape : nullptr);
    for (int64_t r = 0; r < R; ++r) {
      const float* Or = ws->o.data() + r * sh.ldO;
      if (split) {
        const int64_t idx = u * sh.Rmax + r;
        std::copy(Or, Or + Dv, partO + idx * Dv);
        partM[idx] = ws->m[r];
        partL[idx] = ws->l[r];
      } else {
        const RowInfo& row = ws->rows[r];
        finalizeRow(Or, ws->m[r], ws->l[r], Dv, outRow(a, b, row.h, row.i), lseAt(a, b, row.h, row.i));
      }
    }
    if (split) {
      if (stepCount) stepCount[u] = tape.nSteps;
      return;
    }
    // A unit over every key of (b, hk) knows its rows' final lse now: the attention mass, from
    // the tape, or (too large for one) by the recompute pass while the head's keys are in cache.
    if (mp.tape) {
      float lse2[MassTape::kMaxRows];
      rowLse2(a, b, hk, sh.G, n, lse2);
      tape.finish(lse2, slotMass(a, b, hk));
    } else if (massOf(a)) {
      massHead<V, T>(var, a, b, hk);
    }
  });
  if (!split) return true;

  parallelFor(threads, BH, [&](int64_t bh, int) {
    const int64_t b = bh / Hkv, hk = bh % Hkv, n = a.rowCount[b];
    float ms[kMaxDecodeChunks], ls[kMaxDecodeChunks];
    for (int64_t r = 0; r < sh.G * n; ++r) {
      for (int64_t c = 0; c < sh.nChunks; ++c) {
        const int64_t idx = (bh * sh.nChunks + c) * sh.Rmax + r;
        ms[c] = partM[idx];
        ls[c] = partL[idx];
      }
      const int64_t h = hk * sh.G + r / n, i = r % n;
      mergeRow(partO + (bh * sh.nChunks * sh.Rmax + r) * Dv, ms, ls, sh.nChunks, sh.Rmax * Dv, Dv,
               outRow(a, b, h, i), lseAt(a, b, h, i));
    }
  });
  if (!mp.tape) return false;
  // The merged lse is final: every chunk adds its slots' mass (chunks own disjoint slots).
  parallelFor(threads, units, [&](int64_t u, int) {
    const int64_t bh = u / sh.nChunks, b = bh / Hkv, hk = bh % Hkv, n = a.rowCount[b];
    if (n == 0 || stepCount[u] == 0) return;
    MassTape tape = callTape.view(bh * sh.Rmax * mp.ldP, mp.ldP, u, mp.maxSteps, sh.Rmax, int(sh.G * n));
    tape.nSteps = stepCount[u];
    float lse2[MassTape::kMaxRows];
    rowLse2(a, b, hk, sh.G, n, lse2);
    tape.finish(lse2, slotMass(a, b, hk));
  });
  return true;
}

}  // namespace kvf::cpu
