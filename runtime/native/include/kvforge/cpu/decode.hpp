// Decode forward (few query rows, Lq <= kDecodeMaxLq): bound by reading K and V once.
//
// Schedule, and why:
// - No packing: each key serves only G * Lq rows, and a packing pass would double the DRAM
//   traffic. K and V rows are streamed from the caller's buffers.
// - Work unit = (b, kv head, key chunk) with ALL G * Lq rows of that kv head, so every K/V row
//   read from memory is used by all the query heads that share it.
// - When B * Hkv is too small to keep every thread busy (< 2 x threads), the key axis is split
//   into chunks along key-tile boundaries; each chunk leaves an unnormalised (O, m, l) per row and
//   a merge pass combines them exactly (log-sum-exp merge).
// - Keys are processed in steps of kDecodeStep so the step's K and V rows stay in L1 between
//   Q*K^T and P*V; in PARTIAL tiles the mask is evaluated first and only the blocks of a step
//   between the first and last admissible key are read at all.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>
#include "kvforge/forward_args.hpp"
#include "kvforge/cpu/dispatch_rows.hpp"
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

// The rows of one kv head: row r is query row r % Lq of query head hk * G + r / Lq.
struct DecodeShape {
  int64_t G, R, Rpad, Dpad, ldO, nKt, nChunks, tilesPerChunk;

  static DecodeShape of(const ForwardArgs& a, int threads) {
    DecodeShape s;
    s.G = a.Hq / a.Hkv;
    s.R = s.G * a.Lq;
    s.Rpad = roundUp(s.R, kDotRows);  // padding rows of Q are zero, their scores ignored
    s.Dpad = roundUp(a.D, 8);
    s.ldO = roundUp(a.Dv, 16);
    s.nKt = ceilDiv(a.Lk, a.tileK);
    const int64_t BH = a.B * a.Hkv;
    // Split the keys only when there are too few (b, kv head) pairs to feed the threads; aim
    // for about 4 units per thread so the last one to finish does not hold up the others.
    const int64_t want = BH < 2 * threads ? ceilDiv(4 * threads, BH) : 1;
    s.nChunks = std::clamp<int64_t>(want, 1, s.nKt);
    s.tilesPerChunk = ceilDiv(s.nKt, s.nChunks);
    s.nChunks = ceilDiv(s.nKt, s.tilesPerChunk);
    return s;
  }
};

struct DecodeScratch {
  Scratch<float> q, s, o;
  Scratch<float> m, l, alpha;
  Scratch<uint32_t> zb;
  Scratch<TileClass> cls;
  Scratch<RowInfo> rows;
  Scratch<BlockMode> modes;
  Scratch<uint8_t> admit;  // R x kDecodeStep mask results of PARTIAL rows

  explicit DecodeScratch(const DecodeShape& sh)
      : q(sh.Rpad * sh.Dpad, "query rows"),
        s(sh.Rpad * kDecodeStep, "scores"),
        o(sh.R * sh.ldO, "output accumulators"),
        m(sh.R, "softmax state"),
        l(sh.R, "softmax state"),
        alpha(sh.R, "softmax state"),
        zb(sh.Rpad * (kDecodeStep / kKeyBlock), "probability bits"),
        cls(sh.R, "tile classes"),
        rows(sh.R, "row descriptors"),
        modes(kDecodeStep / kKeyBlock, "block modes"),
        admit(sh.R * kDecodeStep, "mask results") {}
};

