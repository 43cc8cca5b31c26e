// Y = X W^T over packed panels (kvforge/model/gemm.hpp): the register-blocked micro-kernels and
// the split over the thread pool.
//
// Two instruction-set paths, one packing per build (packMatrix and gemm are compiled together):
// - AVX-512: a tile is R <= 8 rows x NP panels (one zmm per row and panel); bf16 panels are
//   widened with one zero-extension and a shift per 16 values.
// - AVX2 (and the portable scalar build): R <= 6 rows x NP panels (two ymm per row and panel);
//   bf16 panels use the split layout: 32-bit lane j holds column j in its low half and
//   column j + 8 in its high half, so a shift gives columns 0..7 and a mask columns 8..15 (bf16 ->
//   f32 is placing the 16 bits high), with no cross-lane widening.
// NP grows as R shrinks (npFor) so a tile always has 8 or more independent accumulators: one
// accumulator chain is FMA-latency bound, and at R = 1 (decode of one sequence) that halved the
// bandwidth. Every output is still one accumulator summed in k order, whatever R and NP are: a
// sequence's logits do not depend on the batch it runs in, nor on the thread count.
#include "kvforge/model/gemm.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "kvforge/convert.hpp"
#include "kvforge/cpu/simd.hpp"
#include "kvforge/cpu/thread_pool.hpp"
#include "kvforge/cpu/vec16.hpp"
#include "kvforge/cpu/vec8.hpp"
#include "kvforge/host_memory.hpp"
#include "kvforge/out_of_memory.hpp"

namespace kvf::model {
namespace {

constexpr bool kSplitBf16 = !KVF_CPU_AVX512;
// Rows of X one task keeps hot in L2 while it walks its panels (96 rows x K 2048 x 4 B = 768 KiB
// at the widest MLP input; decode has at most a few dozen rows).
constexpr int64_t kRowChunk = 96;

// Where column j of a panel row sits among its 16 stored values.
inline int64_t slotOf(int64_t j, DType dt) {
  if (dt == DType::F32 || !kSplitBf16) return j;
  return j < 8 ? 2 * j : 2 * (j - 8) + 1;
}

// The `cols` (<= 16) real values of an accumulated row t[16] into y (+= when accumulating).
inline void storeCols(float* y, const float* t, int cols, bool accumulate) {
  for (int c = 0; c < cols; ++c) y[c] = accumulate ? y[c] + t[c] : t[c];
}

#if KVF_CPU_AVX512
constexpr int kRows = 8;
constexpr int npFor(int R) { return R == 1 ? 8 : R == 2 ? 4 : 2; }

inline __m512 loadPanel16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 loadPanel16(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// Rows [0, R) of X against NP consecutive panels (P, P + panelStride): Y[r][0 .. cols).
template <int R, int NP, class T>
KVF_MICROKERNEL void tile(const float* X, int64_t ldx, const T* P, int64_t panelStride, int64_t K, float* Y, int64_t ldy, int cols, bool accumulate) {
  __m512 acc[R][NP];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NP; ++j) acc[r][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m512 w[NP];
    for (int j = 0; j < NP; ++j) w[j] = loadPanel16(P + j * panelStride + k * kPanel);
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(X[r * ldx + k]);
      for (int j = 0; j < NP; ++j) acc[r][j] = _mm512_fmadd_ps(x, w[j], acc[r][j]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < NP; ++j) {
      float* y = Y + r * ldy + j * kPanel;
      const int c = std::min<int>(int(kPanel), cols - j * int(kPanel));
      if (c == kPanel) {
        _mm512_storeu_ps(y, accumulate ? _mm512_add_ps(acc[r][j], _mm512_loadu_ps(y)) : acc[r][j]);
      } else {
        alignas(64) float t[kPanel];
        _mm512_store_ps(t, acc[r][j]);
        storeCols(y, t, c, accumulate);
      }
    }
  }
}
#else
constexpr int kRows = 6;
constexpr int npFor(int R) { return R == 1 ? 4 : R == 2 ? 2 : 1; }
using cpu::Vec8;

inline void loadPanel(const float* p, Vec8& a, Vec8& b) {
  a = cpu::load8(p);
  b = cpu::load8(p + 8);
}
inline void loadPanel(const uint16_t* p, Vec8& a, Vec8& b) {
#if KVF_CPU_AVX2
  const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  a.v = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  b.v = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(int32_t(0xFFFF0000u))));
#else
  for (int i = 0; i < 8; ++i) a.v[i] = bf16ToFloat(p[2 * i]), b.v[i] = bf16ToFloat(p[2 * i + 1]);
#endif
}

