// Host versions of CUDA's device-only math intrinsics and integer helpers.
//
// Precision: the fast-math intrinsics (__expf, __logf, __fdividef, __sinf ...) are computed with
// the correctly rounded-ish libm functions, so emulated results can be MORE accurate than the
// GPU's approximations (ex2.approx: 2 ulp; __fdividef: 2 ulp, and 0 for |b| > 2^126). The _rn
// variants are exact IEEE operations, as on the GPU. Tolerances of tests that compare the
// emulator against a GPU must allow for the GPU's error, not the emulator's.
//
// min / max: CUDA's global overloads for the integer and floating types (mixed signedness
// resolves to the unsigned type, float with double to double).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace kvf::emu::detail {

template <class To, class From>
constexpr To bitCast(From v) {
  static_assert(sizeof(To) == sizeof(From), "bit cast between types of different sizes");
  return __builtin_bit_cast(To, v);
}

// Round to nearest even and convert, saturating; NaN -> 0 (cvt.rni.sat semantics).
template <class I, class F>
I roundToInt(F x, int mode) {  // mode: 0 nearest even, 1 toward zero, 2 down, 3 up
  if (std::isnan(x)) return 0;
  F r = mode == 0 ? std::nearbyint(x) : mode == 1 ? std::trunc(x) : mode == 2 ? std::floor(x) : std::ceil(x);
  if (r <= F(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
  if (r >= F(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return I(r);
}

}  // namespace kvf::emu::detail

// Bit reinterpretation.
constexpr int __float_as_int(float x) { return kvf::emu::detail::bitCast<int>(x); }
constexpr float __int_as_float(int x) { return kvf::emu::detail::bitCast<float>(x); }
constexpr unsigned __float_as_uint(float x) { return kvf::emu::detail::bitCast<unsigned>(x); }
constexpr float __uint_as_float(unsigned x) { return kvf::emu::detail::bitCast<float>(x); }
constexpr long long __double_as_longlong(double x) { return kvf::emu::detail::bitCast<long long>(x); }
constexpr double __longlong_as_double(long long x) { return kvf::emu::detail::bitCast<double>(x); }

// Fast-math intrinsics (see the precision note above).
inline float __expf(float x) { return std::exp(x); }
inline float __exp10f(float x) { return std::pow(10.0f, x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }
inline float __log10f(float x) { return std::log10(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanf(float x) { return std::tan(x); }
inline void __sincosf(float x, float* s, float* c) { *s = std::sin(x), *c = std::cos(x); }
inline float __fdividef(float a, float b) { return a / b; }

// Exactly rounded operations (round to nearest even; the _rz/_rd/_ru variants are not provided).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / std::sqrt(x); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }

// Clamp to [0, 1]; NaN -> 0.
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }

// Conversions.
inline int __float2int_rn(float x) { return kvf::emu::detail::roundToInt<int>(x, 0); }
inline int __float2int_rz(float x) { return kvf::emu::detail::roundToInt<int>(x, 1); }
inline int __float2int_rd(float x) { return kvf::emu::detail::roundToInt<int>(x, 2); }
inline int __float2int_ru(float x) { return kvf::emu::detail::roundToInt<int>(x, 3); }
inline unsigned __float2uint_rn(float x) { return kvf::emu::detail::roundToInt<unsigned>(x, 0); }
inline unsigned __float2uint_rz(float x) { return kvf::emu::detail::roundToInt<unsigned>(x, 1); }
inline long long __float2ll_rn(float x) { return kvf::emu::detail::roundToInt<long long>(x, 0); }
inline int __double2int_rn(double x) { return kvf::emu::detail::roundToInt<int>(x, 0); }
inline float __int2float_rn(int x) { return float(x); }
inline float __uint2float_rn(unsigned x) { return float(x); }

// Integer intrinsics.
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(unsigned(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
}
inline int __mulhi(int a, int b) { return int((int64_t(a) * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned((uint64_t(a) * b) >> 32); }
inline long long __mul64hi(long long a, long long b) { return (long long)((__int128(a) * b) >> 64); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline int __mul24(int a, int b) { return int(uint32_t((a << 8) >> 8) * uint32_t((b << 8) >> 8)); }
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }

// Cached / streaming loads and stores: plain memory accesses here.
template <class T>
T __ldg(const T* p) {
  return *p;
}
template <class T>
T __ldcg(const T* p) {
  return *p;
}
template <class T>
T __ldca(const T* p) {
  return *p;
}
template <class T>
T __ldcs(const T* p) {
  return *p;
}
template <class T>
T __ldlu(const T* p) {
  return *p;
}
template <class T>
T __ldcv(const T* p) {
  return *p;
}
template <class T>
void __stcg(T* p, T v) {
  *p = v;
}
template <class T>
void __stcs(T* p, T v) {
  *p = v;
}
template <class T>
void __stwb(T* p, T v) {
  *p = v;
}
template <class T>
void __stwt(T* p, T v) {
  *p = v;
}

// min / max as CUDA declares them in the global namespace.
#define KVF_EMU_MINMAX(R, A, B)                                                                   \
  inline R min(A a, B b) { return static_cast<R>(a) < static_cast<R>(b) ? static_cast<R>(a) : static_cast<R>(b); } \
  inline R max(A a, B b) { return static_cast<R>(a) > static_cast<R>(b) ? static_cast<R>(a) : static_cast<R>(b); }
KVF_EMU_MINMAX(int, int, int)
KVF_EMU_MINMAX(unsigned int, unsigned int, unsigned int)
KVF_EMU_MINMAX(unsigned int, int, unsigned int)
KVF_EMU_MINMAX(unsigned int, unsigned int, int)
KVF_EMU_MINMAX(long, long, long)
KVF_EMU_MINMAX(unsigned long, unsigned long, unsigned long)
KVF_EMU_MINMAX(unsigned long, long, unsigned long)
KVF_EMU_MINMAX(unsigned long, unsigned long, long)
KVF_EMU_MINMAX(long long, long long, long long)
KVF_EMU_MINMAX(unsigned long long, unsigned long long, unsigned long long)
KVF_EMU_MINMAX(unsigned long long, long long, unsigned long long)
KVF_EMU_MINMAX(unsigned long long, unsigned long long, long long)
#undef KVF_EMU_MINMAX
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline double min(float a, double b) { return std::fmin(double(a), b); }
inline double max(float a, double b) { return std::fmax(double(a), b); }
inline double min(double a, float b) { return std::fmin(a, double(b)); }
inline double max(double a, float b) { return std::fmax(a, double(b)); }
