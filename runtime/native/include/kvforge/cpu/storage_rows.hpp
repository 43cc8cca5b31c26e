// Reading K/V rows of any storage dtype as f32 (semantics.md: accumulation is f32 whatever the
// storage). f32 rows are used in place; f16 and bf16 rows are widened into a small f32 tile that
// stays in L1 (a decode step's 64 keys, a prefill's packed panels), so DRAM sees the 16-bit bytes
// once and the micro-kernels stay the f32 ones.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include "kvforge/convert.hpp"
#include "kvforge/dtype.hpp"
#include "kvforge/cpu/simd.hpp"

namespace kvf::cpu {

// Cache lines a micro-kernel call prefetches into L2 while it computes (decode streams K/V from
// DRAM): lines [0, last] from a, `per` of them per step of its loop, so the
// requests trickle out between FMAs over the whole step. (Measured on an AVX-512 Xeon: requests
// issued in bursts, or over half of the compute only, overlap less than no prefetch at all; L1
// prefetches hold fill buffers the step's own loads need.)
struct LinePrefetch {
  const char* a = nullptr;
  int64_t last = 0;  // index of the last line
  int per = 0;       // 0: no requests
};

// One request for the line at p into L2 (prefetcht2). Written as asm: GCC 12 deletes
// __builtin_prefetch in loops like prefetchStep's (the hint has no side effect it must keep).
inline void prefetchL2(const void* p) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm volatile("prefetcht2 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 0, 1);
#endif
}

// Step p's `per` lines. Lines past the last one are clamped to it: a repeated request for a
// line already requested costs one load-port slot and no transfer, and saves the test-and-branch
// per line (with a loop and tests per line, prefetchStep took ~20% of the Q*K^T and P*V
// micro-kernels' samples, f32 decode with L2-resident K/V). The first four are unrolled (per is
// at most 3 in the reference decode).
inline void prefetchStep(const LinePrefetch& pf, int64_t p) {
  const int per = pf.per;
  if (per == 0) return;
  const int64_t x = p * per, last = pf.last;
  prefetchL2(pf.a + 64 * std::min(x, last));
  if (per > 1) prefetchL2(pf.a + 64 * std::min(x + 1, last));
  if (per > 2) prefetchL2(pf.a + 64 * std::min(x + 2, last));
  if (per > 3) prefetchL2(pf.a + 64 * std::min(x + 3, last));
  for (int i = 4; i < per; ++i) prefetchL2(pf.a + 64 * std::min(x + i, last));
}

// The lines covering [p, p + bytes), `per` of them per step over `steps` steps.
inline LinePrefetch linesOf(const void* p, int64_t bytes, int64_t steps) {
  LinePrefetch lp;
  if (bytes <= 0 || steps <= 0) return lp;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  lp.a = reinterpret_cast<const char*>(a & ~uintptr_t(63));
  const int64_t n = static_cast<int64_t>((a + uintptr_t(bytes) + 63) / 64 - a / 64);
  lp.last = n - 1;
  lp.per = static_cast<int>((n + steps - 1) / steps);
  return lp;
}

// dst[j * ldDst + c] = row j of src (stride ldSrc elements), columns [0, cols), for j < n.
template <DType T>
inline void widenRows(const void* src, int64_t ldSrc, int64_t n, int64_t cols, float* dst, int64_t ldDst) {
  using Raw = typename Storage<T>::Raw;
  const Raw* s = static_cast<const Raw*>(src);
  for (int64_t j = 0; j < n; ++j) {
    const Raw* row = s + j * ldSrc;
    float* out = dst + j * ldDst;
    int64_t c = 0;
#if KVF_CPU_AVX512
    // bf16 -> f32 is a 16-bit shift; f16 has its own conversion (F16C on zmm is part of AVX512F).
    if constexpr (T == DType::BF16) {
      for (; c + 16 <= cols; c += 16) {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c));
        _mm512_storeu_ps(out + c, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
      }
    }
    if constexpr (T == DType::F16) {
      for (; c + 16 <= cols; c += 16)
        _mm512_storeu_ps(out + c, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c))));
    }
#endif
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

// Decode's bf16 rows, split: bf16 -> f32 is a 16-bit shift, and a 32-bit lane holding two bf16
// values gives the even one by a shift left and the odd one by masking the low half, so each
// vector of 2 * L bf16 values (L = the f32 lanes) widens with two integer ops into its even
// elements (stored first) and its odd elements (stored next): half the ops of converting L at a
// time. Columns past the last whole chunk keep their order. splitSource gives the original
// column of a stored one; decode permutes Q's columns the same way (a dot product does not care)
// and un-permutes its output columns once per unit.
constexpr int kSplitChunk = KVF_CPU_AVX512 ? 32 : KVF_CPU_AVX2 ? 16 : 0;

inline int64_t splitSource(int64_t c, int64_t cols) {
  constexpr int64_t w = kSplitChunk > 0 ? kSplitChunk : 1, half = w / 2;
  if (kSplitChunk == 0 || c >= cols / w * w) return c;
  const int64_t base = c / w * w, i = c - base;
  return base + (i < half ? 2 * i : 2 * (i - half) + 1);
}

// widenRows<BF16> with the split layout (BF16 only; other dtypes as widenRows).
template <DType T>
inline void widenRowsSplit(const void* src, int64_t ldSrc, int64_t n, int64_t cols, float* dst, int64_t ldDst) {
#if !KVF_CPU_AVX2
  widenRows<T>(src, ldSrc, n, cols, dst, ldDst);
#else
  if constexpr (T != DType::BF16) {
    widenRows<T>(src, ldSrc, n, cols, dst, ldDst);
  } else {
    const uint16_t* s = static_cast<const uint16_t*>(src);
    const int64_t whole = cols / kSplitChunk * kSplitChunk;
    for (int64_t j = 0; j < n; ++j) {
      const uint16_t* row = s + j * ldSrc;
      float* out = dst + j * ldDst;
      for (int64_t c = 0; c < whole; c += kSplitChunk) {
#if KVF_CPU_AVX512
        const __m512i x = _mm512_loadu_si512(row + c);
        _mm512_storeu_ps(out + c, _mm512_castsi512_ps(_mm512_slli_epi32(x, 16)));
        _mm512_storeu_ps(out + c + 16, _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(int32_t(0xFFFF0000u)))));
#else
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c));
        _mm256_storeu_ps(out + c, _mm256_castsi256_ps(_mm256_slli_epi32(x, 16)));
        _mm256_storeu_ps(out + c + 8, _mm256_castsi256_ps(_mm256_and_si256(x, _mm256_set1_epi32(int32_t(0xFFFF0000u)))));
#endif
      }
      if (whole < cols) widenRows<T>(row + whole, 0, 1, cols - whole, out + whole, 0);
    }
  }
#endif
}

}  // namespace kvf::cpu
