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
// - Tile classes (classify.cuh) are per 32-key chunk, computed by the whole block for its chunks
//   before the main loop into shared memory (in the loop, the classifier's invariants would stay
//   live through it and cost registers). When the mask reads h (kReadsH), per row (its head, its
//   position): EMPTY rows sit the chunk out, PARTIAL rows evaluate the mask, FULL rows do not.
//   Otherwise one class per chunk serves all rows of the slice (the heads of the KV group at once,
//   [min, max] of the rows' positions).
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

// Dynamic shared memory of decodeKernel<V, R>, in bytes, without the tile classes.
template <class V, int R>
constexpr int decodeSmemBytes() {
  return (R * V::kHeadDim + kWarps * kWarpScratchFloats<R>) * 4 + kSlotBasesBytes + 2 * R * 4;  // + bases, rows
}

// Chunks per key split at most when the kernel classifies (its class table is in shared memory).
constexpr int kDecodeMaxChunksPerSplit = 1024;

// The tile classes' shared memory of a block of chunksPerSplit chunks: a byte per chunk, per row
// of the slice when the mask reads h.
template <class V, int R>
constexpr int decodeClassBytes(int chunksPerSplit) {
  return !kClassifies<V> ? 0 : ReadsH<V>::value ? chunksPerSplit * R : chunksPerSplit;
}

// Blocks per SM the decode kernel is compiled for (its register budget: 128 registers for 4, 168
// for 3). 4 where the instantiations fit 128 without spills at sm_80 and sm_90 (cuda-test/run.sh
// checks every head dim x dtype): 4 rows up to D = 128, and 8 rows at D = 128 with 16-bit
// storage and no score function (with one, the per-slot bias of AttnArgs v3 took it one register
// past 128 at sm_80: 24 bytes spilled). Elsewhere ptxas may use up to 168, and does.
template <int D, int R, class T, bool kHasScore>
constexpr int decodeMinBlocks() {
  return (R <= 4 && D <= 128) || (R == 8 && D == 128 && sizeof(T) == 2 && !kHasScore) ? 4 : 3;
}

