// Prefill forward (many query rows): one block per (query tile, query head, sequence).
//
// Schedule, and why:
// - 4 warps; warp w owns rows [w R, (w + 1) R) of the tile, R = kTileQ / 4 (at most 32: lane r of
//   the softmax phase owns row r). Each lane keeps R x D/32 output accumulators in registers.
// - Query tile qt of sequence b is its rows [qt kTileQ, (qt + 1) kTileQ) below rowCount[b]; the grid
//   is sized by maxRows, and blocks past a shorter sequence's rows return at once.
// - The query tile is loaded once, pre-scaled, into shared memory (f32); every lane reads it by
//   broadcast in the score phase.
// - Key tiles are kTileK slots of the block's (sequence, KV head), up to its own length. Their
//   classes are computed on the device (classify.cuh) before the main loop, one tile per thread,
//   into shared memory (a byte per tile, sized by the host for maxLen): the block's rows and head
//   against the tile's position summary. Computing them in the loop would keep the classifier's
//   loop-invariant values live through it (measured: +24 registers). For every tile not EMPTY, the block stages its keys and values 32 at a time into shared memory, converted
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

// Dynamic shared memory of the prefill kernel of V, in bytes, without the tile classes.
template <class V>
constexpr int prefillSmemBytes() {
  constexpr int D = V::kHeadDim, TQ = V::kTileQ, R = TQ / kWarps;
  constexpr int floats = TQ * D + kChunk * (D + kPadK) + kChunk * D + kWarps * kWarpScratchFloats<R>;
  return floats * 4 + kSlotBasesBytes + 2 * TQ * 4;  // + slot bases, rowPos, rowH
}

// The tile classes' shared memory for slots up to maxLen: one byte per key tile (kClassifies<V>).
template <class V>
constexpr int64_t prefillClassBytes(int64_t maxLen) {
  return kClassifies<V> ? (maxLen + V::kTileK - 1) / V::kTileK : 0;
}

// Elements of T in one 16-byte global load of stageChunk (host.cuh requires K/V alignment to it).
template <class T>
constexpr int kStageVec = 16 / sizeof(T) < 8 ? int(16 / sizeof(T)) : 8;

// Rows [0, n) of a chunk: K (padded rows) and V of n slots, rows ldK / ldV elements apart,
// converted to f32.
template <int D, class T>
__device__ __forceinline__ void stageChunk(const T* K, int ldK, const T* Vg, int ldV, int n, float* Ks,
                                           float* Vs) {
  constexpr int kVec = kStageVec<T>;  // 16-byte global loads
  constexpr int perRow = D / kVec;
  for (int idx = threadIdx.x; idx < n * perRow; idx += kThreads) {
    const int j = idx / perRow, c = (idx % perRow) * kVec;
    float x[kVec];
    loadFloats<kVec>(K + (j * ldK + c), x);
    KVF_UNROLL
    for (int t = 0; t < kVec; t += 4) storeFloats<4>(Ks + j * (D + kPadK) + c + t, x + t);
    loadFloats<kVec>(Vg + (j * ldV + c), x);
    KVF_UNROLL
    for (int t = 0; t < kVec; t += 4) storeFloats<4>(Vs + j * D + c + t, x + t);
  }
}

template <class V>
__global__ void __launch_bounds__(kThreads, 1) prefillKernel(const V var, const DeviceArgs<typename V::Storage> a) {
  using T = typename V::Storage;
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
  SlotBases<T>* bases = reinterpret_cast<SlotBases<T>*>(Wall + kWarps * kWarpScratchFloats<R>);
  int* rowPos = reinterpret_cast<int*>(reinterpret_cast<char*>(bases) + kSlotBasesBytes);  // [TQ]
  int* rowH = rowPos + TQ;                                                        // [TQ]
  uint8_t* tileCls = reinterpret_cast<uint8_t*>(rowH + TQ);  // [prefillClassBytes] (kClassifies<V>)

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
  storeSlotBases(bases, a, b, hk);
  __syncthreads();

  // Classes of all key tiles of (b, hk), before the main loop (none of its state is live yet):
  // tile t by thread t % kThreads, into shared memory sized by the host for maxLen.
  if constexpr (kClassifies<V>) {
    const int nKeys = a.keyCount(b, hk), nKt = (nKeys + TK - 1) / TK;
    const Interval heads{double(h), double(h)}, positions = positionRange(rowPos, rows);
    for (int t = threadIdx.x; t < nKt; t += kThreads)
      tileCls[t] = classifyKeys(var, a, b, hk, heads, positions, int64_t(t) * TK,
                                (t + 1) * TK < nKeys ? (t + 1) * TK : nKeys);
    __syncthreads();
  }

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

  const int nKeys = a.keyCount(b, hk), nKt = (nKeys + TK - 1) / TK;
  for (int kt = 0; kt < nKt; ++kt) {
    const uint8_t cls = kClassifies<V> ? tileCls[kt] : V::kHasMask ? uint8_t(kTilePartial) : uint8_t(kTileFull);
    if (cls == kTileEmpty) continue;
    wrows.masked = (V::kHasMask && cls != kTileFull) ? valid : 0u;
    const int tileEnd = (kt + 1) * TK < nKeys ? (kt + 1) * TK : nKeys;
    for (int k0 = kt * TK; k0 < tileEnd; k0 += kChunk) {
      const int nk = tileEnd - k0 < kChunk ? tileEnd - k0 : kChunk;
      __syncthreads();  // every warp is done with the previous chunk
      // (Slot pointers are formed only here: a view with no slots may have null k, v, pos.)
      stageChunk<D>(bases->k + k0 * a.kStrideS, int(a.kStrideS), bases->v + k0 * a.vStrideS, int(a.vStrideS), nk, Ks,
                    Vs);
      __syncthreads();
      if (wRows > 0)
        warpStep<V, R, R, 1>(var, b, wrows, Ks, D + kPadK, [Vs] { return Vs; }, D, [&] { return bases->pos + k0; },
                             [&]() -> const float* { return bases->bias ? bases->bias + k0 : nullptr; }, nk, a.sScale, W,
                             acc, m, l);
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
