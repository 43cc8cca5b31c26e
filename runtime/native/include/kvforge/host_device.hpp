// KVF_HOST_DEVICE: a function both the host and CUDA device code call (slot addressing, interval
// rules, a Variant's classify()). nvcc needs __host__ __device__; the emulator and plain C++
// compile device code as host code, so the macro is empty there.
#pragma once
#if defined(__CUDACC__)
#define KVF_HOST_DEVICE __host__ __device__
#else
#define KVF_HOST_DEVICE
#endif
