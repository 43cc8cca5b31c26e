// A persistent pool of worker threads for the CPU kernels.
//
// Why persistent: a decode call lasts well under a millisecond, and creating threads per call
// would cost a noticeable part of it. Workers stay parked (spinning briefly, then sleeping on a
// condition variable) between calls.
//
// parallelFor(threads, n, f) calls f(i, worker) for every i in [0, n) on `threads` threads, the
// calling thread included (worker 0 is the caller; workers are numbered 0..threads-1 so a caller
// can keep per-thread scratch). Indices are handed out in increasing order from one atomic
// counter, so a caller that sorts its work most-expensive-first gets that schedule. If a call of f
// throws, the remaining indices are skipped and the first exception is rethrown to the caller.
// Parallel regions from different caller threads run one at a time; a parallelFor issued from
// inside a task runs serially on that thread.
#pragma once
#include <cstdint>
#include <utility>

namespace kvf::cpu {

using TaskFn = void (*)(void* ctx, int64_t index, int worker);

// Non-template core of parallelFor (src/thread_pool.cpp).
void parallelRun(int threads, int64_t n, TaskFn fn, void* ctx);

template <class F>
void parallelFor(int threads, int64_t n, F&& f) {
  using Fn = std::remove_reference_t<F>;
  parallelRun(threads, n, [](void* ctx, int64_t i, int w) { (*static_cast<Fn*>(ctx))(i, w); },
              const_cast<void*>(static_cast<const void*>(&f)));
}

// Upper bound on threads per region (requests above it are clamped; oversubscription beyond
// this is never useful on CPUs this code targets).
constexpr int kMaxThreads = 256;

}  // namespace kvf::cpu
