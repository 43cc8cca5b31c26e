// One warp's flash-attention step over a chunk of up to 32 keys, shared by the prefill and the
// decode kernels. A warp owns R query rows; the step is
//   scores  (lane j = key j):        S[r][j] = q_r . k_j, score(), mask, in log2 units
//   softmax (lane r = row r):        running max m and sum l of row r, S[r][j] -> p, alpha[r]
//   P*V     (lane = channels c = lane + 32 i):  acc[r][i] = acc[r][i] * alpha[r] + sum_j p * v
// with the warp's scratch W in shared memory between the phases (exchanging through shared
// memory, not shuffles: one __syncwarp per phase instead of a shuffle per row).
//
// Semantics (semantics.md section 1), as the CPU kernels implement them (cpu/online_softmax.hpp):
// - masked, padding and EMPTY-tile scores are -inf, so their p is exactly 0;
// - while a row has seen only -inf, m stays -inf and exponents are taken relative to 0: p = 0,
//   alpha = 0, l = 0, never (-inf) - (-inf); a row that ends with l == 0 outputs 0 and lse -inf;
// - p below 2^-126 is flushed to 0 (the documented CPU rule), and a key with p == 0 never touches
//   the accumulator (0 * NaN must not leak): when any p of a live row is 0 the warp takes the
//   "safe" P*V loop that selects instead of multiplying;
// - NaN in an admitted score makes p, l and the row NaN; rows that do not admit it are unaffected.
#pragma once
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/storage.cuh"