template <class V, int R>
__global__ void __launch_bounds__(kThreads, decodeMinBlocks<V::kHeadDim, R, typename V::Storage, V::kHasScore>())
    decodeKernel(const V var, const DeviceArgs<typename V::Storage> a) {
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
  SlotBases<T>* bases = reinterpret_cast<SlotBases<T>*>(Wall + kWarps * kWarpScratchFloats<R>);
  int* rowPos = reinterpret_cast<int*>(reinterpret_cast<char*>(bases) + kSlotBasesBytes);  // [R]
  int* rowH = rowPos + R;                                                  // [R]
  uint8_t* tileCls = reinterpret_cast<uint8_t*>(rowH + R);  // [decodeClassBytes] (kClassifies<V>)

  const int split = blockIdx.x, slice = blockIdx.y;
  const int64_t bh = blockIdx.z, b = bh / a.Hkv, hk = bh % a.Hkv;
  // Row counts are ints: G * rowCount[b] <= G * maxRows <= kDecodeMaxGroupRows here.
  const int n = a.rowCount[b], gr0 = slice * R, groupRows = int(a.G) * n, G = int(a.G);
  if (gr0 >= groupRows) return;  // the whole block: sequence b has fewer rows
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int rows = groupRows - gr0 < R ? groupRows - gr0 : R;
  const int64_t rs = a.rowStart[b];

  for (int idx = threadIdx.x; idx < R * D / 4; idx += kThreads) {
    const int r = idx / (D / 4), c = (idx % (D / 4)) * 4;
    float x[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (r < rows) {
      const int gr = gr0 + r;
      loadFloats<4>(a.queryRow(b, hk * G + gr / n, rs + gr % n) + c, x);
    }
    KVF_UNROLL
    for (int t = 0; t < 4; ++t) x[t] *= a.qScale;
    storeFloats<4>(Qs + r * D + c, x);
  }
  for (int r = threadIdx.x; r < R; r += kThreads) {
    const int gr = gr0 + (r < rows ? r : 0);
    rowH[r] = int(hk) * G + gr / n;
    rowPos[r] = a.queryPosition(b, rs + gr % n);
  }
  storeSlotBases(bases, a, b, hk);
  __syncthreads();

  const int nKeys = a.keyCount(b, hk), nChunks = (nKeys + kChunk - 1) / kChunk;
  const int c0 = split * a.chunksPerSplit, c1 = c0 + a.chunksPerSplit < nChunks ? c0 + a.chunksPerSplit : nChunks;
  // Classes of this block's chunks [c0, c1), before the main loop (none of its state is live yet):
  // per row ([chunk][row]) or one per chunk for the whole slice, into shared memory sized by the
  // host (decodeClassBytes).
  if constexpr (kClassifies<V>) {
    constexpr int per = kRowClasses ? R : 1;
    const Interval sliceHeads{double(rowH[0]), double(rowH[rows - 1])}, slicePositions = positionRange(rowPos, rows);
    for (int idx = threadIdx.x; idx < (c1 - c0) * per; idx += kThreads) {
      const int r = idx % per, k0 = (c0 + idx / per) * kChunk, k1 = k0 + kChunk < nKeys ? k0 + kChunk : nKeys;
      uint8_t cls = kTileEmpty;
      if (!kRowClasses) cls = classifyKeys(var, a, b, hk, sliceHeads, slicePositions, k0, k1);
      else if (r < rows)
        cls = classifyKeys(var, a, b, hk, Interval{double(rowH[r]), double(rowH[r])},
                           Interval{double(rowPos[r]), double(rowPos[r])}, k0, k1);
      tileCls[idx] = cls;
    }
    __syncthreads();
  }

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

  for (int c = c0 + warp; c < c1; c += kWarps) {
    const int k0 = c * kChunk, nk = nKeys - k0 < kChunk ? nKeys - k0 : kChunk;
    if constexpr (kRowClasses) {
      const uint8_t cls = lane < R ? tileCls[(c - c0) * R + lane] : uint8_t(kTileEmpty);  // EMPTY past rows
      wrows.live = __ballot_sync(kFullMask, cls != kTileEmpty);
      wrows.masked = __ballot_sync(kFullMask, cls != kTileEmpty && cls != kTileFull);
    } else if constexpr (kSliceClasses) {
      const uint8_t cls = tileCls[c - c0];
      wrows.live = cls != kTileEmpty ? valid : 0u;
      wrows.masked = cls != kTileFull ? wrows.live : 0u;
    }
    if (wrows.live == 0) continue;
    // (Slot pointers are formed only here: a view with no slots may have null k, v, pos.)
    const auto values = [&] { return bases->v + k0 * a.vStrideS; };
    const auto positions = [&] { return bases->pos + k0; };
    const auto bias = [&]() -> const float* { return bases->bias ? bases->bias + k0 : nullptr; };
    warpStep<V, R, (R < 4 ? R : 4), kDecodeKeyUnroll<T>>(var, b, wrows, bases->k + k0 * a.kStrideS, int(a.kStrideS),
                                                          values, int(a.vStrideS), positions, bias, nk, a.sScale, W,
                                                          acc, m, l);
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
  // ints: B * Hkv <= 65535 (host.cuh), perBh < 64, G * rowCount[b] <= kDecodeMaxGroupRows, and a
  // row's partials span nUnits * rowsPerSlice * D < 2^31 floats (nUnits = 4 x the key splits).
  const int perBh = a.nSlices * a.rowsPerSlice;
  const int row = blockIdx.x * kWarps + warp;  // bh * perBh + gr
  if (row >= int(a.B * a.Hkv) * perBh) return;
  const int bh = row / perBh, gr = row % perBh, Hkv = int(a.Hkv), b = bh / Hkv, hk = bh % Hkv;
  const int n = a.rowCount[b];
  if (gr >= int(a.G) * n) return;
  const int h = hk * int(a.G) + gr / n;
  const int64_t qrow = a.rowStart[b] + gr % n;
  const int slice = gr / a.rowsPerSlice, r = gr % a.rowsPerSlice;
  const int64_t base = (int64_t(bh) * a.nSlices + slice) * a.nUnits;
  const float* pm = a.partM + base * a.rowsPerSlice + r;
  const float* pl = a.partL + base * a.rowsPerSlice + r;
  const float* po = a.partO + (base * a.rowsPerSlice + r) * D + lane;
  const int step = a.rowsPerSlice;

  float M = -INFINITY;
  bool any = false;
  for (int u = 0; u < a.nUnits; ++u) {
    const float lu = pl[u * step], mu = pm[u * step];
    if (lu == 0.0f) continue;
    any = true;
    if (mu > M || mu != mu) M = M != M ? M : mu;  // NaN sticks
  }
  float L = 0.0f, o[C];
  KVF_UNROLL
  for (int c = 0; c < C; ++c) o[c] = 0.0f;
  for (int u = 0; any && u < a.nUnits; ++u) {
    const float lu = pl[u * step], mu = pm[u * step];
    if (lu == 0.0f) continue;
    const float w = exp2Flush(mu - M);
    L += lu * w;
    KVF_UNROLL
    for (int c = 0; c < C; ++c) o[c] = fmaf(po[u * step * D + c * kWarpSize], w, o[c]);
  }
  // No partial saw an admissible key: exactly 0 and -inf.
  float* out = a.outRow(b, h, qrow) + lane;
  KVF_UNROLL
  for (int c = 0; c < C; ++c) out[c * kWarpSize] = any ? o[c] / L : 0.0f;
  if (lane == 0) *a.lseAt(b, h, qrow) = any ? (M + log2f(L)) * kLn2 : -INFINITY;
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
