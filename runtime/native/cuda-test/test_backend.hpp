// What check_cuda.cpp needs of a backend besides its kernels: its memory (the kernels read and
// write only memory of their backend, kvforge/attn_args.hpp), streams, and a check of the runtime
// API the kernels' host code relies on. test_backend.cu implements it once per compilation (nvcc:
// "cuda", the emulator: "cuda-emu") and registers it here, as the kernels register themselves.
// Host-only and identical in both compilations, like kvforge/cuda/registry.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace kvf::cudatest {

struct TestBackend {
  const char* name;
  void* (*alloc)(size_t bytes);  // throws std::runtime_error; 256-byte aligned
  void (*release)(void* p);
  void (*upload)(void* dst, const void* hostSrc, size_t bytes);
  void (*download)(void* hostDst, const void* src, size_t bytes);
  void* (*createStream)();  // a cudaStream_t
  void (*destroyStream)(void* stream);
  int64_t (*allocations)();  // cudaMalloc calls so far, -1 where it cannot be known (a GPU)
  std::string (*selfCheck)();  // "" or what failed: device queries, attributes, streams
};

inline std::map<std::string, const TestBackend*>& testBackends() {
  static std::map<std::string, const TestBackend*> all;
  return all;
}
inline const TestBackend* findTestBackend(const std::string& name) {
  const auto it = testBackends().find(name);
  return it == testBackends().end() ? nullptr : it->second;
}
struct TestBackendRegistrar {
  explicit TestBackendRegistrar(const TestBackend* b) { testBackends()[b->name] = b; }
};

}  // namespace kvf::cudatest