// One unit: rows of (b, hk) against key tiles [kt0, kt1). Leaves O (unnormalised), m, l.
template <class V>
void decodeUnit(const V& var, const ForwardArgs& a, const DecodeShape& sh, int64_t b, int64_t hk, int64_t kt0,
                int64_t kt1, const float* zeroRow, DecodeScratch& ws) {
  const int64_t D = a.D, Dv = a.Dv, R = sh.R, ldQ = sh.Dpad, ldS = kDecodeStep;
  const float qScale = V::kHasScore ? 1.0f : static_cast<float>(a.scale) * kLog2e;
  const float sScale = static_cast<float>(a.scale);
  RowInfo* rows = ws.rows.data();
  float* Q = ws.q.data();
  std::fill(Q, Q + sh.Rpad * ldQ, 0.0f);
  for (int64_t r = 0; r < R; ++r) {
    rows[r] = makeRow(a, b, hk * sh.G + r / a.Lq, r % a.Lq);
    const float* src = a.q + ((b * a.Hq + rows[r].h) * a.Lq + rows[r].i) * D;
    for (int64_t d = 0; d < D; ++d) Q[r * ldQ + d] = src[d] * qScale;
  }
  float* O = ws.o.data();
  std::fill(O, O + R * sh.ldO, 0.0f);
  std::fill(ws.m.data(), ws.m.data() + R, -INFINITY);
  std::fill(ws.l.data(), ws.l.data() + R, 0.0f);

  const int64_t bh = b * a.Hkv + hk;
  const Mask8 dTail = laneMask(static_cast<int>(D & 7));
  for (int64_t kt = kt0; kt < kt1; ++kt) {
    bool any = false;
    for (int64_t r = 0; r < R; ++r) {
      ws.cls[r] = effectiveClass<V>(rows[r].map[kt]);
      any |= ws.cls[r] != kTileEmpty;
    }
    if (!any) continue;
    const int64_t tileStart = kt * a.tileK, tileEnd = std::min(a.Lk, tileStart + a.tileK);
    for (int64_t s0 = tileStart; s0 < tileEnd; s0 += kDecodeStep) {
      const int nStep = static_cast<int>(std::min<int64_t>(kDecodeStep, tileEnd - s0));
      const int nR = static_cast<int>(R);
      const KeyRange kr = admissibleRange(var, b, rows, ws.cls.data(), nR, a.kpos + s0, nStep, ws.admit.data(), kDecodeStep);
      if (kr.empty()) continue;
      const int64_t k0 = s0 + kr.lo;  // keys [k0, k0 + nk) are all this step computes
      const int nk = kr.hi - kr.lo;
      const int nBlk = static_cast<int>(ceilDiv(nk, kKeyBlock));
      const int nkPad = nBlk * kKeyBlock;
      const float* K = a.k + (bh * a.Lk + k0) * D;
      float* S = ws.s.data();
      if (D % 8 != 0) qkDotAll<true>(Q, ldQ, sh.Rpad, K, D, nk, zeroRow, dTail, S, ldS);
      else qkDotAll<false>(Q, ldQ, sh.Rpad, K, D, nk, zeroRow, dTail, S, ldS);
      applyScoreMask(var, b, rows, ws.cls.data(), nR, a.kpos + k0, ws.admit.data() + kr.lo, kDecodeStep, nk, nkPad,
                     sScale, S, ldS);
      softmaxUpdate(S, ldS, nR, nkPad, ws.m.data(), ws.l.data(), ws.alpha.data(), ws.zb.data());
      const float* Vs = a.v + (bh * a.Lk + k0) * Dv;
      for (int r0 = 0; r0 < nR; r0 += kPanelRows) {
        const int rg = std::min(kPanelRows, nR - r0);
        blockModes(ws.zb.data(), nBlk, r0, r0 + rg, nk, ws.modes.data());
        relaxSafeBlocks(ws.modes.data(), nk, Vs, Dv);
        withRows(rg, [&](auto rc) {
          pvRows<decltype(rc)::value>(S + r0 * ldS, ldS, ws.modes.data(), nk, Vs, Dv, ws.alpha.data() + r0,
                                      O + r0 * sh.ldO, sh.ldO);
        });
      }
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

template <class V>
void decodeForward(const V& var, const ForwardArgs& a) {
  const int threads = std::clamp(a.threads, 1, kMaxThreads);
  const DecodeShape sh = DecodeShape::of(a, threads);
  const int64_t BH = a.B * a.Hkv, units = BH * sh.nChunks;
  const bool split = sh.nChunks > 1;
  // Partial results of split units: O [unit][R][Dv] unnormalised, m and l [unit][R].
  Scratch<float> partO(split ? units * sh.R * a.Dv : 0, "partial outputs of key chunks");
  Scratch<float> partM(split ? units * sh.R : 0, "partial outputs of key chunks");
  Scratch<float> partL(split ? units * sh.R : 0, "partial outputs of key chunks");
  Scratch<float> zeroRow(sh.Dpad, "a zero key");
  std::fill(zeroRow.data(), zeroRow.data() + sh.Dpad, 0.0f);

  std::vector<std::unique_ptr<DecodeScratch>> scratch(static_cast<size_t>(threads));
  parallelFor(threads, units, [&](int64_t u, int w) {
    auto& ws = scratch[static_cast<size_t>(w)];
    if (!ws) ws = std::make_unique<DecodeScratch>(sh);
    const int64_t bh = u / sh.nChunks, c = u % sh.nChunks;
    const int64_t b = bh / a.Hkv, hk = bh % a.Hkv;
    const int64_t kt0 = c * sh.tilesPerChunk, kt1 = std::min(sh.nKt, kt0 + sh.tilesPerChunk);
    decodeUnit(var, a, sh, b, hk, kt0, kt1, zeroRow.data(), *ws);
    for (int64_t r = 0; r < sh.R; ++r) {
      const float* Or = ws->o.data() + r * sh.ldO;
      if (split) {
        const int64_t idx = u * sh.R + r;
        std::copy(Or, Or + a.Dv, partO.data() + idx * a.Dv);
        partM[idx] = ws->m[r];
        partL[idx] = ws->l[r];
      } else {
        const RowInfo& row = ws->rows[r];
        const int64_t o = (b * a.Hq + row.h) * a.Lq + row.i;
        finalizeRow(Or, ws->m[r], ws->l[r], a.Dv, a.out + o * a.Dv, a.lse + o);
      }
    }
  });
  if (!split) return;

  parallelFor(threads, BH, [&](int64_t bh, int) {
    const int64_t b = bh / a.Hkv, hk = bh % a.Hkv;
    std::vector<float> ms(static_cast<size_t>(sh.nChunks)), ls(static_cast<size_t>(sh.nChunks));
    for (int64_t r = 0; r < sh.R; ++r) {
      for (int64_t c = 0; c < sh.nChunks; ++c) {
        const int64_t idx = (bh * sh.nChunks + c) * sh.R + r;
        ms[static_cast<size_t>(c)] = partM[idx];
        ls[static_cast<size_t>(c)] = partL[idx];
      }
      const int64_t h = hk * sh.G + r / a.Lq, i = r % a.Lq;
      const int64_t o = (b * a.Hq + h) * a.Lq + i;
      mergeRow(partO.data() + (bh * sh.nChunks * sh.R + r) * a.Dv, ms.data(), ls.data(), sh.nChunks, sh.R * a.Dv,
               a.Dv, a.out + o * a.Dv, a.lse + o);
    }
  });
}

}  // namespace kvf::cpu
