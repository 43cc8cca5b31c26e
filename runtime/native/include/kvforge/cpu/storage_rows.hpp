// Reading K/V rows of any storage dtype as f32 (semantics.md: accumulation is f32 whatever the
// storage). f32 rows are used in place; f16 and bf16 rows are widened into a small f32 tile that
// stays in L1 (a decode step's 64 keys, a prefill's packed panels), so DRAM sees the 16-bit bytes
// once and the micro-kernels stay the f32 ones.
#pragma once
#include <cstdint>
#include <cstring>
#include "kvforge/convert.hpp"
#include "kvforge/dtype.hpp"
#include "kvforge/cpu/simd.hpp"

namespace kvf::cpu {

// dst[j * ldDst + c] = row j of src (stride ldSrc elements), columns [0, cols), for j < n.
template <DType T>
inline void widenRows(const void* src, int64_t ldSrc, int64_t n, int64_t cols, float* dst, int64_t ldDst) {
  using Raw = typename Storage<T>::Raw;
  const Raw* s = static_cast<const Raw*>(src);
  for (int64_t j = 0; j < n; ++j) {
    const Raw* row = s + j * ldSrc;
    float* out = dst + j * ldDst;
    int64_t c = 0;
#if KVF_CPU_AVX2
    if constexpr (T == DType::BF16) {
      for (; c + 8 <= cols; c += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c));
        _mm256_storeu_ps(out + c, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
      }
    }
#if defined(__F16C__)
    if constexpr (T == DType::F16) {
      for (; c + 8 <= cols; c += 8)
        _mm256_storeu_ps(out + c, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c))));
    }
#endif
#endif
    if constexpr (T == DType::F32) {
      std::memcpy(out, row, size_t(cols) * sizeof(float));
      c = cols;
    }
    for (; c < cols; ++c) out[c] = Storage<T>::load(row[c]);
  }
}

}  // namespace kvf::cpu
