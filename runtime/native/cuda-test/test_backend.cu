// The harness's TestBackend (test_backend.hpp) of this compilation: nvcc -> "cuda" (the CUDA
// runtime), emulator -> "cuda-emu" (its runtime API shims, whose documented values selfCheck
// verifies exactly; on a GPU it checks what must hold on any device).
#include <stdexcept>
#include <string>
#include "kvforge/cuda/config.cuh"
#include "test_backend.hpp"

namespace {

void ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(KVF_CUDA_BACKEND " test backend: ") + what + ": " + cudaGetErrorName(e));
}
void* alloc(size_t bytes) {
  void* p = nullptr;
  ok(cudaMalloc(&p, bytes < 1 ? 1 : bytes), "cudaMalloc");
  return p;
}
void release(void* p) { (void)cudaFree(p); }
void upload(void* dst, const void* src, size_t bytes) { ok(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "upload"); }
void download(void* dst, const void* src, size_t bytes) { ok(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "download"); }
void* createStream() {
  cudaStream_t s = nullptr;
  ok(cudaStreamCreate(&s), "cudaStreamCreate");
  return s;
}
void destroyStream(void* s) { ok(cudaStreamDestroy(static_cast<cudaStream_t>(s)), "cudaStreamDestroy"); }
int64_t allocations() {
#if defined(KVF_CUDA_EMULATION)
  return int64_t(kvf::emu::allocationCount());
#else
  return -1;
#endif
}

std::string selfCheck() {
  std::string bad;
  const auto expect = [&bad](bool cond, const std::string& what) {
    if (!cond && bad.empty()) bad = what;
  };
  int count = 0, dev = -1, sms = 0, optin = 0, perBlock = 0, warp = 0;
  expect(cudaGetDeviceCount(&count) == cudaSuccess && count >= 1, "cudaGetDeviceCount");
  expect(cudaGetDevice(&dev) == cudaSuccess && dev >= 0, "cudaGetDevice");
  expect(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && sms >= 1,
         "cudaDevAttrMultiProcessorCount");
  expect(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) == cudaSuccess && optin >= 48 * 1024,
         "cudaDevAttrMaxSharedMemoryPerBlockOptin");
  expect(cudaDeviceGetAttribute(&perBlock, cudaDevAttrMaxSharedMemoryPerBlock, dev) == cudaSuccess &&
             perBlock == 48 * 1024, "cudaDevAttrMaxSharedMemoryPerBlock");
  expect(cudaDeviceGetAttribute(&warp, cudaDevAttrWarpSize, dev) == cudaSuccess && warp == 32, "cudaDevAttrWarpSize");
  expect(cudaDeviceGetAttribute(&warp, cudaDevAttrWarpSize, count) == cudaErrorInvalidDevice, "attribute of a device past the count");
  expect(cudaGetLastError() == cudaErrorInvalidDevice && cudaGetLastError() == cudaSuccess, "last error after an invalid device");
  cudaStream_t s = nullptr;
  expect(cudaStreamCreate(&s) == cudaSuccess && s != nullptr, "cudaStreamCreate");
  expect(cudaStreamSynchronize(s) == cudaSuccess, "cudaStreamSynchronize");
  expect(cudaStreamQuery(s) == cudaSuccess, "cudaStreamQuery");
  expect(cudaStreamDestroy(s) == cudaSuccess, "cudaStreamDestroy");
  expect(cudaStreamSynchronize(nullptr) == cudaSuccess, "cudaStreamSynchronize(legacy stream)");
#if defined(KVF_CUDA_EMULATION)
  // The documented values (kvforge/emu/runtime_api.hpp).
  int v = 0;
  expect(count == 1 && dev == 0, "one device, ordinal 0");
  expect(sms == kvf::emu::smCount(), "SM count = kvf::emu::smCount()");
  expect(optin == 227 * 1024, "opt-in shared memory = 227 KiB");
  expect(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerMultiprocessor, 0) == cudaSuccess && v == 228 * 1024,
         "shared memory per SM = 228 KiB");
  expect(cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, 0) == cudaSuccess && v == 9, "compute capability 9.x");
  expect(cudaDeviceGetAttribute(&v, cudaDevAttrMaxThreadsPerBlock, 0) == cudaSuccess && v == 1024, "1024 threads per block");
  expect(cudaDeviceGetAttribute(&v, cudaDeviceAttr(12345), 0) == cudaErrorInvalidValue, "unknown attribute");
  expect(std::string(cudaGetErrorName(cudaGetLastError())) == "cudaErrorInvalidValue", "last error after an unknown attribute");
  expect(cudaSetDevice(0) == cudaSuccess && cudaSetDevice(1) == cudaErrorInvalidDevice, "cudaSetDevice");
  expect(std::string(cudaGetErrorName(cudaGetLastError())) == "cudaErrorInvalidDevice", "cudaErrorInvalidDevice's name");
  expect(cudaStreamDestroy(nullptr) == cudaErrorInvalidResourceHandle, "destroying the null stream");
  (void)cudaGetLastError();
  const uint64_t before = kvf::emu::allocationCount();
  void* p = nullptr;
  expect(cudaMalloc(&p, 0) == cudaSuccess && p == nullptr && kvf::emu::allocationCount() == before, "cudaMalloc(0) is not counted");
  expect(cudaMalloc(&p, 64) == cudaSuccess && kvf::emu::allocationCount() == before + 1, "cudaMalloc is counted");
  (void)cudaFree(p);
#endif
  return bad;
}

const kvf::cudatest::TestBackend kBackend{KVF_CUDA_BACKEND, alloc, release, upload, download,
                                          createStream, destroyStream, allocations, selfCheck};
const kvf::cudatest::TestBackendRegistrar kRegistrar(&kBackend);

}  // namespace
