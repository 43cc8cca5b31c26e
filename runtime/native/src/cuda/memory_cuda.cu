// MemoryOps "cuda" (this file compiled by nvcc: device memory through the CUDA runtime) and
// "cuda-emu" (the same file compiled as host C++ against the emulator, whose runtime API shims
// hand out host memory the emulated kernels address). CMakeLists.txt compiles it both ways; every
// name lives in kvf::KVF_CUDA_NS (cuda / cuda_emu), so the two copies never meet.
//
// Every runtime error becomes a std::runtime_error (OutOfMemory for cudaErrorMemoryAllocation) naming the backend, the call and
// cudaGetErrorName (alloc: also the byte count), after clearing the runtime's last error so a
// later launch check does not report it again. Ordering: everything runs on the legacy default
// stream. upload and download (cudaMemcpy to or from pageable host memory) return when the host
// buffer may be reused and a download when its data has arrived, i.e. after all earlier work;
// copy (device to device) and fill (cudaMemset) may still be running when they return;
// synchronize (cudaDeviceSynchronize) waits for all of it and reports a kernel's execution error.
#include <stdexcept>
#include <string>
#include "kvforge/cuda/config.cuh"
#include "kvforge/memory.hpp"
#include "kvforge/out_of_memory.hpp"

namespace kvf {
namespace KVF_CUDA_NS {
namespace {

[[noreturn]] void fail(const char* call, const std::string& what, cudaError_t err) {
  cudaGetLastError();
  const std::string msg = std::string("kvforge " KVF_CUDA_BACKEND ": ") + call + "(" + what + ") failed: " + cudaGetErrorName(err);
  if (err == cudaErrorMemoryAllocation) throw OutOfMemory(msg);
  throw std::runtime_error(msg);
}

void* memAlloc(size_t bytes) {
  void* p = nullptr;
  // alloc(0) is a valid unique pointer (cudaMalloc(0) would give null): one byte, 256-aligned.
  const cudaError_t err = cudaMalloc(&p, bytes == 0 ? 1 : bytes);
  if (err != cudaSuccess) fail("cudaMalloc", std::to_string(bytes) + " bytes", err);
  return p;
}
void memRelease(void* p) {
  if (p && cudaFree(p) != cudaSuccess) cudaGetLastError();  // never throws; nothing to do about it
}
void memUpload(void* dst, const void* hostSrc, size_t bytes) {
  if (bytes == 0) return;
  const cudaError_t err = cudaMemcpy(dst, hostSrc, bytes, cudaMemcpyHostToDevice);
  if (err != cudaSuccess) fail("cudaMemcpy", "upload, " + std::to_string(bytes) + " bytes", err);
}
void memDownload(void* hostDst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  const cudaError_t err = cudaMemcpy(hostDst, src, bytes, cudaMemcpyDeviceToHost);
  if (err != cudaSuccess) fail("cudaMemcpy", "download, " + std::to_string(bytes) + " bytes", err);
}
void memCopy(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  const cudaError_t err = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice);
  if (err != cudaSuccess) fail("cudaMemcpy", "device to device, " + std::to_string(bytes) + " bytes", err);
}
void memFill(void* dst, int byteValue, size_t bytes) {
  if (bytes == 0) return;
  const cudaError_t err = cudaMemset(dst, byteValue, bytes);
  if (err != cudaSuccess) fail("cudaMemset", std::to_string(bytes) + " bytes", err);
}
void memSynchronize() {
  const cudaError_t err = cudaDeviceSynchronize();
  if (err != cudaSuccess) fail("cudaDeviceSynchronize", "", err);
}

const MemoryOps kMemory{KVF_CUDA_BACKEND, memAlloc, memRelease, memUpload, memDownload, memCopy, memFill, memSynchronize,
#if defined(KVF_CUDA_EMULATION)
                        true};
#else
                        false};
#endif

struct Registrar {
  Registrar() { registerMemoryOps(&kMemory); }
} registrar;

}  // namespace
}  // namespace KVF_CUDA_NS
}  // namespace kvf
