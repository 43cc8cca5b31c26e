// The mask and score stage of one tile: which keys a group of rows may see, and turning raw
// Q*K^T results into log2-unit scores.
//
// The mask is evaluated FIRST (admissibleRange), before any Q*K^T work: inside a PARTIAL tile
// the admissible keys of a 6-row panel usually occupy a narrow band (the diagonal of causal
// masks, the window of sliding ones), and the 16-key blocks outside that band are not computed
// at all.
//
// Score order (semantics.md 1): s = scale * dot, then score(s) if the variant has one, then the
// mask, which replaces a score by -inf by SELECTION (never by adding -inf: a NaN score of a
// masked key must vanish). Finally the score is put in log2 units for exp2. Without a score
// function the caller has already folded scale * log2(e) into Q, so only the mask remains. With
// one, Q is unscaled and each score is computed exactly as the contract says first.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include "kvforge/cpu/tile_map.hpp"

namespace kvf::cpu {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kKeyBlock = 16;  // keys per block: the Q*K^T micro-kernel width, the unit of PV modes

// Last occurrence of byte c in [p, p + n), or nullptr.
inline const void* lastByte(const uint8_t* p, int c, size_t n) {
#if defined(__GLIBC__)
  return memrchr(p, c, n);
#else
  for (size_t i = n; i-- > 0;)
    if (p[i] == c) return p + i;
  return nullptr;
#endif
}

// Keys [lo, hi) of a tile; lo is a multiple of kKeyBlock.
struct KeyRange {
  int lo, hi;
  bool empty() const { return lo >= hi; }
};

// For rows [0, nRows) against keys [0, nk) (kpos points at key 0): evaluates the mask of the
// PARTIAL rows into admit[r * ldA + j] (1 = admissible; FULL and EMPTY rows' entries are not
// written) and returns the smallest block-aligned range holding every admissible key of every
// row. An empty range means no row admits any key here.
template <class V>
KeyRange admissibleRange(const V& var, int64_t b, const RowInfo* rows, const TileClass* cls, int nRows,
                         const int32_t* kpos, int nk, uint8_t* admit, int64_t ldA) {
  int lo = nk, hi = 0;
  bool anyFull = false;
  for (int r = 0; r < nRows; ++r) anyFull |= cls[r] == kTileFull;
  if (anyFull) lo = 0, hi = nk;  // the whole tile is needed, but PARTIAL rows still need their flags
  if constexpr (V::kHasMask) {
    for (int r = 0; r < nRows; ++r) {
      if (cls[r] != kTilePartial) continue;
      uint8_t* a = admit + r * ldA;
      const int64_t h = rows[r].h, qp = rows[r].qpos;
      for (int j = 0; j < nk; ++j) a[j] = var.mask(b, h, qp, kpos[j]) ? 1 : 0;
      // memchr/memrchr: the masked prefix or suffix of a window is often ~100 keys long.
      if (const void* f = std::memchr(a, 1, static_cast<size_t>(lo))) lo = static_cast<int>(static_cast<const uint8_t*>(f) - a);
      if (const void* l = lastByte(a + hi, 1, static_cast<size_t>(nk - hi)))
        hi = static_cast<int>(static_cast<const uint8_t*>(l) - a) + 1;
    }
  }
  return KeyRange{lo / kKeyBlock * kKeyBlock, hi};
}

// S: nRows x ldS holding raw Q*K^T of keys [lo, lo + nk) in its first nk columns; columns up to
// nkPad are padding and become -inf. kpos, admit and bias (the per-slot logit bias of AttnArgs v3,
// natural log, or null) point at key lo; the bias is added after the score function.
template <class V>
void applyScoreMask(const V& var, int64_t b, const RowInfo* rows, const TileClass* cls, int nRows,
                    const int32_t* kpos, const uint8_t* admit, int64_t ldA, int nk, int nkPad, float scale, float* S,
                    int64_t ldS, const float* bias = nullptr) {
  for (int r = 0; r < nRows; ++r) {
    float* s = S + r * ldS;
    if (cls[r] == kTileEmpty) {
      for (int j = 0; j < nkPad; ++j) s[j] = -INFINITY;
      continue;
    }
    const bool partial = V::kHasMask && cls[r] == kTilePartial;
    const uint8_t* a = admit + r * ldA;
    if constexpr (V::kHasScore) {
      const int64_t h = rows[r].h, qp = rows[r].qpos;
      for (int j = 0; j < nk; ++j) {
        const float y = var.score(s[j] * scale, b, h, qp, kpos[j]);
        const float x = (bias ? y + bias[j] : y) * kLog2e;
        s[j] = !partial || a[j] ? x : -INFINITY;
      }
    } else {
      (void)var, (void)scale;
      if (bias)
        for (int j = 0; j < nk; ++j) s[j] += bias[j] * kLog2e;
      if (partial)
        for (int j = 0; j < nk; ++j) s[j] = a[j] ? s[j] : -INFINITY;
    }
    for (int j = nk; j < nkPad; ++j) s[j] = -INFINITY;
  }
}

}  // namespace kvf::cpu
