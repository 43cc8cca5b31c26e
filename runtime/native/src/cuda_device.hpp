// Whether a CUDA device can run the "cuda" backend's kernels, and if not, why.
#pragma once
#include <string>

namespace kvf {

struct CudaDeviceStatus {
  bool compiled = false;   // nvcc compiled the generated kernels into this addon
  bool available = false;  // a device answered
  int devices = 0;
  std::string reason;      // the CUDA error name when not available (e.g. cudaErrorInsufficientDriver)
};

CudaDeviceStatus cudaDeviceStatus();

}  // namespace kvf
