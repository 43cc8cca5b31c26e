// Host-side view of how forward<V> (host.cuh) launches a variant's kernels: for every __global__
// function it may launch, the block size and the dynamic shared memory per block, taken from the
// very constexpr functions and constants the launch code passes (kThreads, prefillSmemBytes<V>(),
// decodeSmemBytes<V, R>(), kDecodeSmallRows, decodeLargeRows<D>()). The tile classes' part of the
// shared memory depends on the call; it is counted for a call with kLaunchInfoSlots slots
// (prefill) and at its bound, kDecodeMaxChunksPerSplit chunks (decode).
//
// For tools, not for the addon: `kvforge resources` (runtime/cuda/resources.ts) compiles
// runtime/native/tools/launch_info.cu against a generated .cu to read these numbers, and feeds
// them, with ptxas's registers and static shared memory, to the occupancy calculator.
//
// Keep variantLaunches() in step with launchPrefill / launchDecode in host.cuh. Drift is caught:
// `kvforge resources` fails when the __global__ functions nvcc compiles for a variant (prefill,
// decode<R> for each R, merge, mass) are not exactly the ones listed here.
#pragma once
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/decode.cuh"
#include "kvforge/cuda/host.cuh"
#include "kvforge/cuda/prefill.cuh"
#include "kvforge/cuda/storage.cuh"
#include "kvforge/cuda/warp_step.cuh"

namespace kvf {
namespace KVF_CUDA_NS {

// One __global__ function as forward<V> launches it.
struct KernelLaunch {
  const char* role;      // "prefill" (prefillKernel<V>), "decode" (decodeKernel<V, rows>),
                         // "merge" (decodeMergeKernel<D, Storage>) or "mass" (massKernel<V>)
  int rows;              // decode: rows per slice R, its template argument; 0 otherwise
  int threads;           // block size
  int dynamicSmemBytes;  // dynamic shared memory per block, as launched
  bool smemOptIn;        // the host raises cudaFuncAttributeMaxDynamicSharedMemorySize to it
};

constexpr int kMaxVariantLaunches = 5;
constexpr int64_t kLaunchInfoSlots = 32768;  // maxLen of the call the prefill's numbers are for

// Everything forward<V> may launch, with the variant's compiled shape.
struct VariantLaunches {
  const char* storage;  // StorageTraits<V::Storage>::kName: "f32", "f16" or "bf16"
  int headDim, tileQ, tileK;
  int count;
  KernelLaunch kernels[kMaxVariantLaunches];
};

template <class V>
constexpr VariantLaunches variantLaunches() {
  constexpr int D = V::kHeadDim;
  constexpr int small = kDecodeSmallRows, large = decodeLargeRows<D>();
  static_assert(small != large, "the two decode instantiations must differ (else list one)");
  return VariantLaunches{
      StorageTraits<typename V::Storage>::kName,
      D,
      V::kTileQ,
      V::kTileK,
      5,
      {
          {"prefill", 0, kThreads, int(prefillSmemBytes<V>() + roundUp16(prefillClassBytes<V>(kLaunchInfoSlots))),
           true},  // launchPrefill<V>
          {"decode", small, kThreads,
           int(decodeSmemBytes<V, small>() + roundUp16(decodeClassBytes<V, small>(kDecodeMaxChunksPerSplit))),
           true},  // launchDecode<V, small>
          {"decode", large, kThreads,
           int(decodeSmemBytes<V, large>() + roundUp16(decodeClassBytes<V, large>(kDecodeMaxChunksPerSplit))),
           true},  // launchDecode<V, large>
          {"merge", 0, kThreads, 0, false},                                // launchDecode's merge
          {"mass", 0, kMassThreads, 0, false},                             // launchMass<V>
      }};
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
