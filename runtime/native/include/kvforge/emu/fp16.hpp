// Host shims for the __half / __nv_bfloat16 functions that cuda_fp16.h and cuda_bf16.h
// declare for device code only (CUDA 13 host code already has the types, conversions to and from
// float, arithmetic operators, comparisons, __hadd/__hmul/__hdiv/__hmax ..., so those are not
// touched). Provided here:
//   __hfma, __hfma_sat, __hfma_relu (and the 2-wide __hfma2*) for both types;
//   __half2{int,uint,short,ushort,ll,ull}_{rn,rd,ru} and the same for __bfloat162*;
//   h{exp,exp2,exp10,log,log2,log10,sqrt,rsqrt,rcp,sin,cos,tanh,tanh_approx,floor,ceil,trunc,rint}
//   and their h2* pair versions, for both types.
// Every shim is a template restricted to the half types: if a later toolkit defines one of these
// for the host, its non-template overload is preferred and nothing clashes.
//
// Precision: fma rounds once (computed exactly in double, then rounded to the 16-bit type, which
// is exact except where double rounding of an inexact double sum bites: far below 1 ulp rates);
// the math functions evaluate in float and round, typically at least as accurate as the GPU.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cmath>
#include <type_traits>
#include "kvforge/emu/math.hpp"

namespace kvf::emu::detail {

template <class H>
struct HalfTraits;
template <>
struct HalfTraits<__half> {
  static float toFloat(__half x) { return __half2float(x); }
  static __half fromFloat(float x) { return __float2half_rn(x); }
  static __half fromDouble(double x) { return __double2half(x); }
};
template <>
struct HalfTraits<__nv_bfloat16> {
  static float toFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
  static __nv_bfloat16 fromFloat(float x) { return __float2bfloat16_rn(x); }
  static __nv_bfloat16 fromDouble(double x) { return __double2bfloat16(x); }
};

template <class H2>
struct Half2Traits;
template <>
struct Half2Traits<__half2> {
  using Scalar = __half;
  static __half lo(__half2 x) { return __low2half(x); }
  static __half hi(__half2 x) { return __high2half(x); }
  static __half2 make(__half lo, __half hi) { return __halves2half2(lo, hi); }
};
template <>
struct Half2Traits<__nv_bfloat162> {
  using Scalar = __nv_bfloat16;
  static __nv_bfloat16 lo(__nv_bfloat162 x) { return __low2bfloat16(x); }
  static __nv_bfloat16 hi(__nv_bfloat162 x) { return __high2bfloat16(x); }
  static __nv_bfloat162 make(__nv_bfloat16 lo, __nv_bfloat16 hi) { return __halves2bfloat162(lo, hi); }
};

template <class H>
using EnableHalf =
    std::enable_if_t<std::is_same<H, __half>::value || std::is_same<H, __nv_bfloat16>::value, int>;
template <class H2>
using EnableHalf2 =
    std::enable_if_t<std::is_same<H2, __half2>::value || std::is_same<H2, __nv_bfloat162>::value, int>;

template <class H>
H fmaRound(H a, H b, H c) {
  using T = HalfTraits<H>;
  return T::fromDouble(std::fma(double(T::toFloat(a)), double(T::toFloat(b)), double(T::toFloat(c))));
}

}  // namespace kvf::emu::detail

template <class H, kvf::emu::detail::EnableHalf<H> = 0>
H __hfma(H a, H b, H c) {
  return kvf::emu::detail::fmaRound(a, b, c);
}
template <class H, kvf::emu::detail::EnableHalf<H> = 0>
H __hfma_sat(H a, H b, H c) {
  using T = kvf::emu::detail::HalfTraits<H>;
  return T::fromFloat(__saturatef(T::toFloat(kvf::emu::detail::fmaRound(a, b, c))));
}
template <class H, kvf::emu::detail::EnableHalf<H> = 0>
H __hfma_relu(H a, H b, H c) {
  using T = kvf::emu::detail::HalfTraits<H>;
  const H r = kvf::emu::detail::fmaRound(a, b, c);
  return T::toFloat(r) < 0.0f ? T::fromFloat(0.0f) : r;  // NaN passes through
}
#define KVF_EMU_HALF2_TERNARY(name2, name)                                 \
  template <class H2, kvf::emu::detail::EnableHalf2<H2> = 0>               \
  H2 name2(H2 a, H2 b, H2 c) {                                             \
    using T = kvf::emu::detail::Half2Traits<H2>;                           \
    return T::make(name(T::lo(a), T::lo(b), T::lo(c)), name(T::hi(a), T::hi(b), T::hi(c))); \
  }
