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

namespace kvf::cpu {

// "avx2+fma" or "scalar": what deviceReport() says.
inline const char* simdName() { return KVF_CPU_AVX2 ? "avx2+fma" : "scalar"; }

}  // namespace kvf::cpu