namespace kvf {
namespace KVF_CUDA_NS {

constexpr int kWarpSize = 32;
constexpr int kWarps = 4;                    // warps per block, both kernels
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kChunk = 32;                   // keys per warp step: one per lane in the score phase
constexpr int kLdS = kChunk + 4;             // S row stride: 16-byte aligned rows for float4 reads
constexpr int kPadK = 4;                     // K rows in shared memory: D + 4 floats, so that the
                                             // lanes' 16-byte reads of 32 different keys hit
                                             // distinct banks
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int64_t kMaxSlotStride = int64_t(1) << 26;  // |slot stride| bound: 32 rows' offsets fit an int
constexpr float kLog2e = 1.4426950408889634f;  // scores are kept in log2 units: exp2f is cheap
constexpr float kLn2 = 0.6931471805599453f;    // lse = ln 2 * (m + log2 l)
constexpr float kFlushBelow = -126.0f;         // 2^x below f32's smallest normal is flushed to 0

// Per-warp shared scratch of a step, in floats: S [R][kLdS], alpha [R], l [R].
template <int R>
constexpr int kWarpScratchFloats = (R * kLdS + 2 * R + 3) / 4 * 4;

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }

// 2^x, flushed to exactly 0 below 2^-126; exp2(-inf) = 0, NaN stays NaN.
__device__ __forceinline__ float exp2Flush(float x) { return x < kFlushBelow ? 0.0f : exp2f(x); }

// The rows a warp works on. Row r's query is Q[r * ldQ ...] in shared memory (pre-scaled, see
// qScale in the kernels), its query head rowH[r] and token position rowPos[r].
struct WarpRows {
  const float* Q;
  int ldQ;
  const int* rowH;
  const int* rowPos;
  uint32_t live;    // bit r: row r takes part in this chunk (a real row whose tile is not EMPTY)
  uint32_t masked;  // bit r: the mask must be evaluated for row r (a PARTIAL tile)
};

// Scores of keys K[0..nk) (row stride ldK, element type KT: float shared memory or the storage
// dtype in global memory) for the warp's R rows, into S. Rows are computed in groups of RG (a
// group is skipped when none of its rows is live), so a warp with few live rows does little work.
// KU: 4-element pieces of the key row loaded ahead of their use (1 for shared memory; more for
// global memory, to keep several loads in flight per lane).
// Q was pre-multiplied by scale * log2(e) when there is no score function; else s = scale * q.k
// is formed exactly, passed to score(), and converted to log2 units afterwards. kpos() returns the
// keys' positions and kbias() their per-slot logit bias (AttnArgs v3, natural log; null: none,
// added after score()); both are called where they are read (after the dot products), so that a
// pointer the caller keeps in shared memory is not held in registers through them.
template <class V, int R, int RG, int KU, class KT, class PosFn, class BiasFn>
__device__ __forceinline__ void scoreChunk(const V& var, int64_t b, const WarpRows& rows, const KT* K, int ldK,
                                           const PosFn& kpos, const BiasFn& kbias, int nk, float scale, float* S) {
  constexpr int D = V::kHeadDim;
  constexpr int kVec = 4;
  static_assert(R % RG == 0, "row groups must tile the rows");
  static_assert(D % (kVec * KU) == 0, "KU pieces must tile the head dim");
  const int lane = threadIdx.x % kWarpSize;
  const int j = imin(lane, nk - 1);  // lanes past the chunk's end recompute its last key, unused
  const KT* kr = K + j * ldK;
  float s[R];
  KVF_UNROLL
  for (int r = 0; r < R; ++r) s[r] = 0.0f;
  KVF_UNROLL
  for (int g = 0; g < R; g += RG) {
    const uint32_t groupBits = (RG >= 32 ? kFullMask : ((1u << RG) - 1u)) << g;
    if ((rows.live & groupBits) == 0) continue;
#if defined(__CUDACC__)
#pragma unroll 1
#endif
    for (int d0 = 0; d0 < D; d0 += kVec * KU) {
      float k4[KU][kVec];
      KVF_UNROLL
      for (int u = 0; u < KU; ++u) loadFloats<kVec>(kr + d0 + u * kVec, k4[u]);
      KVF_UNROLL
      for (int u = 0; u < KU; ++u) {
        KVF_UNROLL
        for (int r = g; r < g + RG; ++r) {
          float q4[kVec];
          loadFloats<kVec>(rows.Q + r * rows.ldQ + d0 + u * kVec, q4);  // same address in all lanes
          KVF_UNROLL
          for (int t = 0; t < kVec; ++t) s[r] = fmaf(q4[t], k4[u][t], s[r]);
        }
      }
    }
  }
  const int64_t kp = kpos()[j];
  const float* bp = kbias();
  const float kb = bp ? bp[j] * kLog2e : 0.0f;  // bias in log2 units
  KVF_UNROLL
  for (int r = 0; r < R; ++r) {
    float x = -INFINITY;
    if (((rows.live >> r) & 1u) && lane < nk) {
      x = s[r];
      if constexpr (V::kHasScore) x = var.score(x * scale, b, rows.rowH[r], rows.rowPos[r], kp) * kLog2e;
      x += kb;
      if constexpr (V::kHasMask) {
        if (((rows.masked >> r) & 1u) && !var.mask(b, rows.rowH[r], rows.rowPos[r], kp)) x = -INFINITY;
      }
    }
    S[r * kLdS + lane] = x;
  }
}

// Softmax update of the live rows: lane r owns row r's running (m, l). Replaces S by p, writes
// alpha[r]. Returns, in every lane, whether some live row has p == 0 for one of keys [0, nk).
template <int R>
__device__ __forceinline__ bool softmaxChunk(float* S, float* alpha, uint32_t live, int nk, float& m, float& l) {
  const int lane = threadIdx.x % kWarpSize;
  bool zero = false;
  if (lane < R && ((live >> lane) & 1u)) {
    float* s = S + lane * kLdS;
    float mx = -INFINITY;
    KVF_UNROLL_BY(8)
    for (int j = 0; j < kChunk; ++j) mx = s[j] > mx ? s[j] : mx;  // NaN is dropped here and
                                                                  // turns p NaN below
    const float mNew = mx > m ? mx : m;
    const float ref = mNew == -INFINITY ? 0.0f : mNew;
    const float a = exp2Flush(m - ref);
    float sum = 0.0f;
    KVF_UNROLL_BY(8)
    for (int j = 0; j < kChunk; ++j) {
      const float p = exp2Flush(s[j] - ref);  // padding keys are -inf: p = 0
      s[j] = p;
      sum += p;
      zero |= (p == 0.0f) & (j < nk);
    }
    l = l * a + sum;
    m = mNew;
    alpha[lane] = a;
  }
  return __any_sync(kFullMask, zero);
}

// acc = acc * alpha + P V for the live rows; V rows [0, nk) with stride ldV (float shared memory
// or storage dtype in global memory); lane holds channels lane + 32 i. kSafe: keys with p == 0
// are skipped by selection, so a NaN or Inf in their value never enters.
// values() returns the value rows (called once, here, as kpos() in scoreChunk). Row strides are
// int: offsets inside a chunk (32 rows) stay in 32 bits (host.cuh bounds slot strides by
// kMaxSlotStride).
template <bool kSafe, int R, int D, class VFn>
__device__ __forceinline__ void pvChunk(float (&acc)[R][D / kWarpSize], const float* S, const float* alpha,
                                        uint32_t live, const VFn& values, int ldV, int nk) {
  const auto* Vp = values();
  constexpr int C = D / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  KVF_UNROLL
  for (int r = 0; r < R; ++r) {
    if (!((live >> r) & 1u)) continue;
    const float a = alpha[r];
    KVF_UNROLL
    for (int i = 0; i < C; ++i) acc[r][i] *= a;
  }
#if defined(__CUDACC__)
#pragma unroll 1
#endif
  for (int j0 = 0; j0 < nk; j0 += 4) {
    float v[4][C];
    KVF_UNROLL
    for (int t = 0; t < 4; ++t) {
      const auto* vr = Vp + ((j0 + t) * ldV + lane);
      KVF_UNROLL
      for (int i = 0; i < C; ++i) v[t][i] = j0 + t < nk ? toFloat(vr[i * kWarpSize]) : 0.0f;
    }
    KVF_UNROLL
    for (int r = 0; r < R; ++r) {
      if (!((live >> r) & 1u)) continue;
      float p[4];
      loadFloats<4>(S + r * kLdS + j0, p);  // broadcast; p = 0 past nk
      KVF_UNROLL
      for (int t = 0; t < 4; ++t) {
        KVF_UNROLL
        for (int i = 0; i < C; ++i) {
          if constexpr (kSafe) acc[r][i] = p[t] != 0.0f ? fmaf(p[t], v[t][i], acc[r][i]) : acc[r][i];
          else acc[r][i] = fmaf(p[t], v[t][i], acc[r][i]);
        }
      }
    }
  }
}

// The whole step. W is the warp's scratch (kWarpScratchFloats<R>). (m, l) live in lane r for
// row r; acc in every lane. Vp(), kpos() and kbias(): the value rows, key positions and per-slot
// bias (see pvChunk, scoreChunk).
template <class V, int R, int RG, int KU, class KT, class VFn, class PosFn, class BiasFn>
__device__ __forceinline__ void warpStep(const V& var, int64_t b, const WarpRows& rows, const KT* K, int ldK,
                                         const VFn& Vp, int ldV, const PosFn& kpos, const BiasFn& kbias, int nk,
                                         float scale, float* W, float (&acc)[R][V::kHeadDim / kWarpSize], float& m,
                                         float& l) {
  float* S = W;
  float* alpha = W + R * kLdS;
  __syncwarp();  // the previous step's P*V has read S
  scoreChunk<V, R, RG, KU>(var, b, rows, K, ldK, kpos, kbias, nk, scale, S);
  __syncwarp();
  const bool anyZero = softmaxChunk<R>(S, alpha, rows.live, nk, m, l);
  __syncwarp();
  if (anyZero) pvChunk<true, R, V::kHeadDim>(acc, S, alpha, rows.live, Vp, ldV, nk);
  else pvChunk<false, R, V::kHeadDim>(acc, S, alpha, rows.live, Vp, ldV, nk);
}

// Makes row r's l visible to every lane: lane r stores it in W, all lanes read it back.
template <int R>
__device__ __forceinline__ const float* publishRowSums(float* W, float l) {
  float* ls = W + R * kLdS + R;
  const int lane = threadIdx.x % kWarpSize;
  __syncwarp();
  if (lane < R) ls[lane] = l;
  __syncwarp();
  return ls;
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
