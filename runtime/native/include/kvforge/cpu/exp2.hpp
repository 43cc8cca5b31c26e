// exp2 of eight lanes, the softmax's only transcendental (scores are kept in log2 units).
//
// 2^x = 2^n * 2^f with n = round(x), f = x - n in [-0.5, 0.5]; 2^f from the Cephes exp2f
// minimax polynomial (relative error about 1.7e-7 on that range, Cephes' own bound). 2^n is built
// in the exponent field and applied by a multiplication, not an integer add, so a NaN input stays
// NaN whatever garbage n holds. Special cases, all the softmax needs:
//   x < -126 (including -inf) -> exactly 0  (no denormals: a probability below 2^-126 of the row
//                                            maximum is flushed; see "underflow" in forward.hpp)
//   NaN -> NaN;  x >= 128 -> +inf.
#pragma once
#include "kvforge/cpu/vec16.hpp"
#include "kvforge/cpu/vec8.hpp"

namespace kvf::cpu {

namespace exp2_detail {
constexpr float kP0 = 1.535336188319500e-4f;
constexpr float kP1 = 1.339887440266574e-3f;
constexpr float kP2 = 9.618437357674640e-3f;
constexpr float kP3 = 5.550332471162809e-2f;
constexpr float kP4 = 2.402264791363012e-1f;
constexpr float kP5 = 6.931472028550421e-1f;
constexpr float kMinExp = -126.0f;  // below: flush to 0
constexpr float kMaxExp = 128.0f;   // at or above: +inf (2^128 overflows float)
}  // namespace exp2_detail

// Scalar reference of the same algorithm (used by the scalar build and by tests).
inline float exp2Scalar(float x) {
  using namespace exp2_detail;
  if (x != x) return x;
  if (x < kMinExp) return 0.0f;
  if (x >= kMaxExp) return INFINITY;
  const float n = std::nearbyint(x);
  const float f = x - n;
  float p = kP0;
  p = p * f + kP1;
  p = p * f + kP2;
  p = p * f + kP3;
  p = p * f + kP4;
  p = p * f + kP5;
  p = p * f + 1.0f;
  // 2^n built in the exponent field (n in [-126, 127]), as the vector version does.
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float pow2n;
  std::memcpy(&pow2n, &bits, sizeof pow2n);
  return p * pow2n;
}

#if KVF_CPU_AVX2

inline Vec8 exp2(Vec8 x) {
  using namespace exp2_detail;
  // Clamp into the range where n + 127 is a valid biased exponent. max(c, x) keeps NaN lanes
  // (MAXPS returns its second operand when either is NaN); min likewise.
  const __m256 xc = _mm256_min_ps(_mm256_set1_ps(kMaxExp - 1.0f),
                                  _mm256_max_ps(_mm256_set1_ps(kMinExp), x.v));
  const __m256 n = _mm256_round_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(xc, n);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kP5));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  // n in [-126, 127]: 2^n as a float by placing n + 127 in the exponent field.
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 r = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
  // Exact 0 below the range (-inf included); NaN lanes compare false and stay NaN.
  r = _mm256_andnot_ps(_mm256_cmp_ps(x.v, _mm256_set1_ps(kMinExp), _CMP_LT_OQ), r);
  // +inf at and above 2^128 (the clamp above capped n at 127).
  return {_mm256_blendv_ps(r, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x.v, _mm256_set1_ps(kMaxExp), _CMP_GE_OQ))};
}

#if KVF_CPU_AVX512

// The same algorithm on 16 lanes.
inline Vec16 exp2(Vec16 x) {
  using namespace exp2_detail;
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(kMaxExp - 1.0f), _mm512_max_ps(_mm512_set1_ps(kMinExp), x.v));
  const __m512 n = _mm512_roundscale_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(xc, n);
  __m512 p = _mm512_set1_ps(kP0);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kP4));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kP5));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  __m512 r = _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
  // Exact 0 below the range (-inf included); NaN lanes compare false and stay NaN.
  r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x.v, _mm512_set1_ps(kMinExp), _CMP_NLT_UQ), r);
  // +inf at and above 2^128 (the clamp above capped n at 127).
  return {_mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x.v, _mm512_set1_ps(kMaxExp), _CMP_GE_OQ), _mm512_set1_ps(INFINITY))};
}

#endif

#else

inline Vec8 exp2(Vec8 x) {
  Vec8 r;
  for (int i = 0; i < 8; ++i) r.v[i] = exp2Scalar(x.v[i]);
  return r;
}

#endif

}  // namespace kvf::cpu
