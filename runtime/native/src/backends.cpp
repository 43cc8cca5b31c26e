#include "backends.hpp"

#include <algorithm>

#if KVFORGE_HAVE_CUDA || KVFORGE_HAVE_CUDA_EMU
#include "kvforge/cuda/registry.hpp"
#endif

namespace kvf {

std::vector<std::string> compiledBackends() {
  std::vector<std::string> b{"cpu"};
#if KVFORGE_HAVE_CUDA
  b.push_back("cuda");
#endif
#if KVFORGE_HAVE_CUDA_EMU
  b.push_back("cuda-emu");
#endif
  return b;
}

bool findKernel(const std::string& backend, const std::string& id, CpuKernel& out, std::string* storage) {
  if (backend == "cpu") {
    const CpuKernel* k = findCpuKernel(id);
    if (k) out = *k;
    if (storage) *storage = "f32";
    return k != nullptr;
  }
#if KVFORGE_HAVE_CUDA || KVFORGE_HAVE_CUDA_EMU
  const std::vector<std::string> compiled = compiledBackends();
  if (std::find(compiled.begin(), compiled.end(), backend) == compiled.end()) return false;
  const CudaKernel* k = findCudaKernel(backend.c_str(), id);
  if (!k) return false;
  out = CpuKernel{k->id, k->fn, k->tileQ, k->tileK, k->numParams};
  if (storage) *storage = k->storage;
  return true;
#else
  return false;
#endif
}

std::vector<std::string> listKernels(const std::string& backend) {
  std::vector<std::string> ids;
  if (backend == "cpu") {
    ids = listCpuKernels();
  } else {
#if KVFORGE_HAVE_CUDA || KVFORGE_HAVE_CUDA_EMU
    const std::vector<std::string> compiled = compiledBackends();
    if (std::find(compiled.begin(), compiled.end(), backend) != compiled.end()) ids = listCudaKernels(backend.c_str());
#endif
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace kvf
