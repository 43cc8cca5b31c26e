// Storage dtypes of K/V (and of any buffer): the numbering is part of the kernel interface and of
// the JS addon boundary (runtime/native.ts), so it never changes; new dtypes get new numbers.
#pragma once
#include <cstdint>

namespace kvf {

enum class DType : int32_t {
  F32 = 0,   // IEEE binary32
  F16 = 1,   // IEEE binary16 (rounded to nearest even from f32)
  BF16 = 2,  // bfloat16: the high 16 bits of a binary32 (rounded to nearest even from f32)
};

inline constexpr int64_t dtypeBytes(DType t) { return t == DType::F32 ? 4 : 2; }
inline constexpr const char* dtypeName(DType t) {
  return t == DType::F32 ? "f32" : t == DType::F16 ? "f16" : t == DType::BF16 ? "bf16" : "?";
}
inline constexpr bool validDType(int32_t t) { return t >= 0 && t <= 2; }

}  // namespace kvf
