// Decode forward (few query rows against a long cache): flash-decoding, bound by reading K and V.
//
// Schedule, and why:
// - The rows of one (sequence b, KV head hk) are the G * n rows of the G query heads that share it,
//   n = rowCount[b]; row gr = g * n + i is query row i of head hk * G + g. They are cut into slices
//   of R rows, and a block handles (key split, slice, b * Hkv + hk): every K/V row it reads serves
//   all R rows. The grid is sized by maxRows; slices past a sequence's rows return at once.
// - The key axis (sized by maxLen) is cut into splits of whole 32-key chunks so that the grid has
//   about kDecodeBlocksPerSm blocks per multiprocessor of the device (host.cuh asks the device);
//   inside a block, warp w takes chunks w, w + 4, ... of its own (b, hk), up to its own length,
//   and keeps its own (m, l, acc). No block-wide barrier in the loop: each warp reads its keys
//   straight from global memory (lane j reads key j; each element is used by R rows only, so
//   staging through shared memory would buy nothing).
// - Every warp writes its unnormalised (acc, m, l) as one partial into the workspace;
//   decodeMergeKernel combines the nSplit * 4 partials of a row with the exact log-sum-exp merge
//   (partials with l == 0 saw no admissible key and are ignored; NaN anywhere makes the row NaN).
// - Tile classes (classify.cuh) are per 32-key chunk. When the mask reads h (kReadsH), per row:
//   lane r classifies row r (its head, its position), EMPTY rows sit the chunk out, PARTIAL rows
//   evaluate the mask, FULL rows do not. Otherwise one class serves all rows of the slice (the
//   heads of the KV group, [min, max] of the rows' positions), and each lane classifies a
//   different chunk ahead, so a warp asks classify() once per 32 of its chunks.
#pragma once
#include "kvforge/cuda/classify.cuh"
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/device_args.cuh"
#include "kvforge/cuda/storage.cuh"
#include "kvforge/cuda/warp_step.cuh"

