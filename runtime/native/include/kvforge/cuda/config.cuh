// What every kvforge CUDA header needs: which of the two compilations this is, and the few
// macros whose spelling differs between them.
//
// The same kernel source is compiled twice into one addon:
//   - by nvcc (__CUDACC__): real device code, registered under backend "cuda";
//   - by a host C++ compiler against the execution-model emulator (kvforge/emu/cuda_emu.hpp,
//     which defines KVF_CUDA_EMULATION and the CUDA subset below): backend "cuda-emu".
// Everything these headers define lives in namespace kvf::KVF_CUDA_NS, which differs between the
// two, so the two copies never meet under the one-definition rule.
//
// The CUDA subset the kernels may use is exactly what the emulator implements: thread/block
// indices, __syncthreads/__syncwarp, __shfl*_sync/__ballot_sync/__any_sync/__all_sync, a few
// atomics and float math functions, __half/__nv_bfloat16 scalar conversions, static __shared__
// arrays, dynamic shared memory only through KVF_DYNAMIC_SHARED and launches only through
// KVF_LAUNCH. No tensor-core, cp.async, half2 vector intrinsics or inline PTX.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(KVF_CUDA_EMULATION)
#define KVF_CUDA_NS cuda_emu
#define KVF_CUDA_BACKEND "cuda-emu"
#elif defined(__CUDACC__)
#define KVF_CUDA_NS cuda
#define KVF_CUDA_BACKEND "cuda"
#else
#error "kvforge/cuda headers are compiled by nvcc or under the CUDA emulator (include kvforge/emu/cuda_emu.hpp first)"
#endif

// Host-usable in both compilations (they declare no runtime API).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

// Members a Variant calls from the host and the device (its constructor).
#ifndef KVF_HD
#define KVF_HD __host__ __device__
#endif

#if !defined(KVF_CUDA_EMULATION)
// A kernel's dynamic shared memory. Every kvforge kernel declares it with the same type and name
// (float, kvfSmem), as nvcc requires of extern __shared__ arrays in one translation unit.
#define KVF_DYNAMIC_SHARED(T, name) extern __shared__ __align__(16) T name[]
// KERNEL must be one token or parenthesis-free (a template-id has commas: take its address into a
// local function pointer first).
#define KVF_LAUNCH(kernel, grid, block, smemBytes, stream, ...) \
  kernel<<<(grid), (block), (smemBytes), (stream)>>>(__VA_ARGS__)
#define KVF_UNROLL _Pragma("unroll")
#define KVF_UNROLL_PRAGMA(x) _Pragma(#x)
#define KVF_UNROLL_BY(n) KVF_UNROLL_PRAGMA(unroll n)
#else
// The emulator defines KVF_DYNAMIC_SHARED and KVF_LAUNCH. Host compilers unroll as they see fit.
#define KVF_UNROLL
#define KVF_UNROLL_BY(n)
#endif
