// kvforge's CUDA execution-model emulator: a .cu source compiled as host C++ (g++ -x c++, with
// -I<cuda>/include) and this header force-included first runs on the CPU, from the same source
// nvcc compiles.
//
// Model: one fiber per CUDA thread (fiber.hpp: user-space context switch), a block's fibers on
// one OS thread (scheduler/block.hpp: barriers, deadlock detection), warp collectives through
// per-lane slots (scheduler/warp_sync.hpp), blocks spread over OS threads (launch.hpp).
//
// Kernel-side API (global namespace, CUDA semantics; details in each header):
//   qualifiers.hpp   __global__ __device__ __host__ __forceinline__ __noinline__ __restrict__
//                    __launch_bounds__(...) __shared__ __constant__ __align__(n)
//   builtins.hpp     threadIdx blockIdx blockDim gridDim warpSize; __syncthreads[_count|_and|_or]
//                    __threadfence[_block|_system]; KVF_DYNAMIC_SHARED(T, name)
//   warp.hpp         __shfl[_up|_down|_xor]_sync __ballot_sync __any_sync __all_sync __syncwarp
//                    __activemask
//   atomics.hpp      atomicAdd/Sub/Exch/Min/Max/And/Or/Xor/CAS/Inc/Dec
//   math.hpp         __expf __logf __fdividef __frcp_rn __fmaf_rn __saturatef rsqrtf __ldg
//                    __float_as_int & co., min/max overloads, ...
//   fp16.hpp         host shims for cuda_fp16.h / cuda_bf16.h device-only functions
// Host-side API:
//   launch.hpp       kvf::emu::launch(name, kernel, grid, block, smemBytes, osThreads, args...)
//                    KVF_LAUNCH(kernel, grid, block, smemBytes, stream, args...)
//   runtime_api.hpp  cudaMalloc/Free/Memcpy/Memset/GetLastError/DeviceSynchronize/
//                    FuncSetAttribute/GetErrorName, GetDevice/DeviceGetAttribute (one device,
//                    documented values), StreamCreate/Synchronize/Destroy ... (no
//                    cuda_runtime.h involved)
//   config.hpp       stack size, default OS threads, reported SM count, schedule order (also
//                    from the environment)
//   errors.hpp       kvf::emu::Error, LaunchError, KernelError, DeadlockError
//
// Defines KVF_CUDA_EMULATION (kernel headers test it to pick their spelling of the few macros
// that differ) and never defines __CUDACC__ or __CUDA_ARCH__.
#pragma once
#define KVF_CUDA_EMULATION 1

#include "kvforge/emu/toolkit.hpp"  // first: all standard and toolkit headers, before any macro

#include "kvforge/emu/errors.hpp"
#include "kvforge/emu/config.hpp"
#include "kvforge/emu/fiber.hpp"
#include "kvforge/emu/stack_pool.hpp"
#include "kvforge/emu/scheduler/block.hpp"
#include "kvforge/emu/launch.hpp"
#include "kvforge/emu/builtins.hpp"
#include "kvforge/emu/warp.hpp"
#include "kvforge/emu/atomics.hpp"
#include "kvforge/emu/math.hpp"
#include "kvforge/emu/fp16.hpp"
#include "kvforge/emu/runtime_api.hpp"

#include "kvforge/emu/qualifiers.hpp"  // last: macros that would disturb the headers above
