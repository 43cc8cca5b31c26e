// Prefill forward (many query rows per sequence): the flash-attention loop on the CPU, over the
// slots of a cache read in place (attn_args.hpp).
//
// Schedule, and why:
// 1. Pack K^T once per call into 16-key panels (parallel over (b, kv head, key tile)); a per-tile
//    transpose would be repeated for every query panel.
// 2. Work unit = (b, kv head, query tile of sequence b) with the rows of all G = Hq / Hkv query
//    heads that share the kv head, so each K/V tile is brought into cache once for all of them.
//    Each unit's classes (per head and key tile) come from the Variant's classify() first, in
//    parallel; then units run most-expensive-first (cost = rows x non-empty tiles).
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
#include "kvforge/attn_args.hpp"
#include "kvforge/cpu/classify.hpp"
#include "kvforge/cpu/dispatch_rows.hpp"
#include "kvforge/cpu/mass.hpp"
#include "kvforge/cpu/mass_tape.hpp"
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

// One panel of R rows against every key tile of (b, kv head hk). cls[g * nKt + kt] is the class
// of head g of the group for key tile kt (the unit's table). With a tape (the attention mass,
// mass_tape.hpp), every tile's probabilities are recorded and, once the rows' lse is known, their
// mass is added to unitMass (the unit's own slot-indexed partial sums).
template <class V, int R, DType T>
void prefillPanel(const V& var, const AttnArgs& a, const KeyPanels& kp, const float* packed, const float* vf,
                  int64_t ldVf, int64_t b, int64_t hk, const RowInfo* rows, const TileClass* unitCls, PanelScratch& ws,
                  int64_t ldS, int64_t ldO, MassTape* tape, float* unitMass) {
  const SlotView& kv = a.kv;
  const int64_t D = kv.D, Dv = kv.Dv, tileK = kp.tileK;
  // Without a score function scale * log2(e) is folded into Q (one multiply per element of Q
  // instead of one per score); with one, s must be computed exactly first.
  const float qScale = V::kHasScore ? 1.0f : static_cast<float>(a.scale) * kLog2e;
  const float sScale = static_cast<float>(a.scale);
  float* Q = ws.q.data();
  for (int r = 0; r < R; ++r) {
    const float* src = queryRow(a, b, rows[r].h, rows[r].i);
    for (int64_t d = 0; d < D; ++d) Q[r * D + d] = src[d] * qScale;
  }
  float* O = ws.o.data();
  std::fill(O, O + R * ldO, 0.0f);
  for (int r = 0; r < R; ++r) ws.m[r] = -INFINITY, ws.l[r] = 0.0f;

  const int64_t len = slotLen(kv, b, hk), nKt = ceilDiv(len, tileK);
  const int32_t* kpos = slotPos(kv, b, hk);
  const float* biasRow = biasOf(a) ? slotBias(a, b, hk) : nullptr;
  for (int64_t kt = 0; kt < nKt; ++kt) {
    TileClass cls[R];
    bool any = false;
    for (int r = 0; r < R; ++r) {
      cls[r] = unitCls[rows[r].g * kp.nKt + kt];
      any |= cls[r] != kTileEmpty;
    }
    if (!any) continue;
    const int64_t k0 = kt * tileK;
    const int nkTile = static_cast<int>(std::min<int64_t>(tileK, len - k0));
    const KeyRange kr = admissibleRange(var, b, rows, cls, R, kpos + k0, nkTile, ws.admit.data(), ldS);
    if (kr.empty()) continue;
    // From here on only keys [k0 + kr.lo, k0 + kr.hi) exist for this panel.
    const int nk = kr.hi - kr.lo;
    const int nBlk = static_cast<int>(ceilDiv(nk, kKeyBlock));
    const int nkPad = nBlk * kKeyBlock;
    const float* panels = packed + kt * kp.tileFloats + int64_t(kr.lo) * D;  // panel kr.lo / 16
    float* S = ws.s.data();
    qkBlocks<R>(Q, D, panels, D, nBlk, S, ldS);
    applyScoreMask(var, b, rows, cls, R, kpos + k0 + kr.lo, ws.admit.data() + kr.lo, ldS, nk, nkPad, sScale, S, ldS,
                   biasRow ? biasRow + k0 + kr.lo : nullptr);
    softmaxUpdate(S, ldS, R, nkPad, ws.m, ws.l, ws.alpha, ws.zb.data());
    if (tape) tape->record(S, ldS, k0 + kr.lo, nk, ws.m);
    const float* Vt;
    int64_t ldV;
    if constexpr (T == DType::F32) {
      (void)vf, (void)ldVf;
      Vt = slotV<float>(kv, b, hk, k0 + kr.lo), ldV = kv.vStrideS;
    } else {
      Vt = vf + (k0 + kr.lo) * ldVf, ldV = ldVf;
    }
    blockModes(ws.zb.data(), nBlk, 0, R, nk, ws.modes.data());
    relaxSafeBlocks(ws.modes.data(), nk, Vt, ldV, Dv);
    pvRows<R>(S, ldS, ws.modes.data(), nk, Vt, ldV, Dv, ws.alpha, O, ldO);
  }
  for (int r = 0; r < R; ++r)
    finalizeRow(O + r * ldO, ws.m[r], ws.l[r], Dv, outRow(a, b, rows[r].h, rows[r].i), lseAt(a, b, rows[r].h, rows[r].i));
  if (tape) {
    float lse2[R];
    for (int r = 0; r < R; ++r) lse2[r] = *lseAt(a, b, rows[r].h, rows[r].i) * kLog2e;
    tape->finish(lse2, unitMass);
    tape->nSteps = 0;
  }
}

