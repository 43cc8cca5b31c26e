// CUDA's declaration qualifiers for a host compilation. Included last by cuda_emu.hpp: these
// macros would break standard headers (libstdc++ spells __attribute__((__noinline__))), so every
// header the emulator needs is already in; a kernel source including more standard headers
// afterwards is fine except for <stacktrace> (C++23) and <experimental/simd>.
//
// __shared__ is `static thread_local`: a block's fibers all run on one OS thread, one block at a
// time, so a thread_local is exactly "one instance per running block", and `static` gives
// namespace-scope __shared__ variables internal linkage. Storage is uninitialised per block in
// the CUDA sense: a block sees whatever the previous block on that OS thread left (zero at
// first). `extern __shared__` does not compile (use KVF_DYNAMIC_SHARED, builtins.hpp).
//
// Host and device functions become ordinary functions with external linkage, so an emulated
// .cu and an nvcc-compiled copy of it must not share namespace-scope names in one binary (put
// them in a namespace that differs between the two compilations, e.g. on KVF_CUDA_EMULATION).
#pragma once

#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __constant__
#undef __managed__
#undef __forceinline__
#undef __noinline__
#undef __launch_bounds__
#undef __maxnreg__
#undef __grid_constant__
#undef __cluster_dims__
#undef __block_size__
#undef __align__

#define __global__
#define __device__
#define __host__
#define __shared__ static thread_local
#define __constant__
#define __managed__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __maxnreg__(n)
#define __grid_constant__
#define __cluster_dims__(...)
#define __block_size__(...)
#define __align__(n) __attribute__((aligned(n)))
// g++ knows __restrict__ natively.