template <int R, int NP, class T>
KVF_MICROKERNEL void tile(const float* X, int64_t ldx, const T* P, int64_t panelStride, int64_t K, float* Y, int64_t ldy, int cols, bool accumulate) {
  Vec8 acc[R][NP][2];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NP; ++j) acc[r][j][0] = cpu::zero8(), acc[r][j][1] = cpu::zero8();
  for (int64_t k = 0; k < K; ++k) {
    Vec8 w[NP][2];
    for (int j = 0; j < NP; ++j) loadPanel(P + j * panelStride + k * kPanel, w[j][0], w[j][1]);
    for (int r = 0; r < R; ++r) {
      const Vec8 x = cpu::bcast8(X + r * ldx + k);
      for (int j = 0; j < NP; ++j) {
        acc[r][j][0] = cpu::fma(x, w[j][0], acc[r][j][0]);
        acc[r][j][1] = cpu::fma(x, w[j][1], acc[r][j][1]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < NP; ++j) {
      float* y = Y + r * ldy + j * kPanel;
      const int c = std::min<int>(int(kPanel), cols - j * int(kPanel));
      if (c == kPanel) {
        if (accumulate) acc[r][j][0] = cpu::add(acc[r][j][0], cpu::load8(y)), acc[r][j][1] = cpu::add(acc[r][j][1], cpu::load8(y + 8));
        cpu::store8(y, acc[r][j][0]);
        cpu::store8(y + 8, acc[r][j][1]);
      } else {
        alignas(32) float t[kPanel];
        cpu::store8(t, acc[r][j][0]);
        cpu::store8(t + 8, acc[r][j][1]);
        storeCols(y, t, c, accumulate);
      }
    }
  }
}
#endif

// Rows [0, R) of X against panels [p0, p1): tiles of npFor(R) panels, then single panels.
template <int R, class T>
void rowBlock(const float* X, int64_t ldx, const T* data, int64_t stride, int64_t K, float* Y, int64_t ldy, int64_t p0, int64_t p1, int64_t N, bool acc) {
  constexpr int NP = npFor(R);
  const auto cols = [&](int64_t p, int np) { return int(std::min<int64_t>(kPanel * np, N - p * kPanel)); };
  int64_t p = p0;
  for (; p + NP <= p1; p += NP) tile<R, NP>(X, ldx, data + p * stride, stride, K, Y + p * kPanel, ldy, cols(p, NP), acc);
  for (; p < p1; ++p) tile<R, 1>(X, ldx, data + p * stride, stride, K, Y + p * kPanel, ldy, cols(p, 1), acc);
}

template <class T>
void rowsTile(int rows, const float* X, int64_t ldx, const T* data, int64_t stride, int64_t K, float* Y, int64_t ldy, int64_t p0, int64_t p1, int64_t N, bool acc) {
  switch (rows) {
#if KVF_CPU_AVX512
    case 8: return rowBlock<8>(X, ldx, data, stride, K, Y, ldy, p0, p1, N, acc);
    case 7: return rowBlock<7>(X, ldx, data, stride, K, Y, ldy, p0, p1, N, acc);
#endif
    case 6: return rowBlock<6>(X, ldx, data, stride, K, Y, ldy, p0, p1, N, acc);
    case 5: return rowBlock<5>(X, ldx, data, stride, K, Y, ldy, p0, p1, N, acc);
    case 4: return rowBlock<4>(X, ldx, data, stride, K, Y, ldy, p0, p1, N, acc);
    case 3: return rowBlock<3>(X, ldx, data, stride, K, Y, ldy, p0, p1, N, acc);
    case 2: return rowBlock<2>(X, ldx, data, stride, K, Y, ldy, p0, p1, N, acc);
    default: return rowBlock<1>(X, ldx, data, stride, K, Y, ldy, p0, p1, N, acc);
  }
}

// Tasks hand out runs of panels in multiples of this (the widest tile).
constexpr int64_t kPanelRun = 8;

template <class T>
void gemmTyped(const float* X, int64_t M, int64_t ldx, const PackedMatrix& W, const T* data, float* Y, int64_t ldy, bool acc, int threads) {
  const int64_t K = W.K, N = W.N, stride = kPanel * K;
  const int64_t runs = (W.panels + kPanelRun - 1) / kPanelRun;
  const int64_t rowChunks = (M + kRowChunk - 1) / kRowChunk;
  // Enough tasks to balance (4 per thread), few enough that each streams a run of panels.
  const int64_t want = std::max<int64_t>(1, int64_t(threads) * 4 / rowChunks);
  const int64_t perTask = std::max<int64_t>(1, (runs + want - 1) / want);
  const int64_t runTasks = (runs + perTask - 1) / perTask;
  cpu::parallelFor(threads, rowChunks * runTasks, [&](int64_t task, int) {
    const int64_t rc = task / runTasks, rt = task % runTasks;
    const int64_t r0 = rc * kRowChunk, r1 = std::min(M, r0 + kRowChunk);
    const int64_t p0 = rt * perTask * kPanelRun, p1 = std::min(W.panels, p0 + perTask * kPanelRun);
    // A run of panels (at most 8 x 16 x K values: 192 KiB of bf16 at K = 768) stays in L2
    // while every row block of the chunk passes over it.
    for (int64_t pr = p0; pr < p1; pr += kPanelRun) {
      const int64_t pe = std::min(p1, pr + kPanelRun);
      for (int64_t r = r0; r < r1; r += kRows) {
        const int rows = int(std::min<int64_t>(kRows, r1 - r));
        rowsTile(rows, X + r * ldx, ldx, data, stride, K, Y + r * ldy, ldy, pr, pe, N, acc);
      }
    }
  });
}

}  // namespace

