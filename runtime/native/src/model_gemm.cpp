// Y = X W^T over packed panels (kvforge/model/gemm.hpp): the register-blocked micro-kernel and
// the split over the thread pool.
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
#include "kvforge/cpu/vec8.hpp"
#include "kvforge/host_memory.hpp"
#include "kvforge/out_of_memory.hpp"

namespace kvf::model {
namespace {

using cpu::Vec8;

// Rows of X per micro-kernel call: 6 rows x 16 columns = 12 accumulators (two Vec8 each row),
// plus two panel vectors and one broadcast: 15 of the 16 ymm registers AVX2 has.
constexpr int kRows = 6;
// Rows of X one task keeps hot in L2 while it walks its panels (96 rows x K 2048 x 4 B = 768 KiB
// at the widest MLP input; decode has at most a few dozen rows).
constexpr int64_t kRowChunk = 96;

// The 16 values of panel row k, as two Vec8.
inline void loadPanel(const float* p, Vec8& a, Vec8& b) {
  a = cpu::load8(p);
  b = cpu::load8(p + 8);
}
inline void loadPanel(const uint16_t* p, Vec8& a, Vec8& b) {
#if KVF_CPU_AVX2
  // bf16 -> f32 is a 16-bit shift of the bits into the high half of each lane.
  const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  a.v = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(w)), 16));
  b.v = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(w, 1)), 16));
#else
  for (int i = 0; i < 8; ++i) a.v[i] = bf16ToFloat(p[i]), b.v[i] = bf16ToFloat(p[i + 8]);
#endif
}

// Rows [0, R) of X against one panel: Y[r][0 .. cols) (cols <= 16: the last panel's real columns).
template <int R, class T>
KVF_MICROKERNEL void panelTile(const float* X, int64_t ldx, const T* P, int64_t K, float* Y, int64_t ldy, int cols, bool accumulate) {
  Vec8 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = cpu::zero8(), acc[r][1] = cpu::zero8();
  for (int64_t k = 0; k < K; ++k) {
    Vec8 w0, w1;
    loadPanel(P + k * kPanel, w0, w1);
    for (int r = 0; r < R; ++r) {
      const Vec8 x = cpu::bcast8(X + r * ldx + k);
      acc[r][0] = cpu::fma(x, w0, acc[r][0]);
      acc[r][1] = cpu::fma(x, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float* y = Y + r * ldy;
    if (cols == kPanel) {
      if (accumulate) acc[r][0] = cpu::add(acc[r][0], cpu::load8(y)), acc[r][1] = cpu::add(acc[r][1], cpu::load8(y + 8));
      cpu::store8(y, acc[r][0]);
      cpu::store8(y + 8, acc[r][1]);
    } else {
      alignas(32) float t[kPanel];
      cpu::store8(t, acc[r][0]);
      cpu::store8(t + 8, acc[r][1]);
      for (int c = 0; c < cols; ++c) y[c] = accumulate ? y[c] + t[c] : t[c];
    }
  }
}

template <class T>
void rowsTile(int rows, const float* X, int64_t ldx, const T* P, int64_t K, float* Y, int64_t ldy, int cols, bool acc) {
  switch (rows) {
    case 6: return panelTile<6>(X, ldx, P, K, Y, ldy, cols, acc);
    case 5: return panelTile<5>(X, ldx, P, K, Y, ldy, cols, acc);
    case 4: return panelTile<4>(X, ldx, P, K, Y, ldy, cols, acc);
    case 3: return panelTile<3>(X, ldx, P, K, Y, ldy, cols, acc);
    case 2: return panelTile<2>(X, ldx, P, K, Y, ldy, cols, acc);
    default: return panelTile<1>(X, ldx, P, K, Y, ldy, cols, acc);
  }
}

template <class T>
void gemmTyped(const float* X, int64_t M, int64_t ldx, const PackedMatrix& W, const T* data, float* Y, int64_t ldy, bool acc, int threads) {
  const int64_t K = W.K, N = W.N, panels = W.panels;
  const int64_t rowChunks = (M + kRowChunk - 1) / kRowChunk;
  // Enough tasks to balance (4 per thread), few enough that each streams a run of panels.
  const int64_t want = std::max<int64_t>(1, int64_t(threads) * 4 / rowChunks);
  const int64_t perTask = std::max<int64_t>(1, (panels + want - 1) / want);
  const int64_t panelTasks = (panels + perTask - 1) / perTask;
  cpu::parallelFor(threads, rowChunks * panelTasks, [&](int64_t task, int) {
    const int64_t rc = task / panelTasks, pt = task % panelTasks;
    const int64_t r0 = rc * kRowChunk, r1 = std::min(M, r0 + kRowChunk);
    const int64_t p0 = pt * perTask, p1 = std::min(panels, p0 + perTask);
    for (int64_t p = p0; p < p1; ++p) {
      const T* P = data + p * kPanel * K;
      const int cols = int(std::min<int64_t>(kPanel, N - p * kPanel));
      for (int64_t r = r0; r < r1; r += kRows) {
        const int rows = int(std::min<int64_t>(kRows, r1 - r));
        rowsTile(rows, X + r * ldx, ldx, P, K, Y + r * ldy + p * kPanel, ldy, cols, acc);
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
    for (int64_t k = 0; k < K; ++k) {
      for (int64_t j = 0; j < kPanel; ++j) {
        const int64_t n = pn * kPanel + j;
        const float w = n < N ? W[n * K + k] : 0.0f;
        const size_t at = size_t((pn * K + k) * kPanel + j);
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
