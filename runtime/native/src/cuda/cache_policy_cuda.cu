// CacheOps "cuda" / "cuda-emu": compaction and merges of the compression policies (contract:
// cache_ops.hpp; the per-group and per-column logic: cache_merge.hpp, which the CPU backend runs
// too, so both are checked against the same float64 reference slot for slot).
//
// Validation: the op downloads the lengths and its argument arrays (a synchronising copy; these
// ops run once per decode step, not per layer call) and runs cache_policy_checks.hpp's checks on
// the host, so a bad argument throws the same message as on the CPU before any kernel runs.
//
// Kernels: one block per head (grid-stride over heads), threads over the head's columns; the
// phases of a merge are separated by __syncthreads (phase A's Best* winners and bestVote flags
// into device scratch, then phase B group by group per column in the order cache_merge.hpp's
// mergeOrder allows in place; a merge whose order is Copy, the literal decode mode, first copies
// its region into a scratch cache of the same geometry). The block then moves the tail, recomputes
// the head's summary entries and (after a barrier: every thread has read len) writes len.
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>
#include "kvforge/cache_merge.hpp"
#include "kvforge/cache_ops.hpp"
#include "kvforge/cache_policy_checks.hpp"
#include "kvforge/cache_slots.hpp"
#include "kvforge/cuda/config.cuh"
#include "cache_launch.cuh"
#include "cache_policy_cuda.hpp"

