// AttnArgs: one attention call as every kernel sees it, version 2 of the kernel interface
// (semantics.md section 1). Version 1 (contiguous [B, Hq, Lq, D] arrays, one position map for
// every sequence and head, a host-computed tile map) is now an adapter that builds one of these
// (kvforge/v1_call.hpp).
//
// Queries: sequence b has rowCount[b] query rows (0 = the sequence takes no part in this call),
// row i of it at position qpos[rowStart[b] + i + b * qposStrideB]. Element d of query head h of
// that row is
//   q[(rowStart[b] + i) * qStrideRow + b * qStrideB + h * qStrideH + d]          (f32)
// and out / lse are addressed the same way with their own strides (out f32 [.. Dv], lse f32,
// natural log). A packed ragged batch (queries [totalRows, Hq, D], rowStart = prefix sums of
// rowCount) has qStrideB = 0, qStrideH = D, qStrideRow = Hq * D; the v1 layout [B, Hq, Lq, D]
// has rowStart[b] = 0, qStrideB = Hq * Lq * D, qStrideH = Lq * D, qStrideRow = D.
// Keys and values: `kv` (slot_view.hpp), ragged per (b, KV head); query head h reads KV head
// h / (Hq / kv.Hkv). Each row attends over the slots of its own sequence and KV head only.
//
// Tile classes are not passed: the kernel asks the Variant's generated classify() (printed from
// the interval rules, codegen/backends) for each (query tile, key tile) with the [min, max] of the
// tile's query positions and the key tile's position summary. A Variant without classify() is
// treated as PARTIAL everywhere (sound, slower).
//
// Versioning: `version` and `bytes` are checked by every kernel entry (checkArgsVersion), which
// rejects a struct older than the fields it reads. Later versions only APPEND fields and bump
// kAttnArgsVersion; a field left null/zero keeps the earlier behaviour.
//
// Version 3 (cache compression, semantics.md section 3), both optional (null: absent):
// - bias: a per-slot logit bias in natural-log units, bias[b * biasStrideB + h * biasStrideH + s]
//   for KV head h, added to the score after the score function and before the mask:
//   s = score(scale * dot(q, k)) + bias (countBias: ln(count) of a merged slot).
// - mass: the attention-mass output, per slot, with the same addressing (massStrideB/H):
//   mass[b, h, s] += sum over the call's rows i of sequence b and the query heads g of KV head h
//   of p(b, g, i, s) = exp(s - lse(b, g, i)) for an admissible s (0 for a masked one); NaN where a
//   NaN reaches p. The sum over rows and heads is taken in a fixed order (heads, then rows), so the
//   result does not depend on the thread count. Slots at or past len(b, h) are not written. lse
//   must be given with mass. A backend that cannot compute a field it is given throws; it never
//   ignores it.
//
// Every pointer is in the target's memory: host memory for the CPU and the CUDA emulator, device
// memory for a GPU (rowStart and rowCount included).
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include "kvforge/slot_view.hpp"

namespace kvf {

constexpr uint32_t kAttnArgsVersion = 3;

struct AttnArgs {
  uint32_t version = kAttnArgsVersion;
  uint32_t bytes = sizeof(AttnArgs);

  int64_t B = 0;   // sequences (kv.B == B)
  int64_t Hq = 0;  // query heads; kv.Hkv divides it
  const int32_t* rowStart = nullptr;  // [B]
  const int32_t* rowCount = nullptr;  // [B]
  int64_t maxRows = 0;                // max of rowCount: kernels size their grids by it
  int64_t totalRows = 0;              // sum of rowCount (cost estimates only)

  const float* q = nullptr;
  int64_t qStrideB = 0, qStrideH = 0, qStrideRow = 0;
  const int32_t* qpos = nullptr;
  int64_t qposStrideB = 0;
  float* out = nullptr;
  int64_t oStrideB = 0, oStrideH = 0, oStrideRow = 0;
  float* lse = nullptr;
  int64_t lseStrideB = 0, lseStrideH = 0, lseStrideRow = 0;

  SlotView kv;
  double scale = 0.0;  // s = scale * dot(q, k); kernels round it to float once

  int threads = 1;         // CPU: worker threads, including the calling one
  void* stream = nullptr;  // CUDA: the cudaStream_t to run on (null: the legacy default stream)

  // ---- version 3 ----
  const float* bias = nullptr;
  int64_t biasStrideB = 0, biasStrideH = 0;
  float* mass = nullptr;
  int64_t massStrideB = 0, massStrideH = 0;
};

// Bytes of each version of the struct: what a caller of that version filled in.
constexpr uint32_t kAttnArgsBytesV2 = uint32_t(offsetof(AttnArgs, bias));
constexpr uint32_t kAttnArgsBytesV3 = uint32_t(sizeof(AttnArgs));

inline uint32_t attnArgsBytes(uint32_t version) { return version >= 3 ? kAttnArgsBytesV3 : kAttnArgsBytesV2; }

// Throws std::invalid_argument unless `a` is at least version `needed` of the struct.
inline void checkArgsVersion(const AttnArgs& a, uint32_t needed, const char* who) {
  if (a.version < needed || a.version > kAttnArgsVersion || a.bytes < attnArgsBytes(needed) || a.bytes < attnArgsBytes(a.version))
    throw std::invalid_argument(std::string(who) + ": kernel argument struct version " + std::to_string(a.version) +
                                " (" + std::to_string(a.bytes) + " bytes) is not one this kernel reads (versions " +
                                std::to_string(needed) + ".." + std::to_string(kAttnArgsVersion) + ", " +
                                std::to_string(attnArgsBytes(needed)) + " bytes or more)");
}

// The version-3 fields, or null for an older struct.
inline const float* biasOf(const AttnArgs& a) { return a.version >= 3 ? a.bias : nullptr; }
inline float* massOf(const AttnArgs& a) { return a.version >= 3 ? a.mass : nullptr; }
KVF_HOST_DEVICE inline const float* slotBias(const AttnArgs& a, int64_t b, int64_t h) {
  return a.bias + b * a.biasStrideB + h * a.biasStrideH;
}
KVF_HOST_DEVICE inline float* slotMass(const AttnArgs& a, int64_t b, int64_t h) {
  return a.mass + b * a.massStrideB + h * a.massStrideH;
}

// Query row i of sequence b: the index of its query position, and its element offsets.
KVF_HOST_DEVICE inline int64_t rowIndex(const AttnArgs& a, int64_t b, int64_t i) { return a.rowStart[b] + i; }
KVF_HOST_DEVICE inline const int32_t* queryPositions(const AttnArgs& a, int64_t b) {
  return a.qpos + a.rowStart[b] + b * a.qposStrideB;
}
KVF_HOST_DEVICE inline const float* queryRow(const AttnArgs& a, int64_t b, int64_t h, int64_t i) {
  return a.q + (a.rowStart[b] + i) * a.qStrideRow + b * a.qStrideB + h * a.qStrideH;
}
KVF_HOST_DEVICE inline float* outRow(const AttnArgs& a, int64_t b, int64_t h, int64_t i) {
  return a.out + (a.rowStart[b] + i) * a.oStrideRow + b * a.oStrideB + h * a.oStrideH;
}
KVF_HOST_DEVICE inline float* lseAt(const AttnArgs& a, int64_t b, int64_t h, int64_t i) {
  return a.lse + (a.rowStart[b] + i) * a.lseStrideRow + b * a.lseStrideB + h * a.lseStrideH;
}

}  // namespace kvf
