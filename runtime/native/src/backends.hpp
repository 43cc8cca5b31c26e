// One lookup over every backend compiled into this addon: "cpu" (generated C++ kernels), "cuda"
// (generated .cu compiled by nvcc) and "cuda-emu" (the same .cu compiled against the emulator).
// All three share the kernel calling contract (kvf::KernelFn over AttnArgs in the backend's memory).
#pragma once
#include <string>
#include <vector>
#include "kvforge/registry.hpp"

namespace kvf {

// Backends compiled into this addon, "cpu" first.
std::vector<std::string> compiledBackends();

// The kernel `id` of `backend` as a CpuKernel-shaped descriptor; false when there is none.
// *storage (when given) receives the K/V dtype it reads: "f32" for CPU kernels (they read any
// dtype, the typed-array path passes f32), the plan's dtype for CUDA kernels.
bool findKernel(const std::string& backend, const std::string& id, CpuKernel& out, std::string* storage = nullptr);

// Ids of one backend's kernels, sorted.
std::vector<std::string> listKernels(const std::string& backend);

}  // namespace kvf