namespace kvf {
namespace KVF_CUDA_NS {
namespace {

using namespace kvf::slots;

// Device scratch of one op, freed when the op returns (cudaFree waits for the kernels).
class DeviceScratch {
 public:
  DeviceScratch(const char* op, size_t bytes) {
    if (bytes == 0) return;
    const cudaError_t err = cudaMalloc(&p_, bytes);
    if (err != cudaSuccess) fail(op, "could not allocate " + std::to_string(bytes) + " bytes of scratch: " + cudaGetErrorName(err));
  }
  ~DeviceScratch() {
    if (p_ && cudaFree(p_) != cudaSuccess) cudaGetLastError();
  }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  void* p_ = nullptr;
};

// n int32 of device memory into a host vector.
std::vector<int32_t> download(const char* op, const int32_t* p, int64_t n) {
  std::vector<int32_t> h(size_t(n > 0 ? n : 0));
  if (n > 0) {
    const cudaError_t err = cudaMemcpy(h.data(), p, size_t(n) * 4, cudaMemcpyDeviceToHost);
    if (err != cudaSuccess) fail(op, std::string("reading its arguments failed: ") + cudaGetErrorName(err));
  }
  return h;
}

void check(const char* op, const std::string& problem) {
  if (!problem.empty()) fail(op, problem);
}

// Summary entries of head hd for length len, then len (every thread has read the old one).
__device__ __forceinline__ void finishHead(const CacheView& c, int64_t hd, int64_t len) {
  for (int64_t t = threadIdx.x; t < entriesPerHead(c); t += blockDim.x) recomputeEntry(c, hd, len, t);
  __syncthreads();
  if (threadIdx.x == 0) c.len[hd] = int32_t(len);
}

// ---- compact -------------------------------------------------------------------------------
// Per column, kept slot keep[i] to i in ascending order (keep[i] >= i: sources are read first).
template <class E>
__global__ void __launch_bounds__(kCacheThreads) compactKernel(CompactArgs a) {
  const CacheView& c = a.cache;
  const int64_t C = columns(c);
  for (int64_t hd = blockIdx.x; hd < heads(c); hd += gridDim.x) {
    const int64_t n = a.keepCount[hd];
    if (n < 0) continue;
    int64_t at = 0;
    for (int64_t x = 0; x < hd; ++x) at += a.keepCount[x] > 0 ? a.keepCount[x] : 0;
    const int32_t* keep = a.keep + at;
    for (int64_t col = threadIdx.x; col < C; col += blockDim.x)
      for (int64_t i = 0; i < n; ++i)
        if (keep[i] != i) storeColumn<E>(c, hd, i, col, loadColumn<E>(c, hd, keep[i], col));
    __syncthreads();
    finishHead(c, hd, n);
    __syncthreads();
  }
}

// ---- merges --------------------------------------------------------------------------------
// Device scratch of the merges: Best* winners [head][capacity], bestVote flags [head][D + Dv],
// and (order Copy) a cache of the same geometry holding copies of the regions.
struct MergeScratch {
  int64_t* winner = nullptr;
  uint8_t* first = nullptr;
  CacheView copy;
  bool hasCopy = false;
};

// Both phases of one merge of head hd (all threads of the block call it).
template <DType T>
__device__ __forceinline__ void mergeRegionBlock(const CacheView& c, int64_t hd, int64_t s, int64_t n, int64_t dst, int64_t g,
                                 Pooling pooling, bool pairOdd, const MergeScratch& w) {
  MergePlan p{s, n, dst, g, pooling, pooling == Pooling::BestVote, nullptr, nullptr};
  const MergeOrder order = mergeOrder(s, n, dst, g);
  const int64_t C = columns(c), m = p.groups();
  MemberSource from{c, hd};
  if (order == MergeOrder::Copy) {
    for (int64_t col = threadIdx.x; col < C; col += blockDim.x)
      for (int64_t slot = s; slot < s + n; ++slot) storeColumn<Bits<T>>(w.copy, hd, slot, col, loadColumn<Bits<T>>(c, hd, slot, col));
    from = MemberSource{w.copy, hd};
    __syncthreads();
  }
  if (isBest(pooling)) {
    int64_t* win = w.winner + hd * c.capacity;
    for (int64_t i = threadIdx.x; i < m; i += blockDim.x)
      win[i] = bestMember<T>(from, s + i * g, min64(s + n, s + (i + 1) * g), pooling);
    p.winner = win;
  }
  if (p.vote) {
    uint8_t* first = w.first + hd * (c.D + c.Dv);
    for (int64_t e = threadIdx.x; e < c.D + c.Dv; e += blockDim.x) first[e] = voteFirst<T>(from, s, n, pairOdd, e) ? 1 : 0;
    p.firstOf = first;
  }
  __syncthreads();
  for (int64_t col = threadIdx.x; col < C; col += blockDim.x) {
    if (order == MergeOrder::Reverse)
      for (int64_t i = m - 1; i >= 0; --i) mergeGroupColumns<T>(c, hd, from, p, i, col, col + 1);
    else
      for (int64_t i = 0; i < m; ++i) mergeGroupColumns<T>(c, hd, from, p, i, col, col + 1);
  }
  __syncthreads();
}

template <DType T>
__global__ void __launch_bounds__(kCacheThreads, 1) mergeKernel(MergeArgs a, MergeScratch w) {
  const CacheView& c = a.cache;
  const int64_t C = columns(c), g = a.pairOdd ? 2 : a.groupSize;
  for (int64_t hd = blockIdx.x; hd < heads(c); hd += gridDim.x) {
    const int64_t n = a.count[hd];
    if (n <= 0) continue;
    const int64_t s = a.start[hd], dst = a.dst[hd], len = c.len[hd], m = mergedSlots(n, g);
    mergeRegionBlock<T>(c, hd, s, n, dst, g, a.pooling, a.pairOdd, w);
    for (int64_t col = threadIdx.x; col < C; col += blockDim.x)
      for (int64_t t = s + n, d = dst + m; t < len; ++t, ++d) storeColumn<Bits<T>>(c, hd, d, col, loadColumn<Bits<T>>(c, hd, t, col));
    __syncthreads();
    finishHead(c, hd, dst + m + (len - s - n));
    __syncthreads();
  }
}

template <DType T>
__global__ void __launch_bounds__(kCacheThreads, 1) pyramidKernel(PyramidArgs a, MergeScratch w) {
  const CacheView& c = a.cache;
  const int64_t C = columns(c);
  for (int64_t hd = blockIdx.x; hd < heads(c); hd += gridDim.x) {
    if (a.compressed[hd] < 0) continue;
    const int64_t s0 = a.sinks[hd], len = c.len[hd];
    PyramidRound r{s0, a.compressed[hd]};
    int64_t s, n, dst;
    while (r.next(len, a.budget, a.groupSize, s, n, dst)) mergeRegionBlock<T>(c, hd, s, n, dst, a.groupSize, a.pooling, false, w);
    if (r.at == s0) continue;
    for (int64_t col = threadIdx.x; col < C; col += blockDim.x)
      for (int64_t t = r.at, d = s0; t < len; ++t, ++d) storeColumn<Bits<T>>(c, hd, d, col, loadColumn<Bits<T>>(c, hd, t, col));
    __syncthreads();
    finishHead(c, hd, len - (r.at - s0));
    __syncthreads();
  }
}

// The scratch a merge or pyramid call needs (copy: some head's order is Copy).
struct MergeScratchMemory {
  DeviceScratch winner, first, k, v, ints, floats;
  MergeScratch view;
  MergeScratchMemory(const char* op, const CacheView& c, Pooling pooling, bool copy)
      : winner(op, isBest(pooling) ? size_t(heads(c) * c.capacity) * 8 : 0),
        first(op, pooling == Pooling::BestVote ? size_t(heads(c) * (c.D + c.Dv)) : 0),
        k(op, copy ? size_t(heads(c) * c.capacity * c.D) * dtypeBytes(c.dtype) : 0),
        v(op, copy ? size_t(heads(c) * c.capacity * c.Dv) * dtypeBytes(c.dtype) : 0),
        ints(op, copy ? size_t(heads(c) * c.capacity) * 8 : 0),
        floats(op, copy ? size_t(heads(c) * c.capacity) * 8 : 0) {
    view.winner = winner.as<int64_t>();
    view.first = first.as<uint8_t>();
    view.hasCopy = copy;
    if (copy) {
      CacheView x = c;
      const int64_t slotsAll = heads(c) * c.capacity;
      x.k = k.as<void>(), x.v = v.as<void>();
      x.pos = ints.as<int32_t>(), x.count = ints.as<int32_t>() + slotsAll;
      x.mass = floats.as<float>(), x.bias = floats.as<float>() + slotsAll;
      x.len = nullptr, x.sumMin = x.sumMax = nullptr;
      view.copy = x;
    }
  }
};

unsigned headBlocks(const CacheView& c) { return gridBlocks(heads(c), 1, kMaxBlocks); }

}  // namespace

void policyCompact(const CompactArgs& a) {
  const CacheView& c = a.cache;
  checkShape(c, "compact");
  if (heads(c) == 0) return;
  if (!a.keepCount) fail("compact", "null keepCount");
  const int64_t H = heads(c);
  const std::vector<int32_t> len = download("compact", c.len, H), kc = download("compact", a.keepCount, H);
  check("compact", viewProblem(c, len.data()));
  std::vector<int64_t> at(size_t(H) + 1);
  keepOffsets(H, kc.data(), at.data());
  if (at.back() > 0 && !a.keep) fail("compact", "null keep");
  const std::vector<int32_t> keep = download("compact", a.keep, at.back());
  check("compact", compactProblem(c, len.data(), keep.data(), kc.data(), at.data()));
  guarded("compact", [&] {
    if (dtypeBytes(c.dtype) == 4) KVF_LAUNCH(compactKernel<uint32_t>, headBlocks(c), kCacheThreads, 0, 0, a);
    else KVF_LAUNCH(compactKernel<uint16_t>, headBlocks(c), kCacheThreads, 0, 0, a);
    checkLaunch("compact", "compactKernel");
  });
}

void policyMerge(const MergeArgs& a) {
  const CacheView& c = a.cache;
  checkShape(c, "merge");
  if (heads(c) == 0) return;
  if (!a.start || !a.count || !a.dst) fail("merge", "null start, count or dst");
  const int64_t H = heads(c);
  const std::vector<int32_t> len = download("merge", c.len, H), st = download("merge", a.start, H),
                             ct = download("merge", a.count, H), ds = download("merge", a.dst, H);
  check("merge", viewProblem(c, len.data()));
  check("merge", mergeProblem(a, len.data(), st.data(), ct.data(), ds.data()));
  bool copy = false;
  const int64_t g = a.pairOdd ? 2 : a.groupSize;
  for (int64_t hd = 0; hd < H; ++hd) copy |= ct[size_t(hd)] > 0 && mergeOrder(st[size_t(hd)], ct[size_t(hd)], ds[size_t(hd)], g) == MergeOrder::Copy;
  const MergeScratchMemory w("merge", c, a.pooling, copy);
  guarded("merge", [&] {
    withDType(c.dtype, [&](auto t) { KVF_LAUNCH(mergeKernel<decltype(t)::value>, headBlocks(c), kCacheThreads, 0, 0, a, w.view); });
    checkLaunch("merge", "mergeKernel");
  });
}

void policyPyramid(const PyramidArgs& a) {
  const CacheView& c = a.cache;
  checkShape(c, "pyramid");
  if (heads(c) == 0) return;
  if (!a.sinks || !a.compressed) fail("pyramid", "null sinks or compressed");
  const int64_t H = heads(c);
  const std::vector<int32_t> len = download("pyramid", c.len, H), sk = download("pyramid", a.sinks, H),
                             cp = download("pyramid", a.compressed, H);
  check("pyramid", viewProblem(c, len.data()));
  check("pyramid", pyramidProblem(a, len.data(), sk.data(), cp.data()));
  const MergeScratchMemory w("pyramid", c, a.pooling, false);  // rounds merge in place (Reverse)
  guarded("pyramid", [&] {
    withDType(c.dtype, [&](auto t) { KVF_LAUNCH(pyramidKernel<decltype(t)::value>, headBlocks(c), kCacheThreads, 0, 0, a, w.view); });
    checkLaunch("pyramid", "pyramidKernel");
  });
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
