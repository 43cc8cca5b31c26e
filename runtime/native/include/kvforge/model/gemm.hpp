// Dense layers of the model executor: Y = X W^T for a weight W [N, K] in PyTorch Linear's layout
// (out x in), X [M, K] rows of activations (f32), Y [M, N] (f32). What a decode step spends most
// of its time on at small batch (every weight read once per step), so W is packed once, at load:
//
// - panels of kPanel = 16 output columns: panel p holds W[16p .. 16p + 15][k] for k = 0..K-1,
//   k-major (16 consecutive values per k, in an order of the build's instruction set for bf16:
//   model_gemm.cpp), the last panel zero-padded; a micro-kernel streams one
//   panel front to back (the hardware prefetcher's best case) while up to 6 rows of X stay in L1;
// - storage f32, or bf16 (round to nearest even, as the caches store it: half the bytes a step
//   streams); accumulation is f32 in k order per output (semantics.md: accumulation f32 or wider).
//
// gemm() splits the panels (and, for many rows, the rows) over the thread pool; each output is
// computed by exactly one thread in a fixed order, so results do not depend on the thread count.
#pragma once
#include <cstdint>
#include <memory>

#include "kvforge/dtype.hpp"

namespace kvf::model {

constexpr int64_t kPanel = 16;

struct PackedMatrix {
  int64_t N = 0, K = 0;
  DType dtype = DType::F32;  // F32 or BF16
  int64_t panels = 0;
  std::unique_ptr<void, void (*)(void*)> data{nullptr, [](void*) {}};
  size_t bytes() const { return size_t(panels * kPanel * K) * (dtype == DType::F32 ? 4 : 2); }
};

// Pack W [N, K] (row-major f32). Throws kvf::OutOfMemory when the packed copy cannot be allocated,
// std::invalid_argument for a dtype other than F32 / BF16 or non-positive sizes.
PackedMatrix packMatrix(const float* W, int64_t N, int64_t K, DType dtype);

// Y[m][n] = sum_k X[m][k] * W[n][k] (accumulate: Y[m][n] += that), m < M, n < N; row strides ldx, ldy.
void gemm(const float* X, int64_t M, int64_t ldx, const PackedMatrix& W, float* Y, int64_t ldy, bool accumulate, int threads);

}  // namespace kvf::model
