#include "cuda_device.hpp"

#if KVFORGE_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace kvf {

CudaDeviceStatus cudaDeviceStatus() {
  CudaDeviceStatus s;
#if KVFORGE_HAVE_CUDA
  s.compiled = true;
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    s.reason = cudaGetErrorName(err);
    cudaGetLastError();  // clear the sticky error so later calls report their own
  } else if (n == 0) {
    s.reason = "no CUDA device";
  } else {
    s.available = true;
    s.devices = n;
  }
#else
  s.reason = "not compiled: nvcc was not found when the addon was built (or KVFORGE_CUDA=OFF)";
#endif
  return s;
}

}  // namespace kvf
