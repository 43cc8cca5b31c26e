// Packing K^T into key panels, once per call, before the prefill's main phase; and widening V to
// f32 when it is stored in 16 bits (prefill is compute-bound: one pass over V costs little).
//
// Layout per (b, kv head): for each key tile kt, ceil(tileK / 16) panels of [D][16] floats; lane
// j of panel p of tile kt holds key slot kt * tileK + p * 16 + j. Panels start at tile starts
// (tileK need not be a multiple of 16), and lanes past the tile or past the head's length are
// zero, so the micro-kernel always runs full 16-key panels and its padding scores are finite
// (the caller turns them into -inf). Every (b, kv head) gets room for nKt = ceil(maxLen / tileK)
// tiles; a shorter head uses a prefix of it.
#pragma once
#include <cstdint>
#include "kvforge/slot_view.hpp"
#include "kvforge/cpu/online_softmax.hpp"
#include "kvforge/cpu/storage_rows.hpp"
#include "kvforge/cpu/tile_map.hpp"

namespace kvf::cpu {

struct KeyPanels {
  int64_t tileK;
  int64_t nKt;         // key tiles of the longest head
  int64_t panelsPerTile;
  int64_t tileFloats;  // floats per key tile: panelsPerTile * 16 * D
  int64_t headFloats;  // floats per (b, kv head): nKt * tileFloats

  static KeyPanels of(const SlotView& kv, int64_t tileK) {
    KeyPanels p;
    p.tileK = tileK;
    p.nKt = ceilDiv(kv.maxLen, tileK);
    p.panelsPerTile = ceilDiv(tileK, kKeyBlock);
    p.tileFloats = p.panelsPerTile * kKeyBlock * kv.D;
    p.headFloats = p.nKt * p.tileFloats;
    return p;
  }
};

// Pack key tile kt of (b, hk) into dst (tileFloats floats); `row` is a tileK x D f32 scratch
// used to widen 16-bit keys.
template <DType T>
inline void packKeyTile(const SlotView& kv, const KeyPanels& kp, int64_t b, int64_t hk, int64_t kt, float* dst, float* row) {
  const int64_t D = kv.D;
  const int64_t k0 = kt * kp.tileK;
  const int64_t len = slotLen(kv, b, hk);
  const int64_t nk = k0 >= len ? 0 : (len - k0 < kp.tileK ? len - k0 : kp.tileK);
  const float* K;
  int64_t ldK;
  if constexpr (T == DType::F32) {
    K = slotK<float>(kv, b, hk, k0), ldK = kv.kStrideS;
    (void)row;
  } else {
    widenRows<T>(slotK<typename Storage<T>::Raw>(kv, b, hk, k0), kv.kStrideS, nk, D, row, D);
    K = row, ldK = D;
  }
  for (int64_t p = 0; p < kp.panelsPerTile; ++p) {
    float* panel = dst + p * kKeyBlock * D;
    for (int j = 0; j < kKeyBlock; ++j) {
      const int64_t key = p * kKeyBlock + j;
      if (key < nk) {
        const float* r = K + key * ldK;
        for (int64_t d = 0; d < D; ++d) panel[d * kKeyBlock + j] = r[d];
      } else {
        for (int64_t d = 0; d < D; ++d) panel[d * kKeyBlock + j] = 0.0f;
      }
    }
  }
}

}  // namespace kvf::cpu
