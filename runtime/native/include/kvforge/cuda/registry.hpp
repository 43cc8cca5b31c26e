// Registry of CUDA kernels, one table per backend ("cuda": compiled by nvcc, "cuda-emu": the same
// source compiled against the emulator). Generated .cu files register themselves at static
// initialisation with KVF_REGISTER_CUDA_KERNEL (kvforge/cuda/forward.cuh).
//
// Host-only and identical in both compilations (no KVF_CUDA_NS, no device code), so the inline
// definitions below are one entity in the addon and both backends share one table of tables.
// Needs no .cpp file: the storage is a function-local static of an inline function.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include "kvforge/registry.hpp"

namespace kvf {

struct CudaKernel {
  std::string id;
  std::string backend;       // "cuda" or "cuda-emu"
  KernelFn fn = nullptr;     // same contract as a CPU kernel (AttnArgs in the backend's memory)
  int64_t tileQ = 0, tileK = 0;  // compiled tiles
  int numParams = -1;        // -1 = not declared
  int headDim = 0;           // compiled head dim; AttnArgs must have D == Dv == headDim
  std::string storage;       // "f32", "f16" or "bf16": the K/V storage dtype it reads
};

using CudaKernelTable = std::map<std::string, CudaKernel>;  // by id

// The table of one backend (created on first use). Registration happens during static
// initialisation, lookups afterwards; there is no locking.
inline CudaKernelTable& cudaRegistry(const char* backend) {
  static std::map<std::string, CudaKernelTable> tables;
  return tables[backend];
}

inline void registerCudaKernel(const CudaKernel& k) { cudaRegistry(k.backend.c_str())[k.id] = k; }

// nullptr when the backend has no kernel with this id.
inline const CudaKernel* findCudaKernel(const char* backend, const std::string& id) {
  const CudaKernelTable& t = cudaRegistry(backend);
  const auto it = t.find(id);
  return it == t.end() ? nullptr : &it->second;
}

// Ids of one backend, sorted.
inline std::vector<std::string> listCudaKernels(const char* backend) {
  std::vector<std::string> ids;
  for (const auto& entry : cudaRegistry(backend)) ids.push_back(entry.first);
  return ids;
}

namespace detail {
struct CudaRegistrar {
  explicit CudaRegistrar(const CudaKernel& k) { registerCudaKernel(k); }
};
}  // namespace detail

}  // namespace kvf