KVF_EMU_HALF2_TERNARY(__hfma2, __hfma)
KVF_EMU_HALF2_TERNARY(__hfma2_sat, __hfma_sat)
KVF_EMU_HALF2_TERNARY(__hfma2_relu, __hfma_relu)
#undef KVF_EMU_HALF2_TERNARY

// Conversions to integers: mode 0 nearest even, 2 down, 3 up; saturating, NaN -> 0.
#define KVF_EMU_TO_INT(prefix, H, I, suffix, mode)                                     \
  template <class X = H, std::enable_if_t<std::is_same<X, H>::value, int> = 0>         \
  I prefix##suffix(X x) {                                                              \
    return kvf::emu::detail::roundToInt<I>(kvf::emu::detail::HalfTraits<H>::toFloat(x), mode); \
  }
#define KVF_EMU_TO_INTS(prefix, H, I)        \
  KVF_EMU_TO_INT(prefix, H, I, _rn, 0)       \
  KVF_EMU_TO_INT(prefix, H, I, _rd, 2)       \
  KVF_EMU_TO_INT(prefix, H, I, _ru, 3)
KVF_EMU_TO_INTS(__half2int, __half, int)
KVF_EMU_TO_INTS(__half2uint, __half, unsigned int)
KVF_EMU_TO_INTS(__half2short, __half, short)
KVF_EMU_TO_INTS(__half2ushort, __half, unsigned short)
KVF_EMU_TO_INTS(__half2ll, __half, long long)
KVF_EMU_TO_INTS(__half2ull, __half, unsigned long long)
KVF_EMU_TO_INTS(__bfloat162int, __nv_bfloat16, int)
KVF_EMU_TO_INTS(__bfloat162uint, __nv_bfloat16, unsigned int)
KVF_EMU_TO_INTS(__bfloat162short, __nv_bfloat16, short)
KVF_EMU_TO_INTS(__bfloat162ushort, __nv_bfloat16, unsigned short)
KVF_EMU_TO_INTS(__bfloat162ll, __nv_bfloat16, long long)
KVF_EMU_TO_INTS(__bfloat162ull, __nv_bfloat16, unsigned long long)
#undef KVF_EMU_TO_INTS
#undef KVF_EMU_TO_INT

// Elementwise math: h<name>(x) = round(f(float(x))), h2<name> on both halves.
#define KVF_EMU_HALF_MATH(name, f)                                       \
  template <class H, kvf::emu::detail::EnableHalf<H> = 0>                \
  H h##name(H x) {                                                       \
    using T = kvf::emu::detail::HalfTraits<H>;                           \
    return T::fromFloat(f(T::toFloat(x)));                               \
  }                                                                      \
  template <class H2, kvf::emu::detail::EnableHalf2<H2> = 0>             \
  H2 h2##name(H2 x) {                                                    \
    using T = kvf::emu::detail::Half2Traits<H2>;                         \
    return T::make(h##name(T::lo(x)), h##name(T::hi(x)));               \
  }
namespace kvf::emu::detail {
inline float exp10Float(float x) { return std::pow(10.0f, x); }
inline float rsqrtFloat(float x) { return 1.0f / std::sqrt(x); }
inline float rcpFloat(float x) { return 1.0f / x; }
}  // namespace kvf::emu::detail
KVF_EMU_HALF_MATH(exp, std::exp)
KVF_EMU_HALF_MATH(exp2, std::exp2)
KVF_EMU_HALF_MATH(exp10, kvf::emu::detail::exp10Float)
KVF_EMU_HALF_MATH(log, std::log)
KVF_EMU_HALF_MATH(log2, std::log2)
KVF_EMU_HALF_MATH(log10, std::log10)
KVF_EMU_HALF_MATH(sqrt, std::sqrt)
KVF_EMU_HALF_MATH(rsqrt, kvf::emu::detail::rsqrtFloat)
KVF_EMU_HALF_MATH(rcp, kvf::emu::detail::rcpFloat)
KVF_EMU_HALF_MATH(sin, std::sin)
KVF_EMU_HALF_MATH(cos, std::cos)
KVF_EMU_HALF_MATH(tanh, std::tanh)
KVF_EMU_HALF_MATH(tanh_approx, std::tanh)
KVF_EMU_HALF_MATH(floor, std::floor)
KVF_EMU_HALF_MATH(ceil, std::ceil)
KVF_EMU_HALF_MATH(trunc, std::trunc)
KVF_EMU_HALF_MATH(rint, std::nearbyint)
#undef KVF_EMU_HALF_MATH
