// Prefill forward (many query rows): one block per (query tile, query head, sequence).
//
// Schedule, and why:
// - 4 warps; warp w owns rows [w R, (w + 1) R) of the tile, R = kTileQ / 4 (at most 32: lane r of
//   the softmax phase owns row r). Each lane keeps R x D/32 output accumulators in registers.
// - Query tile qt of sequence b is its rows [qt kTileQ, (qt + 1) kTileQ) below rowCount[b]; the grid
//   is sized by maxRows, and blocks past a shorter sequence's rows return at once.
// - The query tile is loaded once, pre-scaled, into shared memory (f32); every lane reads it by
//   broadcast in the score phase.
// - Key tiles are kTileK slots of the row's (sequence, KV head), up to its own length. Their
//   classes are computed on the device (classify.cuh), kThreads tiles at a time, one per thread,
//   into shared memory: the block's rows and head against the tile's position summary. For every
//   tile not EMPTY, the block stages its keys and values 32 at a time into shared memory, converted
//   to f32 once (each value then serves kTileQ rows), and each warp runs warpStep on them. The mask
//   is evaluated only in PARTIAL tiles, and the decision is block-uniform (one head, one query
//   tile per block).
// - The shared K chunk is padded to D + 4 floats per key: the score phase's 16-byte reads of 32
//   different keys then fall in distinct banks.
#pragma once
#include "kvforge/cuda/classify.cuh"
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/device_args.cuh"
#include "kvforge/cuda/storage.cuh"
#include "kvforge/cuda/warp_step.cuh"

