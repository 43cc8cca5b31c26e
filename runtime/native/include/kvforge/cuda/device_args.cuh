// What the kernels receive: ForwardArgs with device pointers, the storage dtype T for q, k, v,
// and the host's derived sizes. Passed by value (a kernel parameter).
#pragma once
#include "kvforge/cuda/config.cuh"

namespace kvf {
namespace KVF_CUDA_NS {

enum TileClass : uint8_t { kTileEmpty = 0, kTilePartial = 1, kTileFull = 2 };

template <class T>
struct DeviceArgs {
  const T* q;            // [B, Hq, Lq, D]
  const T* k;            // [B, Hkv, Lk, D]
  const T* v;            // [B, Hkv, Lk, D]
  float* out;            // [B, Hq, Lq, D]
  float* lse;            // [B, Hq, Lq]
  const int32_t* qpos;   // [Lq]
  const int32_t* kpos;   // [Lk]
  const uint8_t* tileMap;  // [mapB][mapH][nQt][nKt], forward_args.hpp
  int64_t B, Hq, Hkv, Lq, Lk, G;  // G = Hq / Hkv
  int64_t mapB, mapH, nQt, nKt;
  float qScale;  // multiplies q when it is loaded: scale * log2(e) without a score function, else 1
  float sScale;  // multiplies q.k before score(): scale with a score function, else unused

  // Decode only (decode.cuh): partial results of the key splits.
  float* partO;  // [B * Hkv][nSlices][nUnits][rowsPerSlice][D], unnormalised
  float* partM;  // [B * Hkv][nSlices][nUnits][rowsPerSlice], running max (log2 units)
  float* partL;  // same layout, sum of p
  int nSlices, nSplit, nUnits, chunksPerSplit, rowsPerSlice;

  // Start of the tile-map row (nKt classes) of batch b, QUERY head h, query tile qt.
  __device__ __forceinline__ const uint8_t* mapRow(int64_t b, int64_t h, int64_t qt) const {
    const int64_t bm = mapB == 1 ? 0 : b, hm = mapH == 1 ? 0 : h;
    return tileMap + ((bm * mapH + hm) * nQt + qt) * nKt;
  }
};

}  // namespace KVF_CUDA_NS
}  // namespace kvf