PackedMatrix packMatrix(const float* W, int64_t N, int64_t K, DType dtype) {
  if (N <= 0 || K <= 0) throw std::invalid_argument("packMatrix: a weight matrix needs positive sizes, received " + std::to_string(N) + " x " + std::to_string(K));
  if (dtype != DType::F32 && dtype != DType::BF16) throw std::invalid_argument(std::string("packMatrix: weights are stored as f32 or bf16, not ") + dtypeName(dtype));
  PackedMatrix m;
  m.N = N, m.K = K, m.dtype = dtype, m.panels = (N + kPanel - 1) / kPanel;
  const size_t bytes = m.bytes();
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = exceedsAvailableMemory(rounded) ? nullptr : std::aligned_alloc(64, rounded);
  if (!p) throw OutOfMemory("packMatrix: " + std::to_string(bytes) + " bytes of packed weights (" + std::to_string(N) + " x " + std::to_string(K) + ") cannot be allocated");
  m.data = std::unique_ptr<void, void (*)(void*)>(p, [](void* q) { std::free(q); });
  for (int64_t pn = 0; pn < m.panels; ++pn) {
    for (int64_t j = 0; j < kPanel; ++j) {
      const int64_t n = pn * kPanel + j;
      const int64_t slot = slotOf(j, dtype);
      for (int64_t k = 0; k < K; ++k) {
        const float w = n < N ? W[n * K + k] : 0.0f;
        const size_t at = size_t((pn * K + k) * kPanel + slot);
        if (dtype == DType::F32) static_cast<float*>(p)[at] = w;
        else static_cast<uint16_t*>(p)[at] = floatToBf16(w);
      }
    }
  }
  return m;
}

void gemm(const float* X, int64_t M, int64_t ldx, const PackedMatrix& W, float* Y, int64_t ldy, bool accumulate, int threads) {
  if (M <= 0) return;
  if (W.dtype == DType::F32) gemmTyped(X, M, ldx, W, static_cast<const float*>(W.data.get()), Y, ldy, accumulate, threads);
  else gemmTyped(X, M, ldx, W, static_cast<const uint16_t*>(W.data.get()), Y, ldy, accumulate, threads);
}

}  // namespace kvf::model
