// Tile classes and the query rows a kernel processes together.
#pragma once
#include <cstdint>

namespace kvf::cpu {

enum TileClass : uint8_t { kTileEmpty = 0, kTilePartial = 1, kTileFull = 2 };

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t m) { return ceilDiv(a, m) * m; }

// Class of a tile as the kernel acts on it: without a mask there is nothing to evaluate, so a
// PARTIAL class is treated as FULL.
template <class V>
inline TileClass effectiveClass(uint8_t c) {
  if (c == kTileEmpty) return kTileEmpty;
  if constexpr (!V::kHasMask) return kTileFull;
  return c == kTileFull ? kTileFull : kTilePartial;
}

// One query row of a group processed against the same keys. Rows of one group always share the
// sequence and the KV head; they may belong to different query heads (GQA grouping).
struct RowInfo {
  int64_t h;     // query head
  int64_t i;     // query row index within its sequence
  int64_t qpos;  // its token position
  int64_t g;     // h - first query head of the KV group (index into per-head class tables)
};

}  // namespace kvf::cpu
