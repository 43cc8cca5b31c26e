// CUDA atomics on host memory. Blocks run on different OS threads, so these are real atomic
// read-modify-writes (GCC __atomic builtins, relaxed like CUDA's; __threadfence orders). Each
// returns the old value. Floating-point adds are compare-and-swap loops on the bit pattern.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstdint>

namespace kvf::emu::detail {

constexpr int kRelaxed = __ATOMIC_RELAXED;

// *p = f(*p) atomically for a trivially copyable T of 2, 4 or 8 bytes; returns the old value.
template <class T, class F>
T atomicUpdate(T* p, F f) {
  T old;
  __atomic_load(p, &old, kRelaxed);
  T next = f(old);
  while (!__atomic_compare_exchange(p, &old, &next, true, kRelaxed, kRelaxed)) next = f(old);
  return old;
}

}  // namespace kvf::emu::detail

#define KVF_EMU_ATOMIC_INT(T)                                                                                   \
  inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, kvf::emu::detail::kRelaxed); }                \
  inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, kvf::emu::detail::kRelaxed); }                \
  inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, kvf::emu::detail::kRelaxed); }              \
  inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, kvf::emu::detail::kRelaxed); }                \
  inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, kvf::emu::detail::kRelaxed); }                  \
  inline T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, kvf::emu::detail::kRelaxed); }                \
  inline T atomicMin(T* p, T v) {                                                                              \
    return kvf::emu::detail::atomicUpdate(p, [v](T x) { return v < x ? v : x; });                               \
  }                                                                                                            \
  inline T atomicMax(T* p, T v) {                                                                              \
    return kvf::emu::detail::atomicUpdate(p, [v](T x) { return v > x ? v : x; });                              \
  }                                                                                                            \
  inline T atomicCAS(T* p, T compare, T v) {                                                                   \
    __atomic_compare_exchange_n(p, &compare, v, false, kvf::emu::detail::kRelaxed, kvf::emu::detail::kRelaxed); \
    return compare;                                                                                            \
  }

KVF_EMU_ATOMIC_INT(int)
KVF_EMU_ATOMIC_INT(unsigned int)
KVF_EMU_ATOMIC_INT(unsigned long long int)
KVF_EMU_ATOMIC_INT(long long int)
#undef KVF_EMU_ATOMIC_INT

inline unsigned short atomicCAS(unsigned short* p, unsigned short compare, unsigned short v) {
  __atomic_compare_exchange_n(p, &compare, v, false, kvf::emu::detail::kRelaxed, kvf::emu::detail::kRelaxed);
  return compare;
}

inline float atomicAdd(float* p, float v) {
  return kvf::emu::detail::atomicUpdate(p, [v](float x) { return x + v; });
}
inline double atomicAdd(double* p, double v) {
  return kvf::emu::detail::atomicUpdate(p, [v](double x) { return x + v; });
}
inline float atomicExch(float* p, float v) {
  float old;
  __atomic_exchange(p, &v, &old, kvf::emu::detail::kRelaxed);
  return old;
}
inline __half atomicAdd(__half* p, __half v) {
  return kvf::emu::detail::atomicUpdate(p, [v](__half x) { return __float2half(__half2float(x) + __half2float(v)); });
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* p, __nv_bfloat16 v) {
  return kvf::emu::detail::atomicUpdate(
      p, [v](__nv_bfloat16 x) { return __float2bfloat16(__bfloat162float(x) + __bfloat162float(v)); });
}

// atomicInc: old >= limit ? 0 : old + 1; atomicDec: (old == 0 || old > limit) ? limit : old - 1.
inline unsigned atomicInc(unsigned* p, unsigned limit) {
  return kvf::emu::detail::atomicUpdate(p, [limit](unsigned x) { return x >= limit ? 0u : x + 1; });
}
inline unsigned atomicDec(unsigned* p, unsigned limit) {
  return kvf::emu::detail::atomicUpdate(p, [limit](unsigned x) { return (x == 0 || x > limit) ? limit : x - 1; });
}
