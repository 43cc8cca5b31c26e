// Reading the tile map (layout in forward_args.hpp) and describing the query rows a kernel
// processes together.
#pragma once
#include <cstdint>
#include "kvforge/forward_args.hpp"

namespace kvf::cpu {

enum TileClass : uint8_t { kTileEmpty = 0, kTilePartial = 1, kTileFull = 2 };

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t m) { return ceilDiv(a, m) * m; }

// The nKt classes of query tile qt for batch b and QUERY head h.
inline const uint8_t* tileRow(const ForwardArgs& a, int64_t b, int64_t h, int64_t qt) {
  const int64_t nQt = ceilDiv(a.Lq, a.tileQ), nKt = ceilDiv(a.Lk, a.tileK);
  const int64_t bm = a.mapB == 1 ? 0 : b, hm = a.mapH == 1 ? 0 : h;
  return a.tileMap + ((bm * a.mapH + hm) * nQt + qt) * nKt;
}

// Class of a tile as the kernel acts on it: without a mask there is nothing to evaluate, so a
// PARTIAL entry is treated as FULL (the map is all FULL then anyway).
template <class V>
inline TileClass effectiveClass(uint8_t c) {
  if (c == kTileEmpty) return kTileEmpty;
  if constexpr (!V::kHasMask) return kTileFull;
  return c == kTileFull ? kTileFull : kTilePartial;
}

// One query row of a group processed against the same keys. Rows of one group always share the
// batch and the KV head; they may belong to different query heads (GQA grouping).
struct RowInfo {
  int64_t h;            // query head
  int64_t i;            // query row index in [0, Lq)
  int64_t qpos;         // its token position
  const uint8_t* map;   // its tile-map row (nKt classes)
};

inline RowInfo makeRow(const ForwardArgs& a, int64_t b, int64_t h, int64_t i) {
  return RowInfo{h, i, a.qpos[i], tileRow(a, b, h, i / a.tileQ)};
}

}  // namespace kvf::cpu
