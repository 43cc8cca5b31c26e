// What a test .cu needs in both compilations: under the emulator the harness; under nvcc (run.sh
// --nvcc only compiles the kernels, to prove they are real CUDA) the nvcc spelling of the macro
// the emulator provides. Host test code is guarded by KVF_CUDA_EMULATION.
#pragma once
#include <cuda_bf16.h>  // nvcc needs these; the emulator has them already (toolkit.hpp)
#include <cuda_fp16.h>
#if defined(KVF_CUDA_EMULATION)
#include "harness.hpp"
#else
#define KVF_DYNAMIC_SHARED(T, name) extern __shared__ __align__(16) T name[]
#endif
constexpr unsigned kFull = 0xffffffffu;
