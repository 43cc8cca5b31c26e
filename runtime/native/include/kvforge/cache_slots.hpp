// The KV cache's per-slot and per-summary-entry logic, written once for every backend: the CPU
// implementation (src/cache_cpu.cpp) loops over these functions, the CUDA kernels
// (src/cuda/cache_cuda.cu, compiled by nvcc and against the emulator) call them from one thread
// per element or per summary entry. Everything here is KVF_HOST_DEVICE, reads and writes only
// through the CacheView's pointers, and needs no CUDA header.
//
// Vocabulary: a head is hd = b * Hkv + h; a slot row has C = D + Dv + 1 columns: the D key
// values (columns [0, D)), the Dv value values ([D, D + Dv)) and the position (column D + Dv).
// A function over columns [c0, c1) lets the CPU pass a whole row (tight loops per part) and a
// CUDA thread a single column (c1 = c0 + 1), through the same code.
//
// Rounding: appended values are f32, stored in the cache dtype by convert.hpp's Storage<T>::store
// (round to nearest even; NaN stays NaN, overflow goes to infinity). Moves and copies are bit
// copies (uint32/uint16), so NaN payloads and signed zeros survive truncation and growth exactly.
#pragma once
#include <cstdint>
#include <cstring>
#include "kvforge/cache_ops.hpp"
#include "kvforge/convert.hpp"
#include "kvforge/dtype.hpp"
#include "kvforge/host_device.hpp"
#include "kvforge/slot_view.hpp"

