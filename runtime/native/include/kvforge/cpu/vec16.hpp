// Vec16: sixteen float lanes in one zmm register, the AVX-512 vocabulary (KVF_CPU_AVX512 only).
//
// Same semantics as Vec8 (vec8.hpp): fma fused; max follows MAXPS (NaN in either lane -> b's
// lane); loadN/storeN touch only the first n lanes (masked, never past the n-th float, other
// lanes read as 0); keepNonZero(p, x) = (p != 0) ? x : 0 with NaN counting as nonzero.
#pragma once
#include <cstdint>
#include "kvforge/cpu/simd.hpp"

#if KVF_CPU_AVX512
#include <immintrin.h>

namespace kvf::cpu {

struct Vec16 {
  __m512 v;
};

// Lane-count mask for loadN16/storeN16 (n in 0..16).
inline __mmask16 laneMask16(int n) { return static_cast<__mmask16>((1u << n) - 1u); }

inline Vec16 zero16() { return {_mm512_setzero_ps()}; }
inline Vec16 set16(float x) { return {_mm512_set1_ps(x)}; }
inline Vec16 load16(const float* p) { return {_mm512_loadu_ps(p)}; }
inline Vec16 loadN16(const float* p, __mmask16 m) { return {_mm512_maskz_loadu_ps(m, p)}; }
inline Vec16 bcast16(const float* p) { return {_mm512_set1_ps(*p)}; }
inline void store16(float* p, Vec16 a) { _mm512_storeu_ps(p, a.v); }
inline void storeN16(float* p, __mmask16 m, Vec16 a) { _mm512_mask_storeu_ps(p, m, a.v); }
inline Vec16 add(Vec16 a, Vec16 b) { return {_mm512_add_ps(a.v, b.v)}; }
inline Vec16 sub(Vec16 a, Vec16 b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline Vec16 mul(Vec16 a, Vec16 b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline Vec16 fma(Vec16 a, Vec16 b, Vec16 c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
inline Vec16 max(Vec16 a, Vec16 b) { return {_mm512_max_ps(a.v, b.v)}; }
// Lanes where p != 0 (NaN counts as nonzero).
inline __mmask16 nonZeroMask(Vec16 p) { return _mm512_cmp_ps_mask(p.v, _mm512_setzero_ps(), _CMP_NEQ_UQ); }
inline Vec16 keepNonZero(Vec16 p, Vec16 x) { return {_mm512_maskz_mov_ps(nonZeroMask(p), x.v)}; }
// c + (p != 0 ? a * p : 0) lane by lane, fused where kept: a p == 0 product is dropped by
// selection, so 0 * NaN never reaches c.
inline Vec16 fmaNonZero(Vec16 p, Vec16 a, Vec16 c) { return {_mm512_mask3_fmadd_ps(p.v, a.v, c.v, nonZeroMask(p))}; }
// Bit i set when lane i is exactly +-0.
inline uint32_t zeroBits16(Vec16 a) {
  return static_cast<uint32_t>(_mm512_cmp_ps_mask(a.v, _mm512_setzero_ps(), _CMP_EQ_OQ));
}
// (The upper half is brought down with a lane shuffle: GCC 12's extractf64x4 wrapper trips
// -Wmaybe-uninitialized.)
inline __m256 upperHalf(__m512 a) { return _mm512_castps512_ps256(_mm512_shuffle_f32x4(a, a, 0x4E)); }
inline float hsum(Vec16 a) {
  const __m256 s = _mm256_add_ps(_mm512_castps512_ps256(a.v), upperHalf(a.v));
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}
// Largest lane; NaN lanes may be ignored (MAXPS), callers do not rely on either outcome.
inline float hmax(Vec16 a) {
  const __m256 s = _mm256_max_ps(_mm512_castps512_ps256(a.v), upperHalf(a.v));
  __m128 x = _mm_max_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  x = _mm_max_ps(x, _mm_movehl_ps(x, x));
  x = _mm_max_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

}  // namespace kvf::cpu

#endif
