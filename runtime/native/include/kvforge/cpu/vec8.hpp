// Vec8: eight float lanes, the only SIMD vocabulary the kernels use.
//
// One implementation per instruction set, same semantics:
// - fma(a, b, c) = a * b + c (fused on AVX2; the scalar build lets the compiler decide);
// - max(a, b) follows MAXPS: if either lane is NaN the result is b's lane. Callers that must keep
//   a NaN put the value that may be NaN second;
// - loadN/storeN touch only the first n lanes (n in 0..8); other lanes read as 0. They never
//   read or write past the n-th float, so they are safe at the end of a caller's buffer;
// - keepNonZero(p, x) = (p != 0) ? x : 0, with NaN counting as nonzero. It is how a product
//   p * v with p == 0 is dropped even when v is NaN or Inf (0 * NaN would be NaN).
#pragma once
#include <cstdint>
#include <cstring>
#include <cmath>
#include "kvforge/cpu/simd.hpp"

#if KVF_CPU_AVX2
#include <immintrin.h>
#endif

namespace kvf::cpu {

#if KVF_CPU_AVX2

struct Vec8 {
  __m256 v;
};

// Lane-count mask for loadN/storeN, built once per call site (it is not free).
struct Mask8 {
  __m256i m;
};

inline Mask8 laneMask(int n) {
  alignas(32) static const int32_t kRamp[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kRamp + 8 - n))};
}

inline Vec8 zero8() { return {_mm256_setzero_ps()}; }
inline Vec8 set8(float x) { return {_mm256_set1_ps(x)}; }
inline Vec8 load8(const float* p) { return {_mm256_loadu_ps(p)}; }
inline Vec8 loadN(const float* p, Mask8 m) { return {_mm256_maskload_ps(p, m.m)}; }
inline Vec8 bcast8(const float* p) { return {_mm256_broadcast_ss(p)}; }
inline void store8(float* p, Vec8 a) { _mm256_storeu_ps(p, a.v); }
inline void storeN(float* p, Mask8 m, Vec8 a) { _mm256_maskstore_ps(p, m.m, a.v); }
inline Vec8 add(Vec8 a, Vec8 b) { return {_mm256_add_ps(a.v, b.v)}; }
inline Vec8 sub(Vec8 a, Vec8 b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline Vec8 mul(Vec8 a, Vec8 b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline Vec8 fma(Vec8 a, Vec8 b, Vec8 c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline Vec8 max(Vec8 a, Vec8 b) { return {_mm256_max_ps(a.v, b.v)}; }
inline Vec8 keepNonZero(Vec8 p, Vec8 x) {
  return {_mm256_and_ps(x.v, _mm256_cmp_ps(p.v, _mm256_setzero_ps(), _CMP_NEQ_UQ))};
}
// Bit i set when lane i is exactly +-0.
inline uint32_t zeroBits8(Vec8 a) {
  return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(a.v, _mm256_setzero_ps(), _CMP_EQ_OQ)));
}
inline float hsum(Vec8 a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// Largest lane; NaN lanes may be ignored (MAXPS), callers do not rely on either outcome.
inline float hmax(Vec8 a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// out[0..3] = hsum(a), hsum(b), hsum(c), hsum(d): the reduction of a 1x4 dot-product block.
inline void hsum4(Vec8 a, Vec8 b, Vec8 c, Vec8 d, float* out) {
  const __m256 ab = _mm256_hadd_ps(a.v, b.v);
  const __m256 cd = _mm256_hadd_ps(c.v, d.v);
  const __m256 abcd = _mm256_hadd_ps(ab, cd);
  _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1)));
}

#else  // portable fallback: the same operations lane by lane

struct Vec8 {
  float v[8];
};
struct Mask8 {
  int n;
};

inline Mask8 laneMask(int n) { return {n}; }
inline Vec8 zero8() { return Vec8{}; }
inline Vec8 set8(float x) {
  Vec8 r;
  for (int i = 0; i < 8; ++i) r.v[i] = x;
  return r;
}
inline Vec8 load8(const float* p) {
  Vec8 r;
  std::memcpy(r.v, p, sizeof r.v);
  return r;
}
inline Vec8 loadN(const float* p, Mask8 m) {
  Vec8 r{};
  for (int i = 0; i < m.n; ++i) r.v[i] = p[i];
  return r;
}
inline Vec8 bcast8(const float* p) { return set8(*p); }
inline void store8(float* p, Vec8 a) { std::memcpy(p, a.v, sizeof a.v); }
inline void storeN(float* p, Mask8 m, Vec8 a) {
  for (int i = 0; i < m.n; ++i) p[i] = a.v[i];
}
#define KVF_VEC8_LANEWISE(name, expr)                \
  inline Vec8 name(Vec8 a, Vec8 b) {                 \
    Vec8 r;                                          \
    for (int i = 0; i < 8; ++i) r.v[i] = (expr);     \
    return r;                                        \
  }
KVF_VEC8_LANEWISE(add, a.v[i] + b.v[i])
KVF_VEC8_LANEWISE(sub, a.v[i] - b.v[i])
KVF_VEC8_LANEWISE(mul, a.v[i] * b.v[i])
KVF_VEC8_LANEWISE(max, a.v[i] > b.v[i] ? a.v[i] : b.v[i])
KVF_VEC8_LANEWISE(keepNonZero, a.v[i] != 0.0f ? b.v[i] : 0.0f)
#undef KVF_VEC8_LANEWISE
inline Vec8 fma(Vec8 a, Vec8 b, Vec8 c) {
  Vec8 r;
  for (int i = 0; i < 8; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
  return r;
}
inline uint32_t zeroBits8(Vec8 a) {
  uint32_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= (a.v[i] == 0.0f ? 1u : 0u) << i;
  return bits;
}
inline float hsum(Vec8 a) {
  return ((a.v[0] + a.v[4]) + (a.v[2] + a.v[6])) + ((a.v[1] + a.v[5]) + (a.v[3] + a.v[7]));
}
inline float hmax(Vec8 a) {
  float m = a.v[0];
  for (int i = 1; i < 8; ++i) m = a.v[i] > m ? a.v[i] : m;
  return m;
}
inline void hsum4(Vec8 a, Vec8 b, Vec8 c, Vec8 d, float* out) {
  out[0] = hsum(a);
  out[1] = hsum(b);
  out[2] = hsum(c);
  out[3] = hsum(d);
}

#endif

}  // namespace kvf::cpu
