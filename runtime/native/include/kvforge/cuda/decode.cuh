// Decode forward (few query rows against a long cache): flash-decoding, bound by reading K and V.
//
// Schedule, and why:
// - The rows of one KV head are the G * Lq rows of the G query heads that share it; row
//   gr = g * Lq + i is query row i of head hk * G + g. They are cut into slices of R rows, and a
//   block handles (key split, slice, b * Hkv + hk): every K/V row it reads serves all R rows.
// - The key axis is cut into splits of whole 32-key chunks so that the grid has about
//   kDecodeTargetBlocks blocks; inside a block, warp w takes chunks w, w + 4, ... and keeps its
//   own (m, l, acc). No block-wide barrier in the loop: each warp reads its keys straight from
//   global memory (lane j reads key j; each element is used by R rows only, so staging through
//   shared memory would buy nothing).
// - Every warp writes its unnormalised (acc, m, l) as one partial; decodeMergeKernel combines the
//   nSplit * 4 partials of a row with the exact log-sum-exp merge (partials with l == 0 saw no
//   admissible key and are ignored; NaN anywhere makes the row NaN).
// - Tile classes are per row here (rows come from different query heads, and their query tiles
//   may differ): EMPTY rows sit the chunk out, PARTIAL rows evaluate the mask, FULL rows do not.
#pragma once
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/device_args.cuh"
#include "kvforge/cuda/storage.cuh"
#include "kvforge/cuda/warp_step.cuh"

namespace kvf {
namespace KVF_CUDA_NS {

constexpr int kDecodeTargetBlocks = 264;   // 2 x the 132 SMs of an H100 (the runtime API subset
                                           // the emulator provides cannot query the device)
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
  return (R * V::kHeadDim + kWarps * kWarpScratchFloats<R>) * 4 + 2 * R * 4 + R * 8;
}

template <class V, int R>
__global__ void __launch_bounds__(kThreads, 3) decodeKernel(const V var, const DeviceArgs<typename V::Storage> a) {
  constexpr int D = V::kHeadDim, TQ = V::kTileQ, TK = V::kTileK, C = D / kWarpSize;
  static_assert(D % kWarpSize == 0, "kHeadDim must be a multiple of 32");
  static_assert(TK % kChunk == 0, "kTileK must be a multiple of 32");
  static_assert(R <= kWarpSize, "a slice has at most 32 rows");

  KVF_DYNAMIC_SHARED(float, kvfSmem);
  float* Qs = kvfSmem;                                                    // [R][D], pre-scaled
  float* Wall = Qs + R * D;                                                // kWarps scratches
  int64_t* rowMap = reinterpret_cast<int64_t*>(Wall + kWarps * kWarpScratchFloats<R>);  // [R]
  int* rowPos = reinterpret_cast<int*>(rowMap + R);                        // [R]
  int* rowH = rowPos + R;                                                  // [R]

  const int split = blockIdx.x, slice = blockIdx.y;
  const int64_t bh = blockIdx.z, b = bh / a.Hkv, hk = bh % a.Hkv;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int64_t gr0 = int64_t(slice) * R, groupRows = a.G * a.Lq;
  const int rows = int(groupRows - gr0 < R ? groupRows - gr0 : R);

  for (int idx = threadIdx.x; idx < R * D / 4; idx += kThreads) {
    const int r = idx / (D / 4), c = (idx % (D / 4)) * 4;
    float x[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (r < rows) {
      const int64_t gr = gr0 + r, h = hk * a.G + gr / a.Lq, i = gr % a.Lq;
      loadFloats<4>(a.q + ((b * a.Hq + h) * a.Lq + i) * D + c, x);
    }
    KVF_UNROLL
    for (int t = 0; t < 4; ++t) x[t] *= a.qScale;
    storeFloats<4>(Qs + r * D + c, x);
  }
  for (int r = threadIdx.x; r < R; r += kThreads) {
    const int64_t gr = gr0 + (r < rows ? r : 0), h = hk * a.G + gr / a.Lq, i = gr % a.Lq;
    rowH[r] = int(h);
    rowPos[r] = a.qpos[i];
    rowMap[r] = a.mapRow(b, h, i / TQ) - a.tileMap;
  }
  __syncthreads();

  float* W = Wall + warp * kWarpScratchFloats<R>;
  WarpRows wrows{Qs, D, rowH, rowPos, 0u, 0u};
  float acc[R][C];
  KVF_UNROLL
  for (int r = 0; r < R; ++r) {
    KVF_UNROLL
    for (int i = 0; i < C; ++i) acc[r][i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;  // of row `lane` (lanes < R)

  const int64_t kvBase = (b * a.Hkv + hk) * a.Lk;
  const int64_t nChunks = (a.Lk + kChunk - 1) / kChunk;
  const int64_t c0 = int64_t(split) * a.chunksPerSplit;
  const int64_t c1 = c0 + a.chunksPerSplit < nChunks ? c0 + a.chunksPerSplit : nChunks;
  for (int64_t c = c0 + warp; c < c1; c += kWarps) {
    const int64_t k0 = c * kChunk, kt = k0 / TK;
    const int nk = int(a.Lk - k0 < kChunk ? a.Lk - k0 : kChunk);
    const uint8_t cls = lane < rows ? a.tileMap[rowMap[lane] + kt] : uint8_t(kTileEmpty);
    wrows.live = __ballot_sync(kFullMask, cls != kTileEmpty);
    wrows.masked = V::kHasMask ? __ballot_sync(kFullMask, cls != kTileEmpty && cls != kTileFull) : 0u;
    if (wrows.live == 0) continue;
    warpStep<V, R, (R < 4 ? R : 4), kDecodeKeyUnroll<typename V::Storage>>(var, b, wrows, a.k + (kvBase + k0) * D, D, a.v + (kvBase + k0) * D, D,
                                    a.kpos + k0, nk, a.sScale, W, acc, m, l);
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

// One warp per output row (b, h, i): out = sum_u 2^(m_u - M) acc_u / sum_u 2^(m_u - M) l_u.
template <int D, class T>
__global__ void __launch_bounds__(kThreads) decodeMergeKernel(const DeviceArgs<T> a) {
  constexpr int C = D / kWarpSize;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int64_t row = int64_t(blockIdx.x) * kWarps + warp;  // (b * Hq + h) * Lq + i
  if (row >= a.B * a.Hq * a.Lq) return;
  const int64_t i = row % a.Lq, bhq = row / a.Lq, h = bhq % a.Hq, b = bhq / a.Hq;
  const int64_t hk = h / a.G, gr = (h % a.G) * a.Lq + i;
  const int64_t slice = gr / a.rowsPerSlice, r = gr % a.rowsPerSlice;
  const int64_t base = ((b * a.Hkv + hk) * a.nSlices + slice) * a.nUnits;
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
  float* out = a.out + row * D + lane;
  if (!any) {
    KVF_UNROLL
    for (int c = 0; c < C; ++c) out[c * kWarpSize] = 0.0f;
    if (lane == 0) a.lse[row] = -INFINITY;
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
  if (lane == 0) a.lse[row] = (M + log2f(L)) * kLn2;
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
