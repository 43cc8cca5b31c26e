// Running one thread block: one fiber per CUDA thread, all on the calling OS thread.
//
// Scheduling: a FIFO of runnable fibers. A fiber runs until it blocks (a barrier or a warp
// collective it is not the last to reach) or returns; it then switches straight to the next
// runnable fiber (no detour through a scheduler context, so a block-wide barrier costs one
// switch per thread). The last thread to reach a barrier releases the others and runs on.
// The scheduler context is only re-entered when the block is finished or must be abandoned.
//
// Barriers: __syncthreads completes when all blockDim threads of the block have reached it at
// the same call site. A thread that returned from the kernel never arrives, so as soon as one
// thread has returned while another waits at a barrier (or reaches one afterwards), the block
// is deadlocked. That, a barrier reached at different call sites, and "no fiber runnable while
// some have not finished" are DeadlockErrors; the message names the kernel, the block, the
// barrier or collective, and a thread that did not arrive with what it is doing instead.
//
// Errors inside a fiber (DeadlockError, KernelError, any exception from the kernel) are caught
// at the fiber's entry, recorded (the first one wins) and the block is abandoned: the
// scheduler resumes every suspended fiber, which throws FiberCancel from its wait and unwinds
// (destructors run), then runBlock rethrows the recorded error on the launching OS thread.
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <vector>
#include "kvforge/emu/config.hpp"
#include "kvforge/emu/errors.hpp"
#include "kvforge/emu/fiber.hpp"
#include "kvforge/emu/stack_pool.hpp"
#include "kvforge/emu/scheduler/thread_state.hpp"
#include "kvforge/emu/scheduler/warp_state.hpp"

namespace kvf::emu::detail {

enum class Wait : uint8_t { Ready, Barrier, Warp, Done };

struct Fiber {
  Context ctx;
  uint3 tid{0, 0, 0};
  unsigned linear = 0, warp = 0, lane = 0;
  Wait wait = Wait::Ready;
  bool started = false;
  int rendezvous = -1;  // slot in its warp's pending table while wait == Warp
  Site site;            // the call it waits at (Barrier, Warp)
};

class BlockRunner {
 public:
  // Prepare this OS thread for blocks of launch k (fibers, stacks, dynamic shared memory).
  void begin(const KernelDesc& k);
  // Release what begin() took for the launch (stacks stay pooled).
  void end() noexcept;
  // Run block number `linearBlock` (x fastest) to completion; rethrows its first error.
  void runBlock(uint64_t linearBlock);

  // Called from the running fiber.
  unsigned syncThreads(const Site& site, bool pred);
  uint64_t warpCollective(WarpOp op, unsigned mask, uint64_t bits, int param, int width, const Site& site);
  unsigned activeMask() const {
    const WarpState& w = warps_[current_->warp];
    return w.existing & ~w.exited;
  }
  bool inKernel() const { return current_ != nullptr; }

 private:
  static void fiberMain(void* self) noexcept;
  [[noreturn]] void finishFiber();
  void suspend();
  void enter(Fiber* f) {
    current_ = f;
    tls.threadIdx = f->tid;
  }
  void push(unsigned i) {
    unsigned pos = readyHead_ + readyCount_++;
    ready_[pos >= n_ ? pos - n_ : pos] = i;
  }
  Fiber* pop() {
    Fiber* f = &fibers_[ready_[readyHead_]];
    if (++readyHead_ == n_) readyHead_ = 0;
    --readyCount_;
    return f;
  }
  void releaseBarrier();
  void recordError(std::exception_ptr e) {
    if (!error_) error_ = std::move(e);
    aborting_ = true;
  }
  void cancelAll();
  // A synchronising call made while the block is being abandoned: unwind, unless already unwinding.
  void abandonedCall() const {
    if (std::uncaught_exceptions() == 0) throw FiberCancel{};
  }
  void shuffleOrder();

  // Diagnostics (diagnostics.hpp).
  std::string where() const;
  std::string waitText(const Fiber& f) const;
  std::string itText(const Fiber& f) const;
  const Fiber* culprit(const std::vector<const Fiber*>& missing) const;
  std::string threadList(const std::vector<unsigned>& linear) const;
  std::string barrierReport(const Site& site, const Fiber* arriving) const;
  std::string barrierMismatchReport() const;
  std::string warpReport(unsigned warp, const Rendezvous& r, const Fiber* arriving) const;
  std::string warpMismatchReport(const Fiber& self, const Rendezvous& r, const Site& site, int width) const;
  std::string noProgressReport() const;
  std::string misuse(const Site& site, const std::string& what) const;

