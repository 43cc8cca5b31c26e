// Persistent worker pool behind kvf::cpu::parallelFor (see thread_pool.hpp for the contract).
//
// Joining a running region: a worker may only enter the region whose generation it saw, and
// only while that region is open. One 64-bit atomic holds (generation, closed bit, count of
// workers inside), so entering is one compare-and-swap and the caller knows exactly whom to wait
// for. A worker that wakes late finds the region closed and goes back to sleep without touching
// it: the caller never waits for a sleeping thread to notice there was nothing left to do.
#include "kvforge/cpu/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KVF_PAUSE() _mm_pause()
#else
#define KVF_PAUSE() ((void)0)
#endif

namespace kvf::cpu {
namespace {

constexpr uint64_t kCountMask = 0xffffffffull;
constexpr uint64_t kClosed = 1ull << 32;
constexpr int kGenShift = 33;
// How long an idle worker spins before sleeping: long enough to catch the next call of a
// benchmark loop or a decode step, short enough not to steal a core from other work for long.
constexpr auto kSpin = std::chrono::microseconds(100);

thread_local bool tInsideRegion = false;

class Pool {
 public:
  void run(int threads, int64_t n, TaskFn fn, void* ctx) {
    std::lock_guard<std::mutex> region(regionMutex_);
    ensureWorkers(threads - 1);
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    threads_ = threads;
    next_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    {
      std::lock_guard<std::mutex> lk(m_);
      ++gen_;
      state_.store(gen_ << kGenShift, std::memory_order_release);
    }
    wake_.notify_all();

    work(0);

    // Close the region, then wait for the workers that entered it.
    uint64_t s = state_.fetch_or(kClosed, std::memory_order_acq_rel) | kClosed;
    const auto spinUntil = std::chrono::steady_clock::now() + kSpin;
    while ((s & kCountMask) != 0 && std::chrono::steady_clock::now() < spinUntil) {
      KVF_PAUSE();
      s = state_.load(std::memory_order_acquire);
    }
    if ((s & kCountMask) != 0) {
      std::unique_lock<std::mutex> lk(m_);
      done_.wait(lk, [&] { return (state_.load(std::memory_order_acquire) & kCountMask) == 0; });
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void ensureWorkers(int count) {
    while (static_cast<int>(workers_.size()) < count) {
      const int id = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, id] { loop(id); });
      workers_.back().detach();  // the pool lives until the process ends
    }
  }

  // Hand out indices until none are left (or a task failed).
  void work(int worker) {
    tInsideRegion = true;
    for (;;) {
      const int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_) break;
      try {
        fn_(ctx_, i, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lk(errorMutex_);
        if (!error_) error_ = std::current_exception();
        next_.store(n_, std::memory_order_relaxed);
      }
    }
    tInsideRegion = false;
  }

  void loop(int id) {
    uint64_t seenGen = 0;
    for (;;) {
      uint64_t s = state_.load(std::memory_order_acquire);
      const auto spinUntil = std::chrono::steady_clock::now() + kSpin;
      while ((s >> kGenShift) == seenGen && std::chrono::steady_clock::now() < spinUntil) {
        for (int i = 0; i < 64; ++i) KVF_PAUSE();
        s = state_.load(std::memory_order_acquire);
      }
      if ((s >> kGenShift) == seenGen) {
        std::unique_lock<std::mutex> lk(m_);
        wake_.wait(lk, [&] { return (state_.load(std::memory_order_acquire) >> kGenShift) != seenGen; });
        s = state_.load(std::memory_order_acquire);
      }
      seenGen = s >> kGenShift;
      // Enter only the generation just seen, and only while it is open.
      bool entered = false;
      while ((s >> kGenShift) == seenGen && !(s & kClosed)) {
        if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
          entered = true;
          break;
        }
      }
      if (!entered) continue;
      if (id < threads_) work(id);
      const uint64_t after = state_.fetch_sub(1, std::memory_order_acq_rel) - 1;
      if ((after & kCountMask) == 0 && (after & kClosed)) {
        std::lock_guard<std::mutex> lk(m_);
        done_.notify_all();
      }
    }
  }

  std::mutex regionMutex_;  // one parallel region at a time
  std::mutex m_;            // guards sleeping and waking
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> state_{0};
  uint64_t gen_ = 0;
  // The running region; written only while no worker is inside (count 0 and closed, or before
  // the generation is published).
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int threads_ = 1;
  std::atomic<int64_t> next_{0};
  std::mutex errorMutex_;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool* p = new Pool;  // leaked on purpose: parked workers must never see it destroyed
  return *p;
}

}  // namespace

void parallelRun(int threads, int64_t n, TaskFn fn, void* ctx) {
  if (n <= 0) return;
  threads = std::clamp(threads, 1, kMaxThreads);
  if (threads > n) threads = static_cast<int>(n);
  if (threads == 1 || tInsideRegion) {
    for (int64_t i = 0; i < n; ++i) fn(ctx, i, 0);
    return;
  }
  pool().run(threads, n, fn, ctx);
}

}  // namespace kvf::cpu
