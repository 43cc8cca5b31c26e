// What the two CUDA cache sources (cache_cuda.cu, cache_policy_cuda.cu) share: grid geometry and
// the host-side error handling of an op. Each .cu includes it inside its own translation unit (the
// definitions live in an unnamed namespace of kvf::KVF_CUDA_NS, once per flavour).
#pragma once
#include <stdexcept>
#include <string>
#include "kvforge/cache_ops.hpp"
#include "kvforge/cache_slots.hpp"
#include "kvforge/cuda/config.cuh"

#ifndef KVF_CACHE_MAX_BLOCKS
#define KVF_CACHE_MAX_BLOCKS (1 << 20)
#endif

namespace kvf {
namespace KVF_CUDA_NS {
namespace {

constexpr int kCacheThreads = 256;
constexpr int64_t kMaxBlocks = KVF_CACHE_MAX_BLOCKS;

__device__ __forceinline__ int64_t firstIndex() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t gridStride() { return int64_t(gridDim.x) * blockDim.x; }

[[noreturn]] inline void fail(const char* op, const std::string& why) {
  throw std::runtime_error(std::string("kvforge " KVF_CUDA_BACKEND ": cache ") + op + ": " + why);
}

inline void checkShape(const CacheView& c, const char* op) {
  if (const char* why = slots::shapeProblem(c)) fail(op, why);
}

inline void checkLaunch(const char* op, const char* kernel) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) fail(op, std::string(kernel) + " launch failed: " + cudaGetErrorName(err));
}

// Runs the launches of one op; an exception from them (the emulator throws its launch and kernel
// errors) is rethrown as std::runtime_error naming the backend and the op.
template <class F>
void guarded(const char* op, F&& launches) {
  try {
    launches();
  } catch (const std::exception& e) {
    const std::string prefix = std::string("kvforge " KVF_CUDA_BACKEND ": cache ") + op + ": ";
    if (std::string(e.what()).compare(0, prefix.size(), prefix) == 0) throw;
    fail(op, e.what());
  }
}

}  // namespace
}  // namespace KVF_CUDA_NS
}  // namespace kvf