namespace kvf {
namespace slots {

// An empty summary entry: [min, max] = (INT32_MAX, INT32_MIN), so min-of-mins / max-of-maxes
// over a kernel key tile ignores it.
constexpr int32_t kEmptyMin = 2147483647;
constexpr int32_t kEmptyMax = -2147483647 - 1;

// The bits of one stored element (what moves and copies carry).
template <DType T>
struct BitsOf {
  using type = uint16_t;
};
template <>
struct BitsOf<DType::F32> {
  using type = uint32_t;
};
template <DType T>
using Bits = typename BitsOf<T>::type;

// ---- geometry ------------------------------------------------------------------------------
// Columns of a slot row: D key values, Dv value values, the position, then (slot statistics)
// count, mass and bias.
KVF_HOST_DEVICE inline int64_t columns(const CacheView& c) { return c.D + c.Dv + 1 + (c.count ? 3 : 0); }
KVF_HOST_DEVICE inline int32_t* countRow(const CacheView& c, int64_t hd) { return c.count + hd * c.capacity; }
KVF_HOST_DEVICE inline float* massRow(const CacheView& c, int64_t hd) { return c.mass + hd * c.capacity; }
KVF_HOST_DEVICE inline float* biasRow(const CacheView& c, int64_t hd) { return c.bias + hd * c.capacity; }
KVF_HOST_DEVICE inline int64_t heads(const CacheView& c) { return c.B * c.Hkv; }
KVF_HOST_DEVICE inline int64_t entriesPerHead(const CacheView& c) { return c.capacity / kSummaryTile; }

template <class E>
KVF_HOST_DEVICE inline E* keyRow(const CacheView& c, int64_t hd, int64_t s) {
  return static_cast<E*>(c.k) + (hd * c.capacity + s) * c.D;
}
template <class E>
KVF_HOST_DEVICE inline E* valueRow(const CacheView& c, int64_t hd, int64_t s) {
  return static_cast<E*>(c.v) + (hd * c.capacity + s) * c.Dv;
}
KVF_HOST_DEVICE inline int32_t* posRow(const CacheView& c, int64_t hd) { return c.pos + hd * c.capacity; }
KVF_HOST_DEVICE inline int32_t* sumMinRow(const CacheView& c, int64_t hd) { return c.sumMin + hd * entriesPerHead(c); }
KVF_HOST_DEVICE inline int32_t* sumMaxRow(const CacheView& c, int64_t hd) { return c.sumMax + hd * entriesPerHead(c); }

KVF_HOST_DEVICE inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
KVF_HOST_DEVICE inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// ---- length rules --------------------------------------------------------------------------
// After appending `count` tokens to a head of length len. The clamp is the CUDA backends' guard
// for a caller that broke the precondition len + count <= capacity (the CPU throws instead).
KVF_HOST_DEVICE inline int64_t appendedLength(int64_t len, int64_t count, int64_t capacity) {
  return min64(len + (count > 0 ? count : 0), capacity);
}
// Whether truncating a head of length len to keep slots changes it (keep < 0: sequence untouched;
// keep >= len: head untouched).
KVF_HOST_DEVICE inline bool truncateChanges(int64_t len, int64_t keep) { return keep >= 0 && keep < len; }
// Destination slot d in [0, keep) takes source slot d + shift (shift >= 1 when truncateChanges).
KVF_HOST_DEVICE inline int64_t truncateShift(int64_t len, int64_t keep) { return len - keep; }
// Whether a truncation's source and destination ranges overlap ([shift, len) vs [0, keep)); only
// then does the order of the moves matter (ascending d is always safe: sources lie after their
// destinations).
KVF_HOST_DEVICE inline bool truncateOverlaps(int64_t len, int64_t keep) { return truncateShift(len, keep) < keep; }
// Length of a head of `to` after copyCache (the clamp is the CUDA guard, as for append).
KVF_HOST_DEVICE inline int64_t copiedLength(int64_t fromLen, int64_t toCapacity) { return min64(fromLen, toCapacity); }

// ---- slots ---------------------------------------------------------------------------------
// Columns [c0, c1) of token r of sequence b (source row start[b] + r of a.k, a.v, a.positions)
// into slot `slot` of KV head h, rounded to T. Slots at or past capacity are never written.
template <DType T>
KVF_HOST_DEVICE inline void appendColumns(const AppendArgs& a, int64_t b, int64_t h, int64_t r, int64_t slot,
                                          int64_t c0, int64_t c1) {
  using Raw = typename Storage<T>::Raw;
  const CacheView& c = a.cache;
  if (slot < 0 || slot >= c.capacity) return;
  const int64_t hd = b * c.Hkv + h;
  const int64_t src = int64_t(a.start[b]) + r;
  const float* ks = a.k + (src * c.Hkv + h) * c.D;
  Raw* kd = keyRow<Raw>(c, hd, slot);
  for (int64_t e = max64(c0, 0), e1 = min64(c1, c.D); e < e1; ++e) kd[e] = Storage<T>::store(ks[e]);
  const float* vs = a.v + (src * c.Hkv + h) * c.Dv;
  Raw* vd = valueRow<Raw>(c, hd, slot);
  for (int64_t e = max64(c0 - c.D, 0), e1 = min64(c1 - c.D, c.Dv); e < e1; ++e) vd[e] = Storage<T>::store(vs[e]);
  const int64_t pc = c.D + c.Dv;
  if (c0 <= pc && pc < c1) posRow(c, hd)[slot] = a.positions[src];
  if (c.count) {  // a raw token: count 1, no mass yet, bias ln(1) = 0
    if (c0 <= pc + 1 && pc + 1 < c1) countRow(c, hd)[slot] = 1;
    if (c0 <= pc + 2 && pc + 2 < c1) massRow(c, hd)[slot] = 0.0f;
    if (c0 <= pc + 3 && pc + 3 < c1) biasRow(c, hd)[slot] = 0.0f;
  }
}

// Columns [c0, c1) of slot ss of head shd of `src` to slot ds of head dhd of `dst` (same D, Dv,
// dtype; E = Bits<dtype>), as bits. dst may be src when the two slots differ.
// Elements [e0, e1) of one row (host: memcpy, the rows never overlap; a GPU thread copies one).
template <class E>
KVF_HOST_DEVICE inline void copyRange(E* dst, const E* src, int64_t e0, int64_t e1) {
#if defined(__CUDA_ARCH__)
  for (int64_t e = e0; e < e1; ++e) dst[e] = src[e];
#else
  if (e1 > e0) memcpy(dst + e0, src + e0, size_t(e1 - e0) * sizeof(E));
#endif
}
template <class E>
KVF_HOST_DEVICE inline void copyColumns(const CacheView& dst, int64_t dhd, int64_t ds, const CacheView& src,
                                        int64_t shd, int64_t ss, int64_t c0, int64_t c1) {
  copyRange(keyRow<E>(dst, dhd, ds), keyRow<E>(src, shd, ss), max64(c0, 0), min64(c1, src.D));
  copyRange(valueRow<E>(dst, dhd, ds), valueRow<E>(src, shd, ss), max64(c0 - src.D, 0), min64(c1 - src.D, src.Dv));
  const int64_t pc = src.D + src.Dv;
  if (c0 <= pc && pc < c1) posRow(dst, dhd)[ds] = posRow(src, shd)[ss];
  if (src.count && dst.count) {
    if (c0 <= pc + 1 && pc + 1 < c1) countRow(dst, dhd)[ds] = countRow(src, shd)[ss];
    if (c0 <= pc + 2 && pc + 2 < c1) massRow(dst, dhd)[ds] = massRow(src, shd)[ss];
    if (c0 <= pc + 3 && pc + 3 < c1) biasRow(dst, dhd)[ds] = biasRow(src, shd)[ss];
  }
}

// One column of a slot as 32 bits, and back: what a CUDA thread holds in registers between the
// read and the write phase of a truncation window (src/cuda/cache_cuda.cu).
KVF_HOST_DEVICE inline uint32_t floatBits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
#endif
}
KVF_HOST_DEVICE inline float bitsFloat(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  memcpy(&x, &u, 4);
  return x;
#endif
}
template <class E>
KVF_HOST_DEVICE inline uint32_t loadColumn(const CacheView& c, int64_t hd, int64_t s, int64_t col) {
  if (col < c.D) return uint32_t(keyRow<E>(c, hd, s)[col]);
  if (col < c.D + c.Dv) return uint32_t(valueRow<E>(c, hd, s)[col - c.D]);
  const int64_t x = col - c.D - c.Dv;
  if (x == 0) return uint32_t(posRow(c, hd)[s]);
  if (x == 1) return uint32_t(countRow(c, hd)[s]);
  return floatBits(x == 2 ? massRow(c, hd)[s] : biasRow(c, hd)[s]);
}
template <class E>
KVF_HOST_DEVICE inline void storeColumn(const CacheView& c, int64_t hd, int64_t s, int64_t col, uint32_t bits) {
  if (col < c.D) {
    keyRow<E>(c, hd, s)[col] = E(bits);
  } else if (col < c.D + c.Dv) {
    valueRow<E>(c, hd, s)[col - c.D] = E(bits);
  } else {
    const int64_t x = col - c.D - c.Dv;
    if (x == 0) posRow(c, hd)[s] = int32_t(bits);
    else if (x == 1) countRow(c, hd)[s] = int32_t(bits);
    else if (x == 2) massRow(c, hd)[s] = bitsFloat(bits);
    else biasRow(c, hd)[s] = bitsFloat(bits);
  }
}

// ---- summaries -----------------------------------------------------------------------------
// Entry t of head hd from the positions of slots [16t, 16t + 16) below len.
KVF_HOST_DEVICE inline void recomputeEntry(const CacheView& c, int64_t hd, int64_t len, int64_t t) {
  const int32_t* p = posRow(c, hd);
  int32_t mn = kEmptyMin, mx = kEmptyMax;
  for (int64_t s = t * kSummaryTile, s1 = min64(s + kSummaryTile, len); s < s1; ++s) {
    mn = p[s] < mn ? p[s] : mn;
    mx = p[s] > mx ? p[s] : mx;
  }
  sumMinRow(c, hd)[t] = mn;
  sumMaxRow(c, hd)[t] = mx;
}
KVF_HOST_DEVICE inline void emptyEntry(const CacheView& c, int64_t hd, int64_t t) {
  sumMinRow(c, hd)[t] = kEmptyMin;
  sumMaxRow(c, hd)[t] = kEmptyMax;
}
// The entries an append from len0 to len1 touched: [t0, t1) (empty when len1 <= len0).
KVF_HOST_DEVICE inline void touchedEntries(int64_t len0, int64_t len1, int64_t& t0, int64_t& t1) {
  t0 = len0 / kSummaryTile;
  t1 = len1 > len0 ? (len1 - 1) / kSummaryTile + 1 : t0;
}

// ---- host-side checks ----------------------------------------------------------------------
// What is wrong with a view's shape (nullptr: nothing). The backends add their own prefix.
inline const char* shapeProblem(const CacheView& c) {
  if (!validDType(int32_t(c.dtype))) return "unknown dtype";
  if (c.B < 0 || c.Hkv < 0 || c.D < 0 || c.Dv < 0 || c.capacity < 0) return "negative B, Hkv, D, Dv or capacity";
  if (c.capacity % kSummaryTile != 0) return "capacity is not a multiple of kSummaryTile (16)";
  if (heads(c) > 0 && (!c.len || !c.sumMin || !c.sumMax)) return "null len or summary pointer";
  if (heads(c) > 0 && c.capacity > 0 && (!c.pos || (c.D > 0 && !c.k) || (c.Dv > 0 && !c.v)))
    return "null k, v or pos pointer";
  if ((c.count != nullptr) != (c.mass != nullptr) || (c.count != nullptr) != (c.bias != nullptr))
    return "slot statistics need count, mass and bias together";
  return nullptr;
}

// ---- launch geometry (host) ----------------------------------------------------------------
// Blocks for a grid-stride loop over `units` work units of `perBlock` each: at least 1, at most
// maxBlocks (every kernel loops, so any cap is correct; the cap keeps gridDim.x within limits
// for any cache size).
inline unsigned gridBlocks(int64_t units, int64_t perBlock, int64_t maxBlocks) {
  const int64_t n = units <= 0 ? 1 : (units - 1) / perBlock + 1;
  return unsigned(n < 1 ? 1 : n > maxBlocks ? maxBlocks : n);
}

}  // namespace slots
}  // namespace kvf