namespace kvf {
namespace KVF_CUDA_NS {

// Dynamic shared memory of the prefill kernel of V, in bytes.
template <class V>
constexpr int prefillSmemBytes() {
  constexpr int D = V::kHeadDim, TQ = V::kTileQ, R = TQ / kWarps;
  constexpr int floats = TQ * D + kChunk * (D + kPadK) + kChunk * D + kWarps * kWarpScratchFloats<R>;
  return floats * 4 + 2 * TQ * 4 + (kClassifies<V> ? kThreads : 0);  // + rowPos, rowH, tile classes
}

// Elements of T in one 16-byte global load of stageChunk (host.cuh requires K/V alignment to it).
template <class T>
constexpr int kStageVec = 16 / sizeof(T) < 8 ? int(16 / sizeof(T)) : 8;

// Rows [0, n) of a chunk: K (padded rows) and V of n slots, rows ldK / ldV elements apart,
// converted to f32.
template <int D, class T>
__device__ __forceinline__ void stageChunk(const T* K, int64_t ldK, const T* Vg, int64_t ldV, int n, float* Ks,
                                           float* Vs) {
  constexpr int kVec = kStageVec<T>;  // 16-byte global loads
  constexpr int perRow = D / kVec;
  for (int idx = threadIdx.x; idx < n * perRow; idx += kThreads) {
    const int j = idx / perRow, c = (idx % perRow) * kVec;
    float x[kVec];
    loadFloats<kVec>(K + int64_t(j) * ldK + c, x);
    KVF_UNROLL
    for (int t = 0; t < kVec; t += 4) storeFloats<4>(Ks + j * (D + kPadK) + c + t, x + t);
    loadFloats<kVec>(Vg + int64_t(j) * ldV + c, x);
    KVF_UNROLL
    for (int t = 0; t < kVec; t += 4) storeFloats<4>(Vs + j * D + c + t, x + t);
  }
}

template <class V>
__global__ void __launch_bounds__(kThreads, 1) prefillKernel(const V var, const DeviceArgs<typename V::Storage> a) {
  constexpr int D = V::kHeadDim, TQ = V::kTileQ, TK = V::kTileK, R = TQ / kWarps, C = D / kWarpSize;
  static_assert(D % kWarpSize == 0, "kHeadDim must be a multiple of 32");
  static_assert(TQ % kWarps == 0 && R >= 1 && R <= kWarpSize, "kTileQ must be a multiple of 4, at most 128");
  static_assert(TK % kChunk == 0, "kTileK must be a multiple of 32");
  static_assert(TK % kSummaryTile == 0, "kTileK must be a multiple of the position summary's tile");

  KVF_DYNAMIC_SHARED(float, kvfSmem);
  float* Qs = kvfSmem;                   // [TQ][D], pre-scaled
  float* Ks = Qs + TQ * D;               // [kChunk][D + kPadK]
  float* Vs = Ks + kChunk * (D + kPadK);  // [kChunk][D]
  float* Wall = Vs + kChunk * D;          // kWarps x kWarpScratchFloats<R>
  int* rowPos = reinterpret_cast<int*>(Wall + kWarps * kWarpScratchFloats<R>);  // [TQ]
  int* rowH = rowPos + TQ;                                                        // [TQ]
  uint8_t* tileCls = reinterpret_cast<uint8_t*>(rowH + TQ);  // [kThreads] (kClassifies<V> only)

  const int64_t qt = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int64_t nRows = a.rowCount[b], q0 = qt * TQ;
  if (q0 >= nRows) return;  // the whole block: sequence b has fewer query tiles
  const int64_t hk = h / a.G, row0 = a.rowStart[b] + q0;  // row index of the tile's first row
  const int rows = int(nRows - q0 < TQ ? nRows - q0 : TQ);
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;

  // Query tile (rows past the sequence's are zero), positions and heads.
  const float* qsrc = a.queryRow(b, h, row0);
  for (int idx = threadIdx.x; idx < TQ * D / 4; idx += kThreads) {
    const int r = idx / (D / 4), c = (idx % (D / 4)) * 4;
    float x[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (r < rows) loadFloats<4>(qsrc + int64_t(r) * a.qStrideRow + c, x);
    KVF_UNROLL
    for (int t = 0; t < 4; ++t) x[t] *= a.qScale;
    storeFloats<4>(Qs + r * D + c, x);
  }
  for (int r = threadIdx.x; r < TQ; r += kThreads) {
    rowPos[r] = r < rows ? a.queryPosition(b, row0 + r) : 0;
    rowH[r] = int(h);
  }
  __syncthreads();

  const int wr0 = warp * R;
  const int wRows = rows - wr0 < 0 ? 0 : (rows - wr0 < R ? rows - wr0 : R);
  const uint32_t valid = wRows >= 32 ? kFullMask : ((1u << wRows) - 1u);
  float* W = Wall + warp * kWarpScratchFloats<R>;
  WarpRows wrows{Qs + wr0 * D, D, rowH + wr0, rowPos + wr0, valid, 0u};

  float acc[R][C];
  KVF_UNROLL
  for (int r = 0; r < R; ++r) {
    KVF_UNROLL
    for (int i = 0; i < C; ++i) acc[r][i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;  // of row `lane` (lanes < R)

  const int64_t nKeys = a.keyCount(b, hk), nKt = (nKeys + TK - 1) / TK;
  for (int64_t kt = 0; kt < nKt; ++kt) {
    uint8_t cls = V::kHasMask ? uint8_t(kTilePartial) : uint8_t(kTileFull);
    if constexpr (kClassifies<V>) {
      // Classes of tiles [kt, kt + kThreads), one per thread. The first barrier keeps the previous
      // batch's classes until every thread has read them (EMPTY tiles pass no other barrier).
      if (kt % kThreads == 0) {
        __syncthreads();
        const int64_t t = kt + threadIdx.x;
        if (t < nKt) {
          const int64_t s0 = t * TK, s1 = s0 + TK < nKeys ? s0 + TK : nKeys;
          tileCls[threadIdx.x] = classifyKeys(var, a, b, hk, Interval{double(h), double(h)},
                                              positionRange(rowPos, rows), s0, s1);
        }
        __syncthreads();
      }
      cls = tileCls[kt % kThreads];
    }
    if (cls == kTileEmpty) continue;
    wrows.masked = (V::kHasMask && cls != kTileFull) ? valid : 0u;
    const int64_t tileEnd = (kt + 1) * TK < nKeys ? (kt + 1) * TK : nKeys;
    for (int64_t k0 = kt * TK; k0 < tileEnd; k0 += kChunk) {
      const int nk = int(tileEnd - k0 < kChunk ? tileEnd - k0 : kChunk);
      __syncthreads();  // every warp is done with the previous chunk
      // (Slot pointers are formed only here: a view with no slots may have null k, v, pos.)
      stageChunk<D>(a.keys(b, hk) + k0 * a.kStrideS, a.kStrideS, a.values(b, hk) + k0 * a.vStrideS, a.vStrideS, nk,
                    Ks, Vs);
      __syncthreads();
      if (wRows > 0)
        warpStep<V, R, R, 1>(var, b, wrows, Ks, D + kPadK, Vs, D, a.keyPositions(b, hk) + k0, nk, a.sScale, W, acc, m,
                             l);
    }
  }

  // out = acc / l, lse = ln(2) (m + log2 l); rows that admitted nothing: exactly 0 and -inf.
  if (wRows == 0) return;
  const float* ls = publishRowSums<R>(W, l);
  const int64_t wrow0 = row0 + wr0;
  if (lane < wRows) *a.lseAt(b, h, wrow0 + lane) = l == 0.0f ? -INFINITY : (m + log2f(l)) * kLn2;
  KVF_UNROLL
  for (int r = 0; r < R; ++r) {
    if (r >= wRows) break;
    const float lr = ls[r];
    float* o = a.outRow(b, h, wrow0 + r) + lane;
    KVF_UNROLL
    for (int i = 0; i < C; ++i) o[i * kWarpSize] = lr == 0.0f ? 0.0f : acc[r][i] / lr;
  }
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
