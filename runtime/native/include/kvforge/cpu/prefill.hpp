// Prefill forward (many query rows): the flash-attention loop on the CPU.
//
// Schedule, and why:
// 1. Pack K^T once per call into 16-key panels (parallel over (b, kv head, key tile)); a per-tile
//    transpose would be repeated for every query panel.
// 2. Work unit = (b, kv head, query tile) with the rows of all G = Hq / Hkv query heads that
//    share the kv head, so each K/V tile is brought into cache once for all of them. Units run
//    most-expensive-first (cost = rows x non-empty tiles) on the persistent pool.
// 3. Inside a unit, rows are taken 6 at a time (a panel, possibly spanning two heads); for each
//    non-empty key tile: mask -> Q*K^T -> score -> online softmax -> P*V, so the 6 x tileK
//    scores never leave L1. Each row follows its own head's tile-map entry: EMPTY tiles are
//    skipped (all rows empty: the tile is not touched), FULL rows skip the mask, and in PARTIAL
//    tiles only the 16-key blocks between the panel's first and last admissible key are
//    computed.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>
#include "kvforge/forward_args.hpp"
#include "kvforge/cpu/dispatch_rows.hpp"
#include "kvforge/cpu/online_softmax.hpp"
#include "kvforge/cpu/pack_keys.hpp"
#include "kvforge/cpu/pv.hpp"
#include "kvforge/cpu/qk_packed.hpp"
#include "kvforge/cpu/scratch.hpp"
#include "kvforge/cpu/score_mask.hpp"
#include "kvforge/cpu/thread_pool.hpp"
#include "kvforge/cpu/tile_map.hpp"

namespace kvf::cpu {

// Per-thread buffers of the prefill, sized once per call.
struct PanelScratch {
  Scratch<float> q;      // kPanelRows x D, pre-scaled query rows
  Scratch<float> s;      // kPanelRows x ldS, scores then probabilities
  Scratch<float> o;      // kPanelRows x ldO, output accumulators
  Scratch<uint32_t> zb;  // kPanelRows x blocks, p == 0 bits
  Scratch<BlockMode> modes;
  Scratch<uint8_t> admit;  // kPanelRows x ldS, mask results of PARTIAL rows
  float m[kPanelRows], l[kPanelRows], alpha[kPanelRows];

