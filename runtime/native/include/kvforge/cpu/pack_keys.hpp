// Packing K^T into key panels, once per call, before the prefill's main phase.
//
// Layout per (b, kv head): for each key tile kt, ceil(tileK / 16) panels of [D][16] floats; lane
// j of panel p of tile kt holds key slot kt * tileK + p * 16 + j. Panels start at tile starts
// (tileK need not be a multiple of 16), and lanes past the tile or past Lk are zero, so the
// micro-kernel always runs full 16-key panels and its padding scores are finite (the caller turns
// them into -inf).
#pragma once
#include <cstdint>
#include "kvforge/forward_args.hpp"
#include "kvforge/cpu/online_softmax.hpp"
#include "kvforge/cpu/tile_map.hpp"

namespace kvf::cpu {

struct KeyPanels {
  int64_t nKt;         // key tiles
  int64_t panelsPerTile;
  int64_t tileFloats;  // floats per key tile: panelsPerTile * 16 * D
  int64_t headFloats;  // floats per (b, kv head): nKt * tileFloats

  static KeyPanels of(const ForwardArgs& a) {
    KeyPanels p;
    p.nKt = ceilDiv(a.Lk, a.tileK);
    p.panelsPerTile = ceilDiv(a.tileK, kKeyBlock);
    p.tileFloats = p.panelsPerTile * kKeyBlock * a.D;
    p.headFloats = p.nKt * p.tileFloats;
    return p;
  }
};

// Pack key tile kt of (b, kv head) bh = b * Hkv + hk into dst (tileFloats floats).
inline void packKeyTile(const ForwardArgs& a, const KeyPanels& kp, int64_t bh, int64_t kt, float* dst) {
  const int64_t D = a.D;
  const int64_t k0 = kt * a.tileK;
  const int64_t nk = (a.Lk - k0 < a.tileK) ? a.Lk - k0 : a.tileK;
  const float* K = a.k + (bh * a.Lk + k0) * D;
  for (int64_t p = 0; p < kp.panelsPerTile; ++p) {
    float* panel = dst + p * kKeyBlock * D;
    for (int j = 0; j < kKeyBlock; ++j) {
      const int64_t key = p * kKeyBlock + j;
      if (key < nk) {
        const float* row = K + key * D;
        for (int64_t d = 0; d < D; ++d) panel[d * kKeyBlock + j] = row[d];
      } else {
        for (int64_t d = 0; d < D; ++d) panel[d * kKeyBlock + j] = 0.0f;
      }
    }
  }
}

}  // namespace kvf::cpu
