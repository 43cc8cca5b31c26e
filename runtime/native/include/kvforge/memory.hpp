// Memory of one target, behind one interface per backend: "cpu" (aligned host memory), "cuda"
// (device memory through the CUDA runtime) and "cuda-emu" (the emulator's device memory, which is
// host memory the emulated kernels address). The N-API buffers (runtime/native/src/napi_buffers.*)
// and the KV cache (cache_ops.hpp) allocate and copy only through these.
//
// Every function throws std::runtime_error naming the backend and the call on failure ("kvforge
// cuda: cudaMalloc(1048576 bytes) failed: cudaErrorMemoryAllocation"; alloc names the byte count);
// release never throws. Pointers from alloc are aligned to kMemoryAlignment bytes; alloc(0) is a
// valid unique pointer (to one byte). Zero-byte copies and fills are no-ops (any pointers).
//
// Implementations: "cpu" in src/memory_cpu.cpp (aligned operator new, memcpy, memset; everything
// synchronous), "cuda" and "cuda-emu" in src/cuda/memory_cuda.cu (compiled by nvcc, and against
// the emulator). Each registers itself at static initialisation (src/memory_registry.cpp holds
// the table). All functions may be called from any thread. Ordering on "cuda": every call uses
// the legacy default stream, so it is ordered with every kernel (attention and cache ops alike);
// upload and download return when the host buffer may be reused / holds the data, copy and fill
// may still be running when they return, and synchronize waits for everything and is where a
// kernel's execution error surfaces (as does the next download).
#pragma once
#include <cstddef>
#include <string>

namespace kvf {

constexpr size_t kMemoryAlignment = 256;

struct MemoryOps {
  const char* backend;
  void* (*alloc)(size_t bytes);   // contents undefined; alloc(0) returns a valid unique pointer
  void (*release)(void* p);       // p from alloc, or null
  void (*upload)(void* dst, const void* hostSrc, size_t bytes);    // target <- host
  void (*download)(void* hostDst, const void* src, size_t bytes);  // host <- target
  void (*copy)(void* dst, const void* src, size_t bytes);          // target <- target (no overlap)
  void (*fill)(void* dst, int byteValue, size_t bytes);
  void (*synchronize)();          // every queued operation of this backend has finished
  // True when the target's memory is host memory ("cpu", and "cuda-emu", whose kernels run on the
  // host): host arrays may then be handed to kernels as they are, with no staging copy.
  bool hostAddressable;
};

// The ops of a backend compiled into this addon; nullptr for any other name.
const MemoryOps* findMemoryOps(const std::string& backend);

// Called from static initialisers of the backend's translation unit.
void registerMemoryOps(const MemoryOps* ops);

}  // namespace kvf
