// Which instruction set the CPU kernels were compiled for.
//
// The kernels are written once against Vec8 (vec8.hpp). With AVX2 + FMA enabled at compile time
// (-march=native on this project's machines) Vec8 is one ymm register; otherwise it is a plain
// array of 8 floats whose loops the compiler vectorises as it can. Both give the same results
// within float tolerance (FMA contraction differs).
#pragma once

#if defined(__AVX2__) && defined(__FMA__)
#define KVF_CPU_AVX2 1
#else
#define KVF_CPU_AVX2 0
#endif

// AVX-512 (F is all the kernels use; BW/VL are not required). On top of Vec8, the prefill's
// micro-kernels, exp2 and the softmax bookkeeping then use Vec16 (one zmm, vec16.hpp); decode's
// Q*K^T keeps Vec8. Define KVF_NO_AVX512 to build the AVX2 path on an AVX-512 machine.
#if KVF_CPU_AVX2 && defined(__AVX512F__) && !defined(KVF_NO_AVX512)
#define KVF_CPU_AVX512 1
#else
#define KVF_CPU_AVX512 0
#endif

#if KVF_CPU_AVX2
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_ps() (`__Y = __Y`) as the pass-through
// operand, which -Wmaybe-uninitialized reports at every inlined use (GCC PR 105593, fixed in
// later releases). The pragma state is tracked by source location, so ignoring it around the
// header's own lines silences exactly those reports.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

// Micro-kernels are kept out of line: inlined into the large tile loops, GCC's register
// allocator has been seen spilling one of their 12 accumulators to the stack (a store-to-load
// chain per key that cost 20% of decode). A call per micro-kernel invocation is negligible.
#if defined(__GNUC__)
#define KVF_MICROKERNEL __attribute__((noinline))
#else
#define KVF_MICROKERNEL
#endif

namespace kvf::cpu {

// "avx512", "avx2+fma" or "scalar": what deviceReport() says.
inline const char* simdName() { return KVF_CPU_AVX512 ? "avx512" : KVF_CPU_AVX2 ? "avx2+fma" : "scalar"; }

}  // namespace kvf::cpu
