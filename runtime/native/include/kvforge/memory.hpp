// Memory of one target, behind one interface per backend: "cpu" (aligned host memory), "cuda"
// (device memory through the CUDA runtime) and "cuda-emu" (the emulator's device memory, which is
// host memory the emulated kernels address). The N-API buffers (runtime/native/src/napi_buffers.*)
// and the KV cache (cache_ops.hpp) allocate and copy only through these.
//
// Every function throws std::runtime_error (or std::bad_alloc) naming the backend and the call on
// failure; release never throws. Pointers from alloc are aligned to kMemoryAlignment bytes.
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
};

// The ops of a backend compiled into this addon; nullptr for any other name.
const MemoryOps* findMemoryOps(const std::string& backend);

// Called from static initialisers of the backend's translation unit.
void registerMemoryOps(const MemoryOps* ops);

}  // namespace kvf
