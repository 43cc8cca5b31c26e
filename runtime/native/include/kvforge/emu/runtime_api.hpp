// The CUDA runtime API subset a kernel's host code may call, as host shims. "Device" memory is
// host memory (cudaMalloc is a 256-byte aligned allocation), every copy is a memcpy, launches
// are synchronous so synchronisation is a no-op, and streams are handles that order nothing
// (every operation has finished when its call returns).
//
// One device, ordinal 0 (cudaGetDeviceCount = 1). cudaDeviceGetAttribute answers, for device 0:
//   cudaDevAttrMultiProcessorCount           smCount() (config.hpp: KVF_EMU_SMS, else the OS
//                                            threads a launch spreads its blocks over)
//   cudaDevAttrMaxSharedMemoryPerBlockOptin  227 KiB (what cudaFuncSetAttribute may raise a
//                                            kernel's dynamic shared memory to: sm_90's limit)
//   cudaDevAttrMaxSharedMemoryPerBlock       48 KiB (without the opt-in)
//   cudaDevAttrMaxSharedMemoryPerMultiprocessor  228 KiB (sm_90)
//   cudaDevAttrMaxThreadsPerBlock 1024, cudaDevAttrWarpSize 32,
//   cudaDevAttrComputeCapabilityMajor / Minor 9 / 0 (the limits checked are sm_90's)
// and cudaErrorInvalidValue for any other attribute, cudaErrorInvalidDevice for another device.
//
// Why not the toolkit's declarations: they have C linkage, so a same-named shim would be the
// same symbol as cudart's in an addon that also links cudart (an nvcc-compiled copy of the same
// kernels). The shims live in kvf::emu::rt and are brought into the global namespace by
// using-declarations; the types carry kvfEmu names under CUDA's typedef names. Nothing here has
// a linkage name that cudart or the toolkit headers also define.
//
// Errors: a failing call returns the error and records it; cudaGetLastError returns and clears
// the calling thread's last error, cudaPeekAtLastError returns it. (Launch errors are thrown by
// kvf::emu::launch, never recorded.)
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include "kvforge/host_memory.hpp"
#include "kvforge/emu/launch.hpp"

enum kvfEmuCudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorLaunchFailure = 719,
};
typedef kvfEmuCudaError cudaError_t;
typedef kvfEmuCudaError cudaError;

enum kvfEmuCudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
typedef kvfEmuCudaMemcpyKind cudaMemcpyKind;

enum kvfEmuCudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
typedef kvfEmuCudaFuncAttribute cudaFuncAttribute;

// The toolkit's numbers (driver_types.h), for the attributes the emulator answers.
enum kvfEmuCudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerMultiprocessor = 81,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};
typedef kvfEmuCudaDeviceAttr cudaDeviceAttr;

// A stream handle (cudaStreamCreate); the null stream is the legacy default stream.
struct kvfEmuCudaStream {
  unsigned flags;
};
typedef kvfEmuCudaStream* cudaStream_t;

namespace kvf::emu::rt {

namespace detail {
inline thread_local cudaError_t lastError = cudaSuccess;
inline cudaError_t fail(cudaError_t e) {
  lastError = e;
  return e;
}
constexpr size_t kAllocAlign = 256;  // cudaMalloc's guarantee
inline std::atomic<uint64_t> allocations{0};  // successful cudaMalloc calls of > 0 bytes
}  // namespace detail

inline cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (ptr == nullptr) return detail::fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  // Device memory is host memory here: more than the host could give is refused before asking.
  if (kvf::exceedsAvailableMemory(bytes)) return detail::fail(cudaErrorMemoryAllocation);
  *ptr = ::operator new(bytes, std::align_val_t(detail::kAllocAlign), std::nothrow);
  if (*ptr == nullptr) return detail::fail(cudaErrorMemoryAllocation);
  detail::allocations.fetch_add(1, std::memory_order_relaxed);
  return cudaSuccess;
}
template <class T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
inline cudaError_t cudaFree(void* ptr) {
  if (ptr) ::operator delete(ptr, std::align_val_t(detail::kAllocAlign));
  return cudaSuccess;
}
inline cudaError_t cudaMallocHost(void** ptr, size_t bytes) { return cudaMalloc(ptr, bytes); }
inline cudaError_t cudaFreeHost(void* ptr) { return cudaFree(ptr); }

inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (unsigned(kind) > unsigned(cudaMemcpyDefault)) return detail::fail(cudaErrorInvalidMemcpyDirection);
  if (bytes == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return detail::fail(cudaErrorInvalidValue);
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                                   cudaStream_t = nullptr) {
  return cudaMemcpy(dst, src, bytes, kind);
}
inline cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  if (dst == nullptr) return detail::fail(cudaErrorInvalidValue);
  std::memset(dst, value, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t = nullptr) {
  return cudaMemset(dst, value, bytes);
}
// Copy into a __device__ / __constant__ variable (a plain global here).
template <class T>
cudaError_t cudaMemcpyToSymbol(T& symbol, const void* src, size_t bytes, size_t offset = 0,
                               cudaMemcpyKind kind = cudaMemcpyHostToDevice) {
  if (offset + bytes > sizeof(T)) return detail::fail(cudaErrorInvalidValue);
  return cudaMemcpy(reinterpret_cast<char*>(&symbol) + offset, src, bytes, kind);
}
template <class T>
cudaError_t cudaMemcpyFromSymbol(void* dst, const T& symbol, size_t bytes, size_t offset = 0,
                                 cudaMemcpyKind kind = cudaMemcpyDeviceToHost) {
  if (offset + bytes > sizeof(T)) return detail::fail(cudaErrorInvalidValue);
  return cudaMemcpy(dst, reinterpret_cast<const char*>(&symbol) + offset, bytes, kind);
}

