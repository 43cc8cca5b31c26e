// Turning raw Q*K^T results into log2-unit scores for one block of rows x keys.
//
// Order (semantics.md 1): s = scale * dot, then score(s) if the variant has one, then the mask,
// which replaces a score by -inf by SELECTION (never by adding -inf: a NaN score of a masked key
// must vanish). Finally the score is put in log2 units for exp2.
//
// Without a score function the caller has already folded scale * log2(e) into Q, so the block
// holds log2-unit scores and only the mask remains. With one, Q is unscaled and each score is
// computed exactly as the contract says before it is converted.
#pragma once
#include <cmath>
#include <cstdint>
#include "kvforge/cpu/tile_map.hpp"

namespace kvf::cpu {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// S: nRows x ldS; the first nk columns hold keys [k0, k0 + nk) of the tile, the rest up to nkPad
// are padding and become -inf. cls[r]: the row's class for this tile; kpos points at key k0.
template <class V>
void applyScoreMask(const V& var, int64_t b, const RowInfo* rows, const TileClass* cls, int nRows,
                    const int32_t* kpos, int nk, int nkPad, float scale, float* S, int64_t ldS) {
  for (int r = 0; r < nRows; ++r) {
    float* s = S + r * ldS;
    if (cls[r] == kTileEmpty) {
      for (int j = 0; j < nkPad; ++j) s[j] = -INFINITY;
      continue;
    }
    const int64_t h = rows[r].h, qp = rows[r].qpos;
    if constexpr (V::kHasScore) {
      if (V::kHasMask && cls[r] == kTilePartial) {
        for (int j = 0; j < nk; ++j) {
          const float x = var.score(s[j] * scale, b, h, qp, kpos[j]);
          s[j] = var.mask(b, h, qp, kpos[j]) ? x * kLog2e : -INFINITY;
        }
      } else {
        for (int j = 0; j < nk; ++j) s[j] = var.score(s[j] * scale, b, h, qp, kpos[j]) * kLog2e;
      }
    } else if constexpr (V::kHasMask) {
      if (cls[r] == kTilePartial)
        for (int j = 0; j < nk; ++j) s[j] = var.mask(b, h, qp, kpos[j]) ? s[j] : -INFINITY;
    }
    for (int j = nk; j < nkPad; ++j) s[j] = -INFINITY;
  }
}

}  // namespace kvf::cpu
