// Calling a kernel templated on a row count (1..6, or 1..8) with a runtime count: the micro-kernels need
// R as a constant so their accumulators live in registers.
#pragma once
#include <type_traits>

namespace kvf::cpu {

constexpr int kPanelRows = 6;  // rows per register-blocked panel (12 ymm accumulators)

// f is a generic lambda taking std::integral_constant<int, R>.
template <class F>
inline void withRows(int rows, F&& f) {
  switch (rows) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 5: f(std::integral_constant<int, 5>{}); break;
    default: f(std::integral_constant<int, 6>{}); break;
  }
}

// Up to 8 rows (AVX-512 panels with 2 accumulators per row: 16 of the 32 zmm registers).
constexpr int kWidePanelRows = 8;
template <class F>
inline void withRowsWide(int rows, F&& f) {
  switch (rows) {
    case 7: f(std::integral_constant<int, 7>{}); break;
    case 8: f(std::integral_constant<int, 8>{}); break;
    default: withRows(rows, f); break;
  }
}

}  // namespace kvf::cpu