// The classes of one unit: cls[g * nKt + kt] for the G heads of (b, hk) and key tiles kt of the
// head's length (the rest of the table is EMPTY). One classify() per key tile for the box of all
// G heads; per head only when that is PARTIAL and the mask reads h.
template <class V>
void unitClasses(const V& var, const AttnArgs& a, const KeyPanels& kp, int64_t G, int64_t b, int64_t hk, Interval qI,
                 TileClass* cls) {
  const int64_t len = slotLen(a.kv, b, hk), nKt = ceilDiv(len, kp.tileK);
  std::fill(cls, cls + G * kp.nKt, kTileEmpty);
  const Interval bI = point(b), hBox{double(hk * G), double(hk * G + G - 1)};
  for (int64_t kt = 0; kt < nKt; ++kt) {
    const Interval kI = keyRange(a.kv, b, hk, kt * kp.tileK, std::min(len, (kt + 1) * kp.tileK));
    TileClass c = classifyBox(var, bI, hBox, qI, kI);
    for (int64_t g = 0; g < G; ++g) {
      if (c == kTilePartial && classesPerHead<V>()) cls[g * kp.nKt + kt] = classifyBox(var, bI, point(hk * G + g), qI, kI);
      else cls[g * kp.nKt + kt] = c;
    }
  }
}