namespace kvf {
namespace KVF_CUDA_NS {

constexpr int kDecodeBlocksPerSm = 2;        // key splits aim at 2 blocks per multiprocessor
constexpr int kDecodeMinChunksPerSplit = 8;  // 256 keys: 2 chunks per warp at least
constexpr int kDecodeSmallRows = 4;          // slice sizes the decode kernel is compiled for
// 4-element pieces of a key row loaded ahead of use: 64 bytes in flight per lane.
template <class T>
constexpr int kDecodeKeyUnroll = int(16 / sizeof(T));

// Rows per slice of the larger decode instantiation: acc is R x D/32 registers per lane, and
// 16 rows at D = 128 would not fit the 168 registers of 3 blocks per SM without spills.
template <int D>
constexpr int decodeLargeRows() {
  return D <= 64 ? 16 : 8;
}

template <class V, int R>
constexpr int decodeSmemBytes() {
  return (R * V::kHeadDim + kWarps * kWarpScratchFloats<R>) * 4 + 2 * R * 4;  // + rowPos, rowH
}

template <class V, int R>
__global__ void __launch_bounds__(kThreads, 3) decodeKernel(const V var, const DeviceArgs<typename V::Storage> a) {
  using T = typename V::Storage;
  constexpr int D = V::kHeadDim, C = D / kWarpSize;
  static_assert(D % kWarpSize == 0, "kHeadDim must be a multiple of 32");
  static_assert(V::kTileK % kChunk == 0, "kTileK must be a multiple of 32");
  static_assert(R <= kWarpSize, "a slice has at most 32 rows");
  static_assert(kChunk % kSummaryTile == 0, "a chunk covers whole position summary entries");
  constexpr bool kRowClasses = kClassifies<V> && ReadsH<V>::value;
  constexpr bool kSliceClasses = kClassifies<V> && !ReadsH<V>::value;

  KVF_DYNAMIC_SHARED(float, kvfSmem);
  float* Qs = kvfSmem;                                                    // [R][D], pre-scaled
  float* Wall = Qs + R * D;                                                // kWarps scratches
  int* rowPos = reinterpret_cast<int*>(Wall + kWarps * kWarpScratchFloats<R>);  // [R]
  int* rowH = rowPos + R;                                                  // [R]

  const int split = blockIdx.x, slice = blockIdx.y;
  const int64_t bh = blockIdx.z, b = bh / a.Hkv, hk = bh % a.Hkv;
  const int64_t n = a.rowCount[b], gr0 = int64_t(slice) * R, groupRows = a.G * n;
  if (gr0 >= groupRows) return;  // the whole block: sequence b has fewer rows
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int rows = int(groupRows - gr0 < R ? groupRows - gr0 : R);
  const int64_t rs = a.rowStart[b];

  for (int idx = threadIdx.x; idx < R * D / 4; idx += kThreads) {
    const int r = idx / (D / 4), c = (idx % (D / 4)) * 4;
    float x[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (r < rows) {
      const int64_t gr = gr0 + r, h = hk * a.G + gr / n, i = gr % n;
      loadFloats<4>(a.queryRow(b, h, rs + i) + c, x);
    }
    KVF_UNROLL
    for (int t = 0; t < 4; ++t) x[t] *= a.qScale;
    storeFloats<4>(Qs + r * D + c, x);
  }
  for (int r = threadIdx.x; r < R; r += kThreads) {
    const int64_t gr = gr0 + (r < rows ? r : 0), h = hk * a.G + gr / n, i = gr % n;
    rowH[r] = int(h);
    rowPos[r] = a.queryPosition(b, rs + i);
  }
  __syncthreads();

  float* W = Wall + warp * kWarpScratchFloats<R>;
  const uint32_t valid = rows >= 32 ? kFullMask : ((1u << rows) - 1u);
  WarpRows wrows{Qs, D, rowH, rowPos, valid, V::kHasMask ? valid : 0u};
  float acc[R][C];
  KVF_UNROLL
  for (int r = 0; r < R; ++r) {
    KVF_UNROLL
    for (int i = 0; i < C; ++i) acc[r][i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;  // of row `lane` (lanes < R)

  const int64_t nKeys = a.keyCount(b, hk);
  const int64_t nChunks = (nKeys + kChunk - 1) / kChunk;
  const int64_t c0 = int64_t(split) * a.chunksPerSplit;
  const int64_t c1 = c0 + a.chunksPerSplit < nChunks ? c0 + a.chunksPerSplit : nChunks;
  uint32_t ahead = kTilePartial;  // kSliceClasses: lane j holds the class of chunk it0 + j of this warp
  int it = 0;                     // this warp's chunk count
  for (int64_t c = c0 + warp; c < c1; c += kWarps, ++it) {
    const int64_t k0 = c * kChunk;
    const int nk = int(nKeys - k0 < kChunk ? nKeys - k0 : kChunk);
    if constexpr (kRowClasses) {
      const uint8_t cls = lane < rows ? classifyKeys(var, a, b, hk, Interval{double(rowH[lane]), double(rowH[lane])},
                                                     Interval{double(rowPos[lane]), double(rowPos[lane])}, k0, k0 + nk)
                                      : uint8_t(kTileEmpty);
      wrows.live = __ballot_sync(kFullMask, cls != kTileEmpty);
      wrows.masked = __ballot_sync(kFullMask, cls != kTileEmpty && cls != kTileFull);
    } else if constexpr (kSliceClasses) {
      if (it % kWarpSize == 0) {
        const int64_t cj = c + int64_t(kWarps) * lane, kj = cj * kChunk;
        ahead = cj < c1 ? classifyKeys(var, a, b, hk, Interval{double(rowH[0]), double(rowH[rows - 1])},
                                       positionRange(rowPos, rows), kj, kj + kChunk < nKeys ? kj + kChunk : nKeys)
                        : uint32_t(kTileEmpty);
      }
      const uint32_t cls = __shfl_sync(kFullMask, ahead, it % kWarpSize);
      wrows.live = cls != kTileEmpty ? valid : 0u;
      wrows.masked = cls != kTileFull ? wrows.live : 0u;
    }
    if (wrows.live == 0) continue;
    // (Slot pointers are formed only here: a view with no slots may have null k, v, pos.)
    warpStep<V, R, (R < 4 ? R : 4), kDecodeKeyUnroll<T>>(var, b, wrows, a.keys(b, hk) + k0 * a.kStrideS, a.kStrideS,
                                                          a.values(b, hk) + k0 * a.vStrideS, a.vStrideS,
                                                          a.keyPositions(b, hk) + k0, nk, a.sScale, W, acc, m, l);
  }

  // This warp's partial.
  const int64_t unit = int64_t(split) * kWarps + warp;
  const int64_t base = ((bh * a.nSlices + slice) * a.nUnits + unit) * R;
  if (lane < rows) {
    a.partM[base + lane] = m;
    a.partL[base + lane] = l;
  }
  KVF_UNROLL
  for (int r = 0; r < R; ++r) {
    if (r >= rows) break;
    float* o = a.partO + (base + r) * D + lane;
    KVF_UNROLL
    for (int i = 0; i < C; ++i) o[i * kWarpSize] = acc[r][i];
  }
}

// One warp per row (b, hk, gr) of the partials' layout, gr < G * rowCount[b]:
// out = sum_u 2^(m_u - M) acc_u / sum_u 2^(m_u - M) l_u. T only names the instantiation.
template <int D, class T>
__global__ void __launch_bounds__(kThreads) decodeMergeKernel(const DeviceArgs<T> a) {
  constexpr int C = D / kWarpSize;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int64_t perBh = int64_t(a.nSlices) * a.rowsPerSlice;
  const int64_t row = int64_t(blockIdx.x) * kWarps + warp;  // bh * perBh + gr
  if (row >= a.B * a.Hkv * perBh) return;
  const int64_t bh = row / perBh, gr = row % perBh, b = bh / a.Hkv, hk = bh % a.Hkv;
  const int64_t n = a.rowCount[b];
  if (gr >= a.G * n) return;
  const int64_t h = hk * a.G + gr / n, qrow = a.rowStart[b] + gr % n;
  const int64_t slice = gr / a.rowsPerSlice, r = gr % a.rowsPerSlice;
  const int64_t base = (bh * a.nSlices + slice) * a.nUnits;
  const float* pm = a.partM + base * a.rowsPerSlice + r;
  const float* pl = a.partL + base * a.rowsPerSlice + r;

  float M = -INFINITY;
  bool any = false;
  for (int u = 0; u < a.nUnits; ++u) {
    const float lu = pl[int64_t(u) * a.rowsPerSlice], mu = pm[int64_t(u) * a.rowsPerSlice];
    if (lu == 0.0f) continue;
    any = true;
    if (mu > M || mu != mu) M = M != M ? M : mu;  // NaN sticks
  }
  float* out = a.outRow(b, h, qrow) + lane;
  if (!any) {
    KVF_UNROLL
    for (int c = 0; c < C; ++c) out[c * kWarpSize] = 0.0f;
    if (lane == 0) *a.lseAt(b, h, qrow) = -INFINITY;
    return;
  }
  float L = 0.0f, o[C];
  KVF_UNROLL
  for (int c = 0; c < C; ++c) o[c] = 0.0f;
  for (int u = 0; u < a.nUnits; ++u) {
    const float lu = pl[int64_t(u) * a.rowsPerSlice], mu = pm[int64_t(u) * a.rowsPerSlice];
    if (lu == 0.0f) continue;
    const float w = exp2Flush(mu - M);
    L += lu * w;
    const float* po = a.partO + ((base + u) * a.rowsPerSlice + r) * D + lane;
    KVF_UNROLL
    for (int c = 0; c < C; ++c) o[c] = fmaf(po[c * kWarpSize], w, o[c]);
  }
  KVF_UNROLL
  for (int c = 0; c < C; ++c) out[c * kWarpSize] = o[c] / L;
  if (lane == 0) *a.lseAt(b, h, qrow) = (M + log2f(L)) * kLn2;
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