  PanelScratch(int64_t D, int64_t ldS, int64_t ldO)
      : q(kPanelRows * D, "query panel"),
        s(kPanelRows * ldS, "scores"),
        o(kPanelRows * ldO, "output accumulators"),
        zb(kPanelRows * (ldS / kKeyBlock), "probability bits"),
        modes(ldS / kKeyBlock, "block modes"),
        admit(kPanelRows * ldS, "mask results") {}
};

// One panel of R rows against every key tile of (b, kv head hk).
template <class V, int R>
void prefillPanel(const V& var, const ForwardArgs& a, const KeyPanels& kp, const float* packed, int64_t b,
                  int64_t hk, const RowInfo* rows, PanelScratch& ws, int64_t ldS, int64_t ldO) {
  const int64_t D = a.D, Dv = a.Dv;
  // Without a score function scale * log2(e) is folded into Q (one multiply per element of Q
  // instead of one per score); with one, s must be computed exactly first.
  const float qScale = V::kHasScore ? 1.0f : static_cast<float>(a.scale) * kLog2e;
  const float sScale = static_cast<float>(a.scale);
  float* Q = ws.q.data();
  for (int r = 0; r < R; ++r) {
    const float* src = a.q + ((b * a.Hq + rows[r].h) * a.Lq + rows[r].i) * D;
    for (int64_t d = 0; d < D; ++d) Q[r * D + d] = src[d] * qScale;
  }
  float* O = ws.o.data();
  std::fill(O, O + R * ldO, 0.0f);
  for (int r = 0; r < R; ++r) ws.m[r] = -INFINITY, ws.l[r] = 0.0f;

  const int64_t bh = b * a.Hkv + hk;
  for (int64_t kt = 0; kt < kp.nKt; ++kt) {
    TileClass cls[R];
    bool any = false;
    for (int r = 0; r < R; ++r) {
      cls[r] = effectiveClass<V>(rows[r].map[kt]);
      any |= cls[r] != kTileEmpty;
    }
    if (!any) continue;
    const int64_t k0 = kt * a.tileK;
    const int nkTile = static_cast<int>(std::min<int64_t>(a.tileK, a.Lk - k0));
    const KeyRange kr = admissibleRange(var, b, rows, cls, R, a.kpos + k0, nkTile, ws.admit.data(), ldS);
    if (kr.empty()) continue;
    // From here on only keys [k0 + kr.lo, k0 + kr.hi) exist for this panel.
    const int nk = kr.hi - kr.lo;
    const int nBlk = static_cast<int>(ceilDiv(nk, kKeyBlock));
    const int nkPad = nBlk * kKeyBlock;
    const float* panels = packed + kt * kp.tileFloats + int64_t(kr.lo) * D;  // panel kr.lo / 16
    float* S = ws.s.data();
    qkBlocks<R>(Q, D, panels, D, nBlk, S, ldS);
    applyScoreMask(var, b, rows, cls, R, a.kpos + k0 + kr.lo, ws.admit.data() + kr.lo, ldS, nk, nkPad, sScale, S, ldS);
    softmaxUpdate(S, ldS, R, nkPad, ws.m, ws.l, ws.alpha, ws.zb.data());
    const float* Vt = a.v + (bh * a.Lk + k0 + kr.lo) * Dv;
    blockModes(ws.zb.data(), nBlk, 0, R, nk, ws.modes.data());
    relaxSafeBlocks(ws.modes.data(), nk, Vt, Dv);
    pvRows<R>(S, ldS, ws.modes.data(), nk, Vt, Dv, ws.alpha, O, ldO);
  }
  for (int r = 0; r < R; ++r) {
    const int64_t row = (b * a.Hq + rows[r].h) * a.Lq + rows[r].i;
    finalizeRow(O + r * ldO, ws.m[r], ws.l[r], Dv, a.out + row * Dv, a.lse + row);
  }
}

template <class V>
void prefillForward(const V& var, const ForwardArgs& a) {
  const KeyPanels kp = KeyPanels::of(a);
  const int64_t BH = a.B * a.Hkv, G = a.Hq / a.Hkv;
  const int threads = std::clamp(a.threads, 1, kMaxThreads);

  // 1. Pack keys.
  if (kp.headFloats > 0 && BH > INT64_MAX / kp.headFloats) throwAllocFailure(double(BH) * kp.headFloats * 4, "packed keys");
  Scratch<float> packed(static_cast<size_t>(BH * kp.headFloats), "packed keys");
  parallelFor(threads, BH * kp.nKt, [&](int64_t i, int) {
    const int64_t bh = i / kp.nKt, kt = i % kp.nKt;
    packKeyTile(a, kp, bh, kt, packed.data() + bh * kp.headFloats + kt * kp.tileFloats);
  });

  // 2. Work units, most expensive first.
  struct Unit {
    int64_t b, hk, qt, cost;
  };
  const int64_t nQt = ceilDiv(a.Lq, a.tileQ);
  std::vector<Unit> units;
  units.reserve(static_cast<size_t>(BH * nQt));
  for (int64_t b = 0; b < a.B; ++b)
    for (int64_t hk = 0; hk < a.Hkv; ++hk)
      for (int64_t qt = 0; qt < nQt; ++qt) {
        const int64_t rowsInTile = std::min(a.tileQ, a.Lq - qt * a.tileQ);
        int64_t cost = 1;  // every unit runs: it writes its rows even when all tiles are empty
        for (int64_t g = 0; g < G; ++g) {
          const uint8_t* map = tileRow(a, b, hk * G + g, qt);
          for (int64_t kt = 0; kt < kp.nKt; ++kt) cost += (map[kt] != kTileEmpty) * rowsInTile;
        }
        units.push_back({b, hk, qt, cost});
      }
  std::stable_sort(units.begin(), units.end(), [](const Unit& x, const Unit& y) { return x.cost > y.cost; });

  // 3. Run them.
  const int64_t ldS = roundUp(a.tileK, kKeyBlock);
  const int64_t ldO = roundUp(a.Dv, 16);
  std::vector<std::unique_ptr<PanelScratch>> scratch(static_cast<size_t>(threads));
  parallelFor(threads, static_cast<int64_t>(units.size()), [&](int64_t ui, int w) {
    auto& ws = scratch[static_cast<size_t>(w)];
    if (!ws) ws = std::make_unique<PanelScratch>(a.D, ldS, ldO);
    const Unit u = units[static_cast<size_t>(ui)];
    const int64_t q0 = u.qt * a.tileQ;
    const int64_t rowsInTile = std::min(a.tileQ, a.Lq - q0);
    const int64_t total = G * rowsInTile;
    const float* packedHead = packed.data() + (u.b * a.Hkv + u.hk) * kp.headFloats;
    for (int64_t p0 = 0; p0 < total; p0 += kPanelRows) {
      const int R = static_cast<int>(std::min<int64_t>(kPanelRows, total - p0));
      RowInfo rows[kPanelRows];
      for (int r = 0; r < R; ++r) {
        const int64_t idx = p0 + r, g = idx / rowsInTile;
        rows[r] = makeRow(a, u.b, u.hk * G + g, q0 + idx % rowsInTile);
      }
      // Start fetching the next panel's query rows: Q is read once, so without this each panel
      // begins with cache misses (measured ~5% of the window case).
      for (int64_t r = p0 + kPanelRows; r < std::min(total, p0 + 2 * kPanelRows); ++r) {
        const int64_t h = u.hk * G + r / rowsInTile, i = q0 + r % rowsInTile;
        const char* src = reinterpret_cast<const char*>(a.q + ((u.b * a.Hq + h) * a.Lq + i) * a.D);
        for (int64_t off = 0; off < a.D * int64_t(sizeof(float)); off += 64) __builtin_prefetch(src + off);
      }
      withRows(R, [&](auto rc) { prefillPanel<V, decltype(rc)::value>(var, a, kp, packedHead, u.b, u.hk, rows, *ws, ldS, ldO); });
    }
  });
}

}  // namespace kvf::cpu