// The attention mass of a prefill call (AttnArgs v3): each panel's rows add theirs into their
// unit's partial sums (a tape of kPanelRows x len per thread), and a last pass adds the units of
// each (b, kv head) into the slots in query-tile order, so the result does not depend on which
// thread ran what. Units x maxLen floats at most massTapeLimit(); above that the caller runs the
// recompute pass (mass.hpp). Returns whether the mass was computed here.
template <class V, DType T>
bool prefillForward(const V& var, const AttnArgs& a) {
  const SlotView& kv = a.kv;
  const KeyPanels kp = KeyPanels::of(kv, V::kTileK);
  const int64_t Hkv = kv.Hkv, BH = a.B * Hkv, G = a.Hq / Hkv, tileQ = V::kTileQ;
  const int threads = std::clamp(a.threads, 1, kMaxThreads);

  // 1. Pack keys (and widen 16-bit values).
  if (kp.headFloats > 0 && BH > INT64_MAX / kp.headFloats) throwAllocFailure(double(BH) * kp.headFloats * 4, "packed keys");
  Scratch<float> packed(static_cast<size_t>(BH * kp.headFloats), "packed keys");
  const int64_t ldVf = kv.Dv, headV = T == DType::F32 ? 0 : kv.maxLen * ldVf;
  Scratch<float> vf(static_cast<size_t>(BH * headV), "widened values");
  std::vector<std::unique_ptr<Scratch<float>>> rowScratch(static_cast<size_t>(threads));
  parallelFor(threads, BH * kp.nKt, [&](int64_t i, int w) {
    const int64_t bh = i / kp.nKt, kt = i % kp.nKt, b = bh / Hkv, hk = bh % Hkv;
    float* row = nullptr;
    if constexpr (T != DType::F32) {
      auto& rs = rowScratch[static_cast<size_t>(w)];
      if (!rs) rs = std::make_unique<Scratch<float>>(static_cast<size_t>(kp.tileK * kv.D), "widened keys");
      row = rs->data();
      const int64_t len = slotLen(kv, b, hk), k0 = kt * kp.tileK, n = std::min(len - k0, kp.tileK);
      if (n > 0)
        widenRows<T>(slotV<typename Storage<T>::Raw>(kv, b, hk, k0), kv.vStrideS, n, kv.Dv, vf.data() + bh * headV + k0 * ldVf, ldVf);
    }
    packKeyTile<T>(kv, kp, b, hk, kt, packed.data() + bh * kp.headFloats + kt * kp.tileFloats, row);
  });

  // 2. Work units and their tile classes, most expensive first.
  struct Unit {
    int64_t b, hk, qt, cost;
  };
  const int64_t nQtMax = ceilDiv(a.maxRows, tileQ);
  std::vector<Unit> units;
  units.reserve(static_cast<size_t>(BH * nQtMax));
  for (int64_t b = 0; b < a.B; ++b)
    for (int64_t hk = 0; hk < Hkv; ++hk)
      for (int64_t qt = 0; qt < ceilDiv(a.rowCount[b], tileQ); ++qt) units.push_back({b, hk, qt, 0});
  const int64_t clsPerUnit = G * kp.nKt;
  Scratch<TileClass> classes(static_cast<size_t>(units.size()) * static_cast<size_t>(clsPerUnit), "tile classes");
  parallelFor(threads, static_cast<int64_t>(units.size()), [&](int64_t ui, int) {
    Unit& u = units[static_cast<size_t>(ui)];
    const int64_t q0 = u.qt * tileQ, q1 = std::min<int64_t>(a.rowCount[u.b], q0 + tileQ);
    TileClass* cls = classes.data() + ui * clsPerUnit;
    unitClasses(var, a, kp, G, u.b, u.hk, queryRange(a, u.b, q0, q1), cls);
    int64_t cost = 1;  // every unit runs: it writes its rows even when all tiles are empty
    for (int64_t j = 0; j < clsPerUnit; ++j) cost += (cls[j] != kTileEmpty) * (q1 - q0);
    u.cost = cost;
  });
  std::vector<int64_t> order(units.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return units[size_t(x)].cost > units[size_t(y)].cost; });

  // 3. Run them.
  const int64_t ldS = roundUp(kp.tileK, kKeyBlock);
  const int64_t ldO = roundUp(kv.Dv, 16);
  const int64_t ldP = roundUp(std::max<int64_t>(kv.maxLen, 1), 16);
  const int64_t nUnits = static_cast<int64_t>(units.size());
  const bool massHere = massOf(a) && nUnits * ldP <= massTapeLimit().load(std::memory_order_relaxed);
  Scratch<float> unitMass(massHere ? size_t(nUnits * ldP) : 0, "attention-mass partial sums");
  if (massHere) std::fill(unitMass.data(), unitMass.data() + nUnits * ldP, 0.0f);
  std::vector<MassTapeMemory> tapes(massHere ? static_cast<size_t>(threads) : 0);
  std::vector<std::unique_ptr<PanelScratch>> scratch(static_cast<size_t>(threads));
  parallelFor(threads, static_cast<int64_t>(order.size()), [&](int64_t oi, int w) {
    auto& ws = scratch[static_cast<size_t>(w)];
    if (!ws) ws = std::make_unique<PanelScratch>(kv.D, ldS, ldO);
    const int64_t ui = order[static_cast<size_t>(oi)];
    const Unit u = units[static_cast<size_t>(ui)];
    const TileClass* cls = classes.data() + ui * clsPerUnit;
    const int64_t q0 = u.qt * tileQ;
    const int64_t rowsInTile = std::min<int64_t>(tileQ, a.rowCount[u.b] - q0);
    const int64_t total = G * rowsInTile;
    const int64_t bh = u.b * Hkv + u.hk;
    const float* packedHead = packed.data() + bh * kp.headFloats;
    const float* vHead = vf.data() + bh * headV;
    const int32_t* qp = queryPositions(a, u.b);
    for (int64_t p0 = 0; p0 < total; p0 += kPanelRows) {
      const int R = static_cast<int>(std::min<int64_t>(kPanelRows, total - p0));
      RowInfo rows[kPanelRows];
      for (int r = 0; r < R; ++r) {
        const int64_t idx = p0 + r, g = idx / rowsInTile, i = q0 + idx % rowsInTile;
        rows[r] = RowInfo{u.hk * G + g, i, qp[i], g};
      }
      // Start fetching the next panel's query rows: Q is read once, so without this each panel
      // begins with cache misses (measured ~5% of the window case).
      for (int64_t r = p0 + kPanelRows; r < std::min(total, p0 + 2 * kPanelRows); ++r) {
        const int64_t h = u.hk * G + r / rowsInTile, i = q0 + r % rowsInTile;
        const char* src = reinterpret_cast<const char*>(queryRow(a, u.b, h, i));
        for (int64_t off = 0; off < kv.D * int64_t(sizeof(float)); off += 64) __builtin_prefetch(src + off);
      }
      MassTape tape;
      if (massHere) {
        MassTapeMemory& tm = tapes[static_cast<size_t>(w)];
        tm.reserve(kPanelRows * ldP, 1, kp.nKt, kPanelRows);
        tape = tm.view(0, ldP, 0, kp.nKt, kPanelRows, R);
      }
      withRows(R, [&](auto rc) {
        prefillPanel<V, decltype(rc)::value, T>(var, a, kp, packedHead, vHead, ldVf, u.b, u.hk, rows, cls, *ws, ldS, ldO,
                                                massHere ? &tape : nullptr, massHere ? unitMass.data() + ui * ldP : nullptr);
      });
    }
  });
  if (!massHere) return false;

  // 4. The mass: units of one (b, kv head) are consecutive in `units`, in query-tile order.
  std::vector<int64_t> firstUnit(static_cast<size_t>(BH + 1), nUnits);
  for (int64_t ui = nUnits - 1; ui >= 0; --ui) firstUnit[size_t(units[size_t(ui)].b * Hkv + units[size_t(ui)].hk)] = ui;
  for (int64_t bh = BH - 1; bh >= 0; --bh) firstUnit[size_t(bh)] = std::min(firstUnit[size_t(bh)], firstUnit[size_t(bh + 1)]);
  const int64_t nC = ceilDiv(kv.maxLen, kMassChunk);
  parallelFor(threads, BH * nC, [&](int64_t i, int) {
    const int64_t bh = i / nC, b = bh / Hkv, hk = bh % Hkv;
    const int64_t s0 = (i % nC) * kMassChunk, s1 = std::min(slotLen(kv, b, hk), s0 + kMassChunk);
    float* m = slotMass(a, b, hk);
    for (int64_t ui = firstUnit[size_t(bh)]; ui < firstUnit[size_t(bh + 1)]; ++ui) {
      const float* part = unitMass.data() + ui * ldP;
      for (int64_t s = s0; s < s1; ++s) m[s] += part[s];
    }
  });
  return true;
}

}  // namespace kvf::cpu
