// Helpers that generated mask()/score() bodies call (codegen/backends/cfamily/dialect.ts).
// Each one has exactly the meaning codegen/ir/expr.ts gives the IR op, which is JavaScript's
// meaning; plain C operators would differ (C's `/` truncates, fmin ignores NaN).
// Usable from host C++ and, under nvcc, from device code.
#pragma once
#include <cstdint>
#include <cmath>

#include "kvforge/host_device.hpp"

// Every helper is inlined into the mask/score expression that calls it.
#if defined(__CUDACC__)
#define KVF_EXPR_FN KVF_HOST_DEVICE __forceinline__
#else
#define KVF_EXPR_FN KVF_HOST_DEVICE inline
#endif

namespace kvf {

// floor(a / b), rounding toward -infinity as Math.floor(a / b); b != 0 is checked when bound.
KVF_EXPR_FN int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
}

KVF_EXPR_FN int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
KVF_EXPR_FN int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
KVF_EXPR_FN int64_t iabs(int64_t a) { return a < 0 ? -a : a; }

// Math.min: NaN if either operand is NaN, and -0 is smaller than +0.
KVF_EXPR_FN float js_fmin(float a, float b) {
  if (a != a || b != b) return NAN;
  if (a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

// Math.max: NaN if either operand is NaN, and +0 is larger than -0.
KVF_EXPR_FN float js_fmax(float a, float b) {
  if (a != a || b != b) return NAN;
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

}  // namespace kvf
