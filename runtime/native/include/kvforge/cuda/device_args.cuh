// What the kernels receive: the AttnArgs of the call (attn_args.hpp; every pointer already in
// device memory) flattened to the fields they read, the slots typed as the storage dtype T, and the
// host's derived sizes. Passed by value (a kernel parameter); nothing in it is allocated per call
// except through the decode workspace (host.cuh).
#pragma once
#include "kvforge/cuda/config.cuh"
#include "kvforge/slot_view.hpp"

namespace kvf {
namespace KVF_CUDA_NS {

enum TileClass : uint8_t { kTileEmpty = 0, kTilePartial = 1, kTileFull = 2 };

template <class T>
struct DeviceArgs {
  // Query rows: sequence b has rowCount[b] rows, row i at index rowStart[b] + i (attn_args.hpp).
  const int32_t* rowStart;  // [B]
  const int32_t* rowCount;  // [B]
  const float* q;
  int64_t qStrideB, qStrideH, qStrideRow;
  const int32_t* qpos;
  int64_t qposStrideB;
  float* out;
  int64_t oStrideB, oStrideH, oStrideRow;
  float* lse;
  int64_t lseStrideB, lseStrideH, lseStrideRow;

  // Key/value slots (slot_view.hpp), strides in elements of T.
  const T* k;
  const T* v;
  int64_t kStrideB, kStrideH, kStrideS, vStrideB, vStrideH, vStrideS;
  const int32_t* pos;
  int64_t posStrideB, posStrideH;
  const int32_t* len;
  int64_t lenStrideB, lenStrideH;
  const int32_t* sumMin;  // null: no summaries (every non-empty tile is PARTIAL)
  const int32_t* sumMax;
  int64_t sumStrideB, sumStrideH;
  int64_t maxLen;  // the grid was sized by it: slots at or past it are never read

  // AttnArgs v3 (null: absent). bias: per-slot logit bias, natural log, added after score();
  // mass: per-slot attention mass, added to by the mass kernel (mass.cuh). Slot-indexed as pos.
  const float* bias;
  int64_t biasStrideB, biasStrideH;
  float* mass;
  int64_t massStrideB, massStrideH;

  int64_t B, Hq, Hkv, G;  // G = Hq / Hkv
  float qScale;  // multiplies q when it is loaded: scale * log2(e) without a score function, else 1
  float sScale;  // multiplies q.k before score(): scale with a score function, else unused

  // Decode only (decode.cuh): partial results of the key splits, in the workspace (host.cuh).
  float* partO;  // [B * Hkv][nSlices][nUnits][rowsPerSlice][D], unnormalised
  float* partM;  // [B * Hkv][nSlices][nUnits][rowsPerSlice], running max (log2 units)
  float* partL;  // same layout, sum of p
  int nSlices, nSplit, nUnits, chunksPerSplit, rowsPerSlice;

  // Slots of (b, KV head hk) a kernel reads: [0, min(len(b, hk), maxLen)) (an int: len is int32).
  __device__ __forceinline__ int keyCount(int64_t b, int64_t hk) const {
    const int n = len[b * lenStrideB + hk * lenStrideH];
    return n < 0 ? 0 : (n < maxLen ? n : int(maxLen));
  }
  __device__ __forceinline__ const T* keys(int64_t b, int64_t hk) const { return k + b * kStrideB + hk * kStrideH; }
  __device__ __forceinline__ const T* values(int64_t b, int64_t hk) const { return v + b * vStrideB + hk * vStrideH; }
  __device__ __forceinline__ const int32_t* keyPositions(int64_t b, int64_t hk) const {
    return pos + b * posStrideB + hk * posStrideH;
  }
  // Query row `row` (= rowStart[b] + i) of head h in sequence b, and where its results go.
  __device__ __forceinline__ const float* queryRow(int64_t b, int64_t h, int64_t row) const {
    return q + row * qStrideRow + b * qStrideB + h * qStrideH;
  }
  __device__ __forceinline__ int32_t queryPosition(int64_t b, int64_t row) const { return qpos[row + b * qposStrideB]; }
  __device__ __forceinline__ float* outRow(int64_t b, int64_t h, int64_t row) const {
    return out + row * oStrideRow + b * oStrideB + h * oStrideH;
  }
  __device__ __forceinline__ float* lseAt(int64_t b, int64_t h, int64_t row) const {
    return lse + row * lseStrideRow + b * lseStrideB + h * lseStrideH;
  }
};

// The slot rows of the (b, hk) a block reads, kept in its shared memory (kSlotBasesBytes) and
// read again where they are used: held in registers through the main loop, the three 64-bit
// pointers cost 6 of them (measured), while a shared-memory read per chunk costs nothing that
// matters. Written by thread 0 before the block's first barrier.
template <class T>
struct SlotBases {
  const T* k;
  const T* v;
  const int32_t* pos;
  const float* bias;  // null without a per-slot bias
};
constexpr int kSlotBasesBytes = 32;  // sizeof(SlotBases), kept a multiple of 16 bytes

// (A view with no slots may have null k, v, pos: no offset is added to a null pointer.)
template <class T>
__device__ __forceinline__ void storeSlotBases(SlotBases<T>* s, const DeviceArgs<T>& a, int64_t b, int64_t hk) {
  if (threadIdx.x == 0)
    *s = SlotBases<T>{a.k ? a.keys(b, hk) : nullptr, a.v ? a.values(b, hk) : nullptr,
                      a.pos ? a.keyPositions(b, hk) : nullptr,
                      a.bias ? a.bias + b * a.biasStrideB + hk * a.biasStrideH : nullptr};
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
