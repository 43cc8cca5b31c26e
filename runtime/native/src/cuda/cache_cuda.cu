// CacheOps "cuda" (this file compiled by nvcc) and "cuda-emu" (the same file compiled as host C++
// against the emulator): the KV cache kernels, every one a grid-stride loop whose body calls
// cache_slots.hpp, the per-slot and per-entry code the CPU backend runs too. Everything lives in
// kvf::KVF_CUDA_NS, so the two compilations never share a name.
//
// Every op is a few launches on the legacy default stream, no synchronisation and no host copy
// (except append with maxCount < 0, which downloads count first): the launches are ordered after
// earlier work on that stream and before later work, including the attention kernels and the
// MemoryOps copies. A launch error (cudaGetLastError) throws std::runtime_error; an execution
// error shows at the next synchronising call (a download, MemoryOps::synchronize).
//
// Grids: every kernel loops over its units with stride gridDim.x, so gridDim.x is capped at
// KVF_CACHE_MAX_BLOCKS (the test harness compiles a build with a tiny cap to run every loop) and
// caches of any size launch within limits. 64-bit indices throughout.
//
// Ordering between threads (nothing is atomic):
// - append: kernel 1, one thread per (sequence, token, KV head, column), writes the new slots
//   (reading len, which nobody writes yet); kernel 2, one block per head, recomputes the touched
//   summary entries from the slots' positions and then (after a barrier: every thread of the block
//   has read len) thread 0 writes len.
// - truncate: kernel 1 moves slots, kernel 2 (one block per head) recomputes every summary entry
//   of the changed heads and writes len, as for append. A move reads slot d + shift and writes
//   slot d (shift = len - keep >= 1). Columns are independent, so a head's C = D + Dv + 1 columns
//   are split into groups of 32 (one per lane of a warp); when the source range [shift, len) and
//   the destination range [0, keep) are disjoint every (head, column group, 64-row window) is an
//   independent block unit. When they overlap, one block per (head, column group) walks the
//   windows in ascending order: each thread loads its 8 elements of window w (rows w*64 .. w*64+63
//   + shift) into registers, __syncthreads(), then stores them to rows w*64 .. w*64+63. A slot
//   overwritten in window w was the source of row (slot - shift), which lies in window w or an
//   earlier one, so it was loaded before that window's barrier; a slot loaded in window w lies
//   past every row written up to window w. No other block touches those columns of that head, so
//   the move needs no scratch memory and no grid-wide synchronisation.
// - copyCache: kernel 1 copies slots below each length, one thread per (head, slot, column);
//   kernel 2 recomputes every summary entry of `to` and writes its lengths.
// - initEmpty: one kernel, one thread per summary entry (and per length).
#include <cstring>
#include <stdexcept>
#include <string>
#include "kvforge/cache_ops.hpp"
#include "kvforge/cache_slots.hpp"
#include "kvforge/cuda/config.cuh"
#include "cache_launch.cuh"
#include "cache_policy_cuda.hpp"

