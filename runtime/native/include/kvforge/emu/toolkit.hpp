// What the emulator takes from the CUDA toolkit, and what it keeps out.
//
// Taken: vector_types.h (dim3, uint3) and cuda_fp16.h / cuda_bf16.h, whose host code (CUDA 12+)
// implements __half / __nv_bfloat16, their conversions and arithmetic operators for g++.
//
// Kept out: the CUDA runtime API. cuda_fp16.h reaches cuda_runtime_api.h through
// vector_functions.h (which uses nothing from it); that header declares cudaMalloc & co. with C
// linkage and would clash with the emulator's shims (runtime_api.hpp). Defining its include guards
// first makes it, cuda_runtime.h and device_launch_parameters.h (which declares threadIdx & co.)
// empty, so a kernel source may still #include <cuda_runtime.h> for nvcc's sake.
//
// Everything is included here, before any emulator macro exists (threadIdx, __shared__,
// __noinline__ ...), so no toolkit or standard header is ever parsed with those macros active.
// <memory> matters: libstdc++'s shared_ptr_base.h spells __attribute__((__noinline__)).
#pragma once

#if defined(__CUDACC__)
#error "kvforge/emu/cuda_emu.hpp is for host compilers; nvcc compiles the .cu source natively"
#endif
#if defined(__CUDA_RUNTIME_API_H__) || defined(__CUDA_RUNTIME_H__)
#error "include kvforge/emu/cuda_emu.hpp before any CUDA runtime header (it replaces the runtime API)"
#endif
#define __CUDA_RUNTIME_API_H__
#define __CUDA_RUNTIME_H__
#define __DEVICE_LAUNCH_PARAMETERS_H__

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <math.h>  // after <cmath>: libstdc++'s math.h puts the float overloads (sqrt(float)...) in ::
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <vector_types.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
