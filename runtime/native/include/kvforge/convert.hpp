// Conversions between float and the 16-bit storage dtypes, on raw bits, so the CPU kernels, the
// cache's append kernels (CPU and CUDA) and the emulator all round the same way without the CUDA
// headers: round to nearest even, as runtime/dtype.ts (roundF16, roundBf16) rounds for the
// reference, and as __float2half_rn / __float2bfloat16_rn do.
#pragma once
#include <cstdint>
#include <cstring>
#include "kvforge/dtype.hpp"
#include "kvforge/host_device.hpp"

namespace kvf {

KVF_HOST_DEVICE inline uint32_t floatBits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
}
KVF_HOST_DEVICE inline float bitsFloat(uint32_t u) {
  float x;
  memcpy(&x, &u, 4);
  return x;
}

// bfloat16 = the high half of a binary32, rounded to nearest even; NaN stays a (quiet) NaN.
KVF_HOST_DEVICE inline uint16_t floatToBf16(float x) {
  const uint32_t u = floatBits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
KVF_HOST_DEVICE inline float bf16ToFloat(uint16_t h) { return bitsFloat(uint32_t(h) << 16); }

// IEEE binary16, round to nearest even: subnormals below 2^-14, overflow to infinity.
KVF_HOST_DEVICE inline uint16_t floatToF16(float x) {
  const uint32_t u = floatBits(x);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);               // NaN
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);              // rounds to >= 65520: inf
  if (a < 0x38800000u) {                                              // below 2^-14: subnormal
    if (a < 0x33000000u) return uint16_t(sign);                       // below 2^-25: to zero
    const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;      // value = m * 2^(e - 150)
    const uint32_t shift = 126u - e;                                  // to units of 2^-24
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return uint16_t(sign | r);
  }
  const uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u;  // rebias 127 -> 15, round
  return uint16_t(sign | (r >> 13));
}
KVF_HOST_DEVICE inline float f16ToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1fu) return bitsFloat(sign | 0x7f800000u | (m << 13));  // inf / NaN
  if (e != 0) return bitsFloat(sign | ((e + 112u) << 23) | (m << 13));
  if (m == 0) return bitsFloat(sign);
  // subnormal: m * 2^-24, exact in binary32
  const float v = float(m) * 5.9604644775390625e-8f;
  return sign ? -v : v;
}

// Storage element <-> float, by dtype (raw 16-bit for F16 and BF16).
template <DType T>
struct Storage;
template <>
struct Storage<DType::F32> {
  using Raw = float;
  KVF_HOST_DEVICE static float load(float x) { return x; }
  KVF_HOST_DEVICE static float store(float x) { return x; }
};
template <>
struct Storage<DType::F16> {
  using Raw = uint16_t;
  KVF_HOST_DEVICE static float load(uint16_t x) { return f16ToFloat(x); }
  KVF_HOST_DEVICE static uint16_t store(float x) { return floatToF16(x); }
};
template <>
struct Storage<DType::BF16> {
  using Raw = uint16_t;
  KVF_HOST_DEVICE static float load(uint16_t x) { return bf16ToFloat(x); }
  KVF_HOST_DEVICE static uint16_t store(float x) { return floatToBf16(x); }
};

// n f32 values as `t` values (dst holds n * dtypeBytes(t) bytes), and back: host loops for the
// places that move a whole array (uploads, downloads, the typed-array path's K/V).
inline void encodeAs(DType t, const float* src, size_t n, void* dst) {
  if (t == DType::F32) {
    if (n > 0) memcpy(dst, src, n * 4);  // an empty array's pointer may be null: memcpy's is not
    return;
  }
  uint16_t* d = static_cast<uint16_t*>(dst);
  for (size_t i = 0; i < n; ++i) d[i] = t == DType::F16 ? floatToF16(src[i]) : floatToBf16(src[i]);
}
inline void decodeFrom(DType t, const void* src, size_t n, float* dst) {
  if (t == DType::F32) {
    if (n > 0) memcpy(dst, src, n * 4);
    return;
  }
  const uint16_t* s = static_cast<const uint16_t*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = t == DType::F16 ? f16ToFloat(s[i]) : bf16ToFloat(s[i]);
}

}  // namespace kvf
