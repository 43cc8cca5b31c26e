// Storage dtypes of K and V on the device (f32, f16, bf16; queries are always f32) and how kernels
// read them: every value is widened to float on load and all arithmetic is float (semantics.md:
// accumulate in f32). kDType is the SlotView dtype (kvforge/dtype.hpp) a kernel of that storage
// reads; the raw 16-bit values there are the bits kvforge/convert.hpp writes.
#pragma once
#include "kvforge/cuda/config.cuh"
#include "kvforge/dtype.hpp"

namespace kvf {
namespace KVF_CUDA_NS {

template <class T>
struct StorageTraits;

template <>
struct StorageTraits<float> {
  static constexpr const char* kName = "f32";
  static constexpr DType kDType = DType::F32;
  static __device__ __forceinline__ float toFloat(float x) { return x; }
};

template <>
struct StorageTraits<__half> {
  static constexpr const char* kName = "f16";
  static constexpr DType kDType = DType::F16;
  static __device__ __forceinline__ float toFloat(__half x) { return __half2float(x); }
};

template <>
struct StorageTraits<__nv_bfloat16> {
  static constexpr const char* kName = "bf16";
  static constexpr DType kDType = DType::BF16;
  static __device__ __forceinline__ float toFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
};

template <class T>
__device__ __forceinline__ float toFloat(T x) {
  return StorageTraits<T>::toFloat(x);
}

// N consecutive elements as one aligned object, so that nvcc emits one vector load (8 or 16
// bytes) instead of N scalar ones. Plain C++: the emulator copies it like any struct.
template <class T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// out[0..N) = p[0..N) widened to float; p must be aligned to N elements.
template <int N, class T>
__device__ __forceinline__ void loadFloats(const T* p, float* out) {
  const Pack<T, N> pk = *reinterpret_cast<const Pack<T, N>*>(p);
  KVF_UNROLL
  for (int i = 0; i < N; ++i) out[i] = toFloat(pk.v[i]);
}

// p[0..N) = in[0..N) (float shared memory, aligned to N floats).
template <int N>
__device__ __forceinline__ void storeFloats(float* p, const float* in) {
  Pack<float, N> pk;
  KVF_UNROLL
  for (int i = 0; i < N; ++i) pk.v[i] = in[i];
  *reinterpret_cast<Pack<float, N>*>(p) = pk;
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