  const KernelDesc* kernel_ = nullptr;
  std::vector<Fiber> fibers_;
  std::vector<WarpState> warps_;
  std::vector<unsigned> ready_;  // ring buffer of runnable fiber indices
  std::vector<unsigned> order_;  // start / release order (config.hpp: Schedule)
  unsigned n_ = 0, readyHead_ = 0, readyCount_ = 0;
  unsigned live_ = 0, exited_ = 0;
  unsigned barArrived_ = 0, barCount_ = 0, barResult_ = 0;
  bool barMismatch_ = false;
  Site barSite_;
  bool aborting_ = false;
  std::exception_ptr error_;
  Fiber* current_ = nullptr;
  Context sched_;
  uint3 blockIdx_{0, 0, 0};
  Schedule schedule_ = Schedule::Forward;
  uint64_t seed_ = 1, rng_ = 1;
  StackPool stacks_;
  void* dynamicShared_ = nullptr;
};

// The runner of the calling OS thread.
inline BlockRunner& threadRunner() {
  static thread_local BlockRunner runner;
  return runner;
}

constexpr size_t kDynamicSharedAlign = 128;

inline void BlockRunner::begin(const KernelDesc& k) {
  kernel_ = &k;
  const dim3 b = k.block;
  n_ = b.x * b.y * b.z;
  fibers_.resize(n_);
  for (unsigned i = 0; i < n_; ++i) {
    Fiber& f = fibers_[i];
    f.tid = uint3{i % b.x, (i / b.x) % b.y, i / (b.x * b.y)};
    f.linear = i;
    f.warp = i / 32;
    f.lane = i % 32;
  }
  warps_.assign((n_ + 31) / 32, WarpState{});
  for (unsigned w = 0; w < warps_.size(); ++w) {
    const unsigned lanes = std::min(32u, n_ - 32 * w);
    warps_[w].existing = lanes == 32 ? ~0u : (1u << lanes) - 1;
  }
  stacks_.reserve(n_, fiberStackBytes());
  ready_.assign(n_, 0);
  order_.resize(n_);
  schedule_ = schedule();
  seed_ = settings().seed;
  for (unsigned i = 0; i < n_; ++i) order_[i] = schedule_ == Schedule::Reverse ? n_ - 1 - i : i;
  dynamicShared_ = nullptr;
  if (k.dynamicSharedBytes > 0)
    dynamicShared_ = ::operator new(k.dynamicSharedBytes, std::align_val_t(kDynamicSharedAlign));
  adoptThreadStack(sched_);
  tls.runner = this;
  tls.blockDim = k.block;
  tls.gridDim = k.grid;
  tls.dynamicShared = dynamicShared_;
}

inline void BlockRunner::end() noexcept {
  if (dynamicShared_) ::operator delete(dynamicShared_, std::align_val_t(kDynamicSharedAlign));
  dynamicShared_ = nullptr;
  tls = ThreadState{};
  kernel_ = nullptr;
  current_ = nullptr;
}

inline void BlockRunner::runBlock(uint64_t linearBlock) {
  const dim3 g = kernel_->grid;
  blockIdx_ = uint3{unsigned(linearBlock % g.x), unsigned(linearBlock / g.x % g.y),
                    unsigned(linearBlock / (uint64_t(g.x) * g.y))};
  tls.blockIdx = blockIdx_;
  for (unsigned i = 0; i < n_; ++i) {
    Fiber& f = fibers_[i];
    const StackPool::Stack& s = stacks_[i];
#if KVF_EMU_ASAN
    // Frames of fibers abandoned mid-call on an earlier use of this stack may have left poison.
    __asan_unpoison_memory_region(s.bottom, s.size);
#endif
    prepareContext(f.ctx, s.bottom, s.size, (i % 64) * 64, &BlockRunner::fiberMain, this);
    f.wait = Wait::Ready;
    f.started = false;
    f.rendezvous = -1;
  }
  for (WarpState& w : warps_) w.exited = 0, w.pendingUsed = 0;
  live_ = n_;
  exited_ = 0;
  barArrived_ = 0;
  aborting_ = false;
  error_ = nullptr;
  readyHead_ = readyCount_ = 0;
  if (schedule_ == Schedule::Shuffle) {  // a function of (seed, block) only: reproducible
    rng_ = (seed_ * 0x9E3779B97F4A7C15ull + linearBlock) | 1;
    for (unsigned i = 0; i < n_; ++i) order_[i] = i;
    shuffleOrder();
  }
  for (unsigned i : order_) push(i);

  Fiber* first = pop();
  enter(first);
  jump(sched_, first->ctx);
  if (aborting_) cancelAll();
  current_ = nullptr;
  tls.threadIdx = uint3{0, 0, 0};
  if (error_) {
    std::exception_ptr e = std::move(error_);
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

inline void BlockRunner::fiberMain(void* self) noexcept {
  contextStarted();
  auto* r = static_cast<BlockRunner*>(self);
  r->current_->started = true;
  try {
    r->kernel_->invoke(r->kernel_->ctx);
  } catch (const FiberCancel&) {
  } catch (...) {
    r->recordError(std::current_exception());
  }
  r->finishFiber();
}

inline void BlockRunner::finishFiber() {
  Fiber* self = current_;
  self->wait = Wait::Done;
  --live_;
  ++exited_;
  warps_[self->warp].exited |= 1u << self->lane;
  if (!aborting_) {
    // Whatever waits for this thread now waits forever.
    if (barArrived_ > 0) {
      recordError(std::make_exception_ptr(DeadlockError(where() + ": " + barrierReport(barSite_, nullptr))));
    } else if (const int p = warps_[self->warp].pendingNaming(self->lane); p >= 0) {
      recordError(std::make_exception_ptr(
          DeadlockError(where() + ": " + warpReport(self->warp, warps_[self->warp].pending[p], nullptr))));
    }
  }
  Context* to = &sched_;
  if (!aborting_ && live_ > 0) {
    if (readyCount_ > 0) {
      Fiber* next = pop();
      enter(next);
      to = &next->ctx;
    } else {
      recordError(std::make_exception_ptr(DeadlockError(where() + ": " + noProgressReport())));
    }
  }
  jumpFinal(self->ctx, *to);
}

inline void BlockRunner::suspend() {
  Fiber* self = current_;
  if (readyCount_ == 0) {  // self is blocked and so is every other live fiber
    recordError(std::make_exception_ptr(DeadlockError(where() + ": " + noProgressReport())));
    jump(self->ctx, sched_);
  } else {
    Fiber* next = pop();
    enter(next);
    jump(self->ctx, next->ctx);
  }
  if (aborting_) abandonedCall();
}

inline void BlockRunner::cancelAll() {
  for (Fiber& f : fibers_) {
    if (f.wait == Wait::Done) continue;
    if (!f.started) {
      f.wait = Wait::Done;
      continue;
    }
    enter(&f);
    jump(sched_, f.ctx);  // it throws FiberCancel from its wait, unwinds and switches back
  }
}

inline void BlockRunner::shuffleOrder() {
  for (unsigned i = n_; i > 1; --i) {
    rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;  // xorshift64
    std::swap(order_[i - 1], order_[unsigned(rng_ % i)]);
  }
}

inline unsigned BlockRunner::syncThreads(const Site& site, bool pred) {
  if (aborting_) {
    abandonedCall();
    return 0;
  }
  Fiber& self = *current_;
  self.site = site;
  if (exited_ > 0) throw DeadlockError(where() + ": " + barrierReport(site, &self));
  if (barArrived_ == 0) {
    barSite_ = site;
    barMismatch_ = false;
    barCount_ = 0;
  } else if (!site.sameCall(barSite_)) {
    barMismatch_ = true;
  }
  barCount_ += pred ? 1 : 0;
  if (++barArrived_ < n_) {
    self.wait = Wait::Barrier;
    suspend();
    return barResult_;
  }
  barArrived_ = 0;
  if (barMismatch_) throw DeadlockError(where() + ": " + barrierMismatchReport());
  barResult_ = barCount_;
  releaseBarrier();
  return barResult_;
}

inline void BlockRunner::releaseBarrier() {
  if (schedule_ == Schedule::Shuffle) shuffleOrder();
  for (unsigned i : order_) {
    Fiber& f = fibers_[i];
    if (f.wait == Wait::Barrier) {
      f.wait = Wait::Ready;
      push(i);
    }
  }
}

}  // namespace kvf::emu::detail

#include "kvforge/emu/scheduler/diagnostics.hpp"
#include "kvforge/emu/scheduler/warp_sync.hpp"