inline cudaError_t cudaGetLastError() {
  const cudaError_t e = detail::lastError;
  detail::lastError = cudaSuccess;
  return e;
}
inline cudaError_t cudaPeekAtLastError() { return detail::lastError; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

// Devices: one, ordinal 0.
inline cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return detail::fail(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}
inline cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return detail::fail(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : detail::fail(cudaErrorInvalidDevice); }
inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (value == nullptr) return detail::fail(cudaErrorInvalidValue);
  if (device != 0) return detail::fail(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = int(kvf::emu::detail::kDefaultDynamicSharedLimit); return cudaSuccess;
    case cudaDevAttrWarpSize: *value = 32; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = kvf::emu::smCount(); return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = 9; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = 228 * 1024; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = int(kvf::emu::detail::kMaxDynamicSharedBytes); return cudaSuccess;
  }
  return detail::fail(cudaErrorInvalidValue);
}

// Streams: handles only (see the top of this file); flags are kept, nothing else.
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (stream == nullptr) return detail::fail(cudaErrorInvalidValue);
  *stream = new (std::nothrow) kvfEmuCudaStream{flags};
  return *stream ? cudaSuccess : detail::fail(cudaErrorMemoryAllocation);
}
inline cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, 0u); }
inline cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr) return detail::fail(cudaErrorInvalidResourceHandle);
  delete stream;
  return cudaSuccess;
}
inline cudaError_t cudaStreamQuery(cudaStream_t) { return cudaSuccess; }  // all work has finished

// Only MaxDynamicSharedMemorySize has an effect: launches above 48 KiB of dynamic shared memory
// need it, as on a GPU (launch.hpp). Values above the hardware limit are rejected.
template <class F>
cudaError_t cudaFuncSetAttribute(F* kernel, cudaFuncAttribute attr, int value) {
  static_assert(std::is_function<F>::value, "cudaFuncSetAttribute takes a kernel (function pointer)");
  if (kernel == nullptr) return detail::fail(cudaErrorInvalidDeviceFunction);
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || size_t(value) > kvf::emu::detail::kMaxDynamicSharedBytes)
      return detail::fail(cudaErrorInvalidValue);
    kvf::emu::detail::FuncAttributes& a = kvf::emu::detail::funcAttributes();
    std::lock_guard<std::mutex> lock(a.m);
    a.maxDynamicShared[reinterpret_cast<const void*>(kernel)] = size_t(value);
  } else if (attr != cudaFuncAttributePreferredSharedMemoryCarveout) {
    return detail::fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

inline const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}
inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    default: return cudaGetErrorName(e);
  }
}

}  // namespace kvf::emu::rt

namespace kvf::emu {
// Successful cudaMalloc calls (of more than 0 bytes) so far in this process: lets a test show
// that a warmed-up code path allocates nothing.
inline uint64_t allocationCount() { return rt::detail::allocations.load(std::memory_order_relaxed); }
}  // namespace kvf::emu

using kvf::emu::rt::cudaDeviceGetAttribute;
using kvf::emu::rt::cudaDeviceSynchronize;
using kvf::emu::rt::cudaFree;
using kvf::emu::rt::cudaFreeHost;
using kvf::emu::rt::cudaFuncSetAttribute;
using kvf::emu::rt::cudaGetErrorName;
using kvf::emu::rt::cudaGetDevice;
using kvf::emu::rt::cudaGetDeviceCount;
using kvf::emu::rt::cudaGetErrorString;
using kvf::emu::rt::cudaGetLastError;
using kvf::emu::rt::cudaMalloc;
using kvf::emu::rt::cudaMallocHost;
using kvf::emu::rt::cudaMemcpy;
using kvf::emu::rt::cudaMemcpyAsync;
using kvf::emu::rt::cudaMemcpyFromSymbol;
using kvf::emu::rt::cudaMemcpyToSymbol;
using kvf::emu::rt::cudaMemset;
using kvf::emu::rt::cudaMemsetAsync;
using kvf::emu::rt::cudaPeekAtLastError;
using kvf::emu::rt::cudaSetDevice;
using kvf::emu::rt::cudaStreamCreate;
using kvf::emu::rt::cudaStreamCreateWithFlags;
using kvf::emu::rt::cudaStreamDestroy;
using kvf::emu::rt::cudaStreamQuery;
using kvf::emu::rt::cudaStreamSynchronize;