namespace kvf {
namespace KVF_CUDA_NS {
namespace {

using namespace kvf::slots;

// Truncation: a column group is one warp wide; a window is kSteps steps of kRowsPerStep rows.
constexpr int kGroupCols = 32;
constexpr int kRowsPerStep = kCacheThreads / kGroupCols;
constexpr int kSteps = 8;
constexpr int kWindowRows = kRowsPerStep * kSteps;


// ---- append --------------------------------------------------------------------------------
// One thread per (b, r, h, column), column fastest: a token's source rows are read and its slot
// rows written contiguously.
template <DType T>
__global__ void __launch_bounds__(kCacheThreads) appendKernel(AppendArgs a, int64_t maxCount) {
  const CacheView& c = a.cache;
  const int64_t C = columns(c), perToken = c.Hkv * C, total = c.B * maxCount * perToken;
  for (int64_t i = firstIndex(); i < total; i += gridStride()) {
    const int64_t col = i % C, h = (i / C) % c.Hkv, r = (i / perToken) % maxCount, b = i / (perToken * maxCount);
    if (r >= a.count[b]) continue;
    const int64_t hd = b * c.Hkv + h;
    appendColumns<T>(a, b, h, r, c.len[hd] + r, col, col + 1);
  }
}

// One block per head: the touched summary entries, then len.
__global__ void __launch_bounds__(kCacheThreads) appendFinishKernel(AppendArgs a, int64_t maxCount) {
  const CacheView& c = a.cache;
  for (int64_t hd = blockIdx.x; hd < heads(c); hd += gridDim.x) {
    const int64_t n = min64(a.count[hd / c.Hkv], maxCount);
    if (n <= 0) continue;  // uniform in the block
    const int64_t len0 = c.len[hd], len1 = appendedLength(len0, n, c.capacity);
    int64_t t0, t1;
    touchedEntries(len0, len1, t0, t1);
    for (int64_t t = t0 + threadIdx.x; t < t1; t += blockDim.x) recomputeEntry(c, hd, len1, t);
    __syncthreads();  // every thread has read len
    if (threadIdx.x == 0) c.len[hd] = int32_t(len1);
  }
}

// ---- truncate ------------------------------------------------------------------------------
// Units (head, column group, window part), part fastest; see the file comment for the order.
template <class E>
__global__ void __launch_bounds__(kCacheThreads) truncateMoveKernel(TruncateArgs a, int64_t groups, int64_t parts) {
  const CacheView& c = a.cache;
  const int64_t C = columns(c), units = heads(c) * groups * parts;
  const int lane = int(threadIdx.x) % kGroupCols, row = int(threadIdx.x) / kGroupCols;
  for (int64_t u = blockIdx.x; u < units; u += gridDim.x) {
    const int64_t part = u % parts, g = (u / parts) % groups, hd = u / (parts * groups);
    const int64_t len = c.len[hd], keep = a.keep[hd];
    if (!truncateChanges(len, keep)) continue;  // uniform in the block, as every branch below
    const int64_t shift = truncateShift(len, keep);
    int64_t w0 = part, w1 = part + 1;
    if (truncateOverlaps(len, keep)) {
      if (part != 0) continue;
      w1 = (keep + kWindowRows - 1) / kWindowRows;
    } else if (part * kWindowRows >= keep) {
      continue;
    }
    const int64_t col = g * kGroupCols + lane;
    const bool colOk = col < C;
    for (int64_t w = w0; w < w1; ++w) {
      uint32_t held[kSteps];
      KVF_UNROLL
      for (int j = 0; j < kSteps; ++j) {
        const int64_t d = w * kWindowRows + j * kRowsPerStep + row;
        held[j] = colOk && d < keep ? loadColumn<E>(c, hd, d + shift, col) : 0u;
      }
      __syncthreads();  // the window's sources are all read before any of its rows is written
      KVF_UNROLL
      for (int j = 0; j < kSteps; ++j) {
        const int64_t d = w * kWindowRows + j * kRowsPerStep + row;
        if (colOk && d < keep) storeColumn<E>(c, hd, d, col, held[j]);
      }
    }
  }
}

// One block per head: every summary entry of a changed head, then len.
__global__ void __launch_bounds__(kCacheThreads) truncateFinishKernel(TruncateArgs a) {
  const CacheView& c = a.cache;
  const int64_t nEntries = entriesPerHead(c);
  for (int64_t hd = blockIdx.x; hd < heads(c); hd += gridDim.x) {
    const int64_t len = c.len[hd], keep = a.keep[hd];
    if (!truncateChanges(len, keep)) continue;  // uniform in the block
    for (int64_t t = threadIdx.x; t < nEntries; t += blockDim.x) recomputeEntry(c, hd, keep, t);
    __syncthreads();  // every thread has read len
    if (threadIdx.x == 0) c.len[hd] = int32_t(keep);
  }
}

// ---- copyCache -----------------------------------------------------------------------------
// One thread per (head, slot of `from`, column), column fastest.
template <class E>
__global__ void __launch_bounds__(kCacheThreads) copyKernel(CopyCacheArgs a) {
  const CacheView &f = a.from, &t = a.to;
  const int64_t C = columns(f), perHead = f.capacity * C, total = heads(f) * perHead;
  for (int64_t i = firstIndex(); i < total; i += gridStride()) {
    const int64_t col = i % C, s = (i / C) % f.capacity, hd = i / perHead;
    if (s >= copiedLength(f.len[hd], t.capacity)) continue;
    copyColumns<E>(t, hd, s, f, hd, s, col, col + 1);
  }
}

// One block per head of `to`: every summary entry, then len (read by no other thread).
__global__ void __launch_bounds__(kCacheThreads) copyFinishKernel(CopyCacheArgs a) {
  const CacheView &f = a.from, &t = a.to;
  const int64_t nEntries = entriesPerHead(t);
  for (int64_t hd = blockIdx.x; hd < heads(t); hd += gridDim.x) {
    const int64_t len = copiedLength(f.len[hd], t.capacity);
    for (int64_t e = threadIdx.x; e < nEntries; e += blockDim.x) recomputeEntry(t, hd, len, e);
    if (threadIdx.x == 0) t.len[hd] = int32_t(len);
  }
}

// ---- initEmpty -----------------------------------------------------------------------------
__global__ void __launch_bounds__(kCacheThreads) initEmptyKernel(CacheView c) {
  const int64_t H = heads(c), nEntries = entriesPerHead(c), total = max64(H * nEntries, H);
  for (int64_t i = firstIndex(); i < total; i += gridStride()) {
    if (i < H * nEntries) emptyEntry(c, i / nEntries, i % nEntries);
    if (i < H) c.len[i] = 0;
  }
}

// ---- host side -----------------------------------------------------------------------------
template <DType T>
void launchAppend(const AppendArgs& a, int64_t maxCount) {
  const CacheView& c = a.cache;
  const int64_t total = c.B * maxCount * c.Hkv * columns(c);
  KVF_LAUNCH(appendKernel<T>, gridBlocks(total, kCacheThreads, kMaxBlocks), kCacheThreads, 0, 0, a, maxCount);
  checkLaunch("append", "appendKernel");
}

void opAppend(const AppendArgs& a) {
  const CacheView& c = a.cache;
  checkShape(c, "append");
  if (heads(c) == 0) return;
  if (!a.start || !a.count) fail("append", "null start or count");
  guarded("append", [&] {
    int64_t maxCount = a.maxCount;
    if (maxCount < 0) {  // unknown: read count (synchronous)
      std::string counts(size_t(c.B) * sizeof(int32_t), '\0');
      const cudaError_t err = cudaMemcpy(&counts[0], a.count, counts.size(), cudaMemcpyDeviceToHost);
      if (err != cudaSuccess) {
        cudaGetLastError();
        fail("append", std::string("cudaMemcpy(count, download) failed: ") + cudaGetErrorName(err));
      }
      maxCount = 0;
      for (int64_t b = 0; b < c.B; ++b) {
        int32_t n;
        std::memcpy(&n, &counts[size_t(b) * sizeof(int32_t)], sizeof n);
        maxCount = max64(maxCount, n);
      }
    }
    if (maxCount <= 0) return;
    if (!a.positions || (c.D > 0 && !a.k) || (c.Dv > 0 && !a.v)) fail("append", "null k, v or positions");
    switch (c.dtype) {
      case DType::F32: launchAppend<DType::F32>(a, maxCount); break;
      case DType::F16: launchAppend<DType::F16>(a, maxCount); break;
      case DType::BF16: launchAppend<DType::BF16>(a, maxCount); break;
    }
    KVF_LAUNCH(appendFinishKernel, gridBlocks(heads(c), 1, kMaxBlocks), kCacheThreads, 0, 0, a, maxCount);
    checkLaunch("append", "appendFinishKernel");
  });
}

template <class E>
void launchTruncateMove(const TruncateArgs& a, int64_t groups, int64_t parts) {
  KVF_LAUNCH(truncateMoveKernel<E>, gridBlocks(heads(a.cache) * groups * parts, 1, kMaxBlocks), kCacheThreads, 0, 0,
             a, groups, parts);
  checkLaunch("truncate", "truncateMoveKernel");
}

void opTruncate(const TruncateArgs& a) {
  const CacheView& c = a.cache;
  checkShape(c, "truncate");
  if (heads(c) == 0 || c.capacity == 0) return;  // capacity 0: every length is 0, nothing changes
  if (!a.keep) fail("truncate", "null keep");
  guarded("truncate", [&] {
    const int64_t groups = (columns(c) + kGroupCols - 1) / kGroupCols;
    const int64_t parts = (c.capacity + kWindowRows - 1) / kWindowRows;
    if (dtypeBytes(c.dtype) == 4) {
      launchTruncateMove<uint32_t>(a, groups, parts);
    } else {
      launchTruncateMove<uint16_t>(a, groups, parts);
    }
    KVF_LAUNCH(truncateFinishKernel, gridBlocks(heads(c), 1, kMaxBlocks), kCacheThreads, 0, 0, a);
    checkLaunch("truncate", "truncateFinishKernel");
  });
}

template <class E>
void launchCopy(const CopyCacheArgs& a) {
  const int64_t total = heads(a.from) * a.from.capacity * columns(a.from);
  if (total == 0) return;
  KVF_LAUNCH(copyKernel<E>, gridBlocks(total, kCacheThreads, kMaxBlocks), kCacheThreads, 0, 0, a);
  checkLaunch("copyCache", "copyKernel");
}

void opCopyCache(const CopyCacheArgs& a) {
  const CacheView &f = a.from, &t = a.to;
  checkShape(f, "copyCache");
  checkShape(t, "copyCache");
  if (f.B != t.B || f.Hkv != t.Hkv || f.D != t.D || f.Dv != t.Dv || f.dtype != t.dtype)
    fail("copyCache", "from and to differ in B, Hkv, D, Dv or dtype");
  if (heads(f) == 0) return;
  guarded("copyCache", [&] {
    if (dtypeBytes(f.dtype) == 4) {
      launchCopy<uint32_t>(a);
    } else {
      launchCopy<uint16_t>(a);
    }
    KVF_LAUNCH(copyFinishKernel, gridBlocks(heads(t), 1, kMaxBlocks), kCacheThreads, 0, 0, a);
    checkLaunch("copyCache", "copyFinishKernel");
  });
}

void opInitEmpty(const CacheView& c) {
  checkShape(c, "initEmpty");
  if (heads(c) == 0) return;
  guarded("initEmpty", [&] {
    const int64_t total = max64(heads(c) * entriesPerHead(c), heads(c));
    KVF_LAUNCH(initEmptyKernel, gridBlocks(total, kCacheThreads, kMaxBlocks), kCacheThreads, 0, 0, c);
    checkLaunch("initEmpty", "initEmptyKernel");
  });
}

// Compaction and merges of compression policies: src/cuda/cache_policy_cuda.cu.
const CacheOps kCacheOps{KVF_CUDA_BACKEND, opAppend, opTruncate, opCopyCache, opInitEmpty, policyCompact, policyMerge, policyPyramid};

struct Registrar {
  Registrar() { registerCacheOps(&kCacheOps); }
} registrar;

}  // namespace
}  // namespace KVF_CUDA_NS
}  // namespace kvf
