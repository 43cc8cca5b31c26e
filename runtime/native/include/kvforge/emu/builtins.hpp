// CUDA built-in variables, block barriers, fences and dynamic shared memory, for kernel code.
//
// threadIdx, blockIdx (uint3) and blockDim, gridDim (dim3) are read-only expressions of the
// running emulated thread. Barrier intrinsics take the call site as hidden default arguments
// (used to check that all threads reach the same barrier, and in messages).
//
// KVF_DYNAMIC_SHARED(T, name) declares `T* const name`, this block's dynamic shared memory as
// sized by the launch (128-byte aligned, uninitialised; nullptr when the launch asked for 0
// bytes). Use it inside kernel or __device__ function bodies. nvcc spelling (the kernel's own
// header): extern __shared__ __align__(16) T name[].
#pragma once
#include <atomic>
#include "kvforge/emu/errors.hpp"
#include "kvforge/emu/scheduler/block.hpp"
#include "kvforge/emu/scheduler/thread_state.hpp"

#define threadIdx (static_cast<const ::uint3&>(::kvf::emu::detail::tls.threadIdx))
#define blockIdx (static_cast<const ::uint3&>(::kvf::emu::detail::tls.blockIdx))
#define blockDim (static_cast<const ::dim3&>(::kvf::emu::detail::tls.blockDim))
#define gridDim (static_cast<const ::dim3&>(::kvf::emu::detail::tls.gridDim))

#define KVF_DYNAMIC_SHARED(T, name) T* const name = static_cast<T*>(::kvf::emu::detail::tls.dynamicShared)

inline constexpr int warpSize = 32;

namespace kvf::emu::detail {

// The runner of the emulated thread making an intrinsic call.
inline BlockRunner& kernelRunner(const char* intrinsic) {
  BlockRunner* r = tls.runner;
  if (r == nullptr || !r->inKernel())
    throw Error(std::string(intrinsic) + " called outside an emulated kernel");
  return *r;
}

inline unsigned syncThreads(const char* op, bool pred, const char* file, int line) {
  return kernelRunner(op).syncThreads(Site{op, file, line}, pred);
}

}  // namespace kvf::emu::detail

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  kvf::emu::detail::syncThreads("__syncthreads()", false, file, line);
}
// Barrier + the number of threads whose predicate is non-zero.
inline int __syncthreads_count(int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return int(kvf::emu::detail::syncThreads("__syncthreads_count()", pred != 0, file, line));
}
inline int __syncthreads_and(int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return int(kvf::emu::detail::syncThreads("__syncthreads_and()", pred != 0, file, line)) ==
         int(blockDim.x * blockDim.y * blockDim.z);
}
inline int __syncthreads_or(int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return kvf::emu::detail::syncThreads("__syncthreads_or()", pred != 0, file, line) != 0;
}

// Fences. Emulated threads of a block share one OS thread and switch only inside intrinsics
// (which are compiler barriers), so the block scope needs only a compiler fence; device and
// system scope order memory between the OS threads that run different blocks.
inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
