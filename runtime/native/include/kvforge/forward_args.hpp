// ForwardArgs: one attention call as the kernels see it (semantics.md section 1).
//
// Everything is a raw pointer into caller-owned memory; the kernels never allocate or free it.
// All tensors are row-major and contiguous:
//   q   [B, Hq,  Lq, D ]      k [B, Hkv, Lk, D]      v [B, Hkv, Lk, Dv]
//   out [B, Hq,  Lq, Dv]    lse [B, Hq,  Lq]  (natural-log log-sum-exp of the admissible scores)
//   qpos [Lq], kpos [Lk]: token positions; never null here (the glue fills the defaults
//   qpos[i] = Lk - Lq + i, kpos[j] = j), so kernels have one code path.
// Query head h reads key/value head h / (Hq / Hkv).
//
// tileMap[((bm * mapH + hm) * nQt + qt) * nKt + kt], bm = mapB == 1 ? 0 : b,
// hm = mapH == 1 ? 0 : h (h is the QUERY head), nQt = ceil(Lq / tileQ), nKt = ceil(Lk / tileK):
// 0 = EMPTY (skip), 1 = PARTIAL (evaluate the mask per element), 2 = FULL (no mask needed).
#pragma once
#include <cstdint>

namespace kvf {

struct ForwardArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  float* lse = nullptr;
  int64_t B = 0, Hq = 0, Hkv = 0, Lq = 0, Lk = 0, D = 0, Dv = 0;
  double scale = 0.0;  // s = scale * dot(q, k); the kernels round it to float once
  const int32_t* qpos = nullptr;
  const int32_t* kpos = nullptr;
  const uint8_t* tileMap = nullptr;
  int64_t tileQ = 0, tileK = 0;  // the kernel's compiled tiles (checked by the glue)
  int64_t mapB = 1, mapH = 1;    // 1 = one map shared by all batches / heads
  int threads = 1;               // worker threads, including the calling one
};

}  // namespace kvf
