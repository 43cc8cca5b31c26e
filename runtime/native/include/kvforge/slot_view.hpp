// SlotView: the key/value slots one attention call reads, wherever they live (a KV cache, or the
// contiguous K/V arrays of a typed-array call). Kernels address slots only through this view, so
// a paged layout can later change slotK/slotV without touching the kernels' math.
//
// Slots of (sequence b, KV head h) are s = 0 .. len(b, h) - 1; lengths may differ per KV head
// (per-head compression policies). Slot s holds one token's key row (D values) and value row
// (Dv values) in `dtype`, and carries the token POSITION pos(b, h, s) that masks and scores see
// (semantics.md section 1: a merged slot carries the position of its newest token). Positions of
// one (b, h) need not be sorted or dense, but tile classification is only as sharp as the spread of
// positions inside a tile.
//
// Element addressing (strides in ELEMENTS of dtype, 0 = broadcast):
//   key row   k + b * kStrideB + h * kStrideH + s * kStrideS
//   value row v + b * vStrideB + h * vStrideH + s * vStrideS
//   position  pos[b * posStrideB + h * posStrideH + s]
//   length    len[b * lenStrideB + h * lenStrideH]
// Position summary, what tile classification reads instead of scanning positions: entry t of
// (b, h) is the [min, max] of the positions of slots [t * kSummaryTile, (t + 1) * kSummaryTile)
// that are below len(b, h):
//   sumMin[b * sumStrideB + h * sumStrideH + t], sumMax[same]
// A kernel key tile (a multiple of kSummaryTile slots) takes the min of mins and max of maxes of
// the entries it covers. Every pointer is in the memory of the call's target (host memory on the
// CPU and the emulator, device memory on a GPU).
#pragma once
#include <cstdint>
#include "kvforge/dtype.hpp"
#include "kvforge/host_device.hpp"

namespace kvf {

constexpr int64_t kSummaryTile = 16;  // slots per summary entry; kernel tileK is a multiple of it

struct SlotView {
  const void* k = nullptr;
  const void* v = nullptr;
  DType dtype = DType::F32;
  int64_t B = 0, Hkv = 0, D = 0, Dv = 0;
  int64_t capacity = 0;  // slots addressable per (b, h): every len(b, h) <= capacity
  int64_t maxLen = 0;    // max over (b, h) of len(b, h): kernels size their key splits by it
  int64_t kStrideB = 0, kStrideH = 0, kStrideS = 0;
  int64_t vStrideB = 0, vStrideH = 0, vStrideS = 0;
  const int32_t* pos = nullptr;
  int64_t posStrideB = 0, posStrideH = 0;
  const int32_t* len = nullptr;
  int64_t lenStrideB = 0, lenStrideH = 0;
  const int32_t* sumMin = nullptr;
  const int32_t* sumMax = nullptr;
  int64_t sumStrideB = 0, sumStrideH = 0;
};

// Typed accessors (T = float, or the backend's 16-bit storage type matching dtype).
template <class T>
KVF_HOST_DEVICE inline const T* slotK(const SlotView& v, int64_t b, int64_t h, int64_t s) {
  return static_cast<const T*>(v.k) + b * v.kStrideB + h * v.kStrideH + s * v.kStrideS;
}
template <class T>
KVF_HOST_DEVICE inline const T* slotV(const SlotView& v, int64_t b, int64_t h, int64_t s) {
  return static_cast<const T*>(v.v) + b * v.vStrideB + h * v.vStrideH + s * v.vStrideS;
}
KVF_HOST_DEVICE inline const int32_t* slotPos(const SlotView& v, int64_t b, int64_t h) {
  return v.pos + b * v.posStrideB + h * v.posStrideH;
}
KVF_HOST_DEVICE inline int64_t slotLen(const SlotView& v, int64_t b, int64_t h) { return v.len[b * v.lenStrideB + h * v.lenStrideH]; }

}  // namespace kvf
