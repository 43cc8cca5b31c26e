// Launching an emulated kernel: the grid's blocks over OS threads.
//
//   kvf::emu::launch(name, kernel, grid, block, dynamicSharedBytes, osThreads, args...)
// runs kernel(args...) once per CUDA thread of every block and returns when all have finished
// (launches are synchronous; there are no streams). The arguments are converted to the kernel's
// parameter types once, as a GPU launch copies them, and every CUDA thread gets its own copy.
//
// Blocks are handed out in linear order (x fastest) from one atomic counter to `osThreads` OS
// threads: the caller and persistent pool workers. Each OS thread runs one block at a time to
// completion, so static __shared__ storage (thread_local) is per block. After a block fails,
// blocks not yet started are skipped and launch rethrows the first error: DeadlockError,
// KernelError, or whatever the kernel threw. An invalid configuration throws LaunchError
// before any block runs.
//
// KVF_LAUNCH(kernel, grid, block, smemBytes, stream, args...) is the emulator's spelling of
// kernel<<<grid, block, smemBytes, stream>>>(args...): stream is evaluated and ignored, the OS
// thread count is defaultThreads() (config.hpp), and #kernel names the kernel in messages.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#include "kvforge/emu/config.hpp"
#include "kvforge/emu/errors.hpp"
#include "kvforge/emu/scheduler/block.hpp"

namespace kvf::emu {
namespace detail {

// Shared-memory limits of the targets (sm_80: 163 KiB, sm_90: 227 KiB per block). A launch may
// use up to 48 KiB of dynamic shared memory unless cudaFuncSetAttribute raised the kernel's
// cudaFuncAttributeMaxDynamicSharedMemorySize; the emulator checks the larger target's limit.
constexpr size_t kDefaultDynamicSharedLimit = 48 * 1024;
constexpr size_t kMaxDynamicSharedBytes = 227 * 1024;

// cudaFuncSetAttribute(MaxDynamicSharedMemorySize) records, by kernel address.
struct FuncAttributes {
  std::mutex m;
  std::map<const void*, size_t> maxDynamicShared;
};
inline FuncAttributes& funcAttributes() {
  static FuncAttributes a;
  return a;
}
inline size_t dynamicSharedLimit(const void* fn) {
  FuncAttributes& a = funcAttributes();
  std::lock_guard<std::mutex> lock(a.m);
  const auto it = a.maxDynamicShared.find(fn);
  return it == a.maxDynamicShared.end() ? kDefaultDynamicSharedLimit
                                        : std::max(kDefaultDynamicSharedLimit, it->second);
}

inline std::string dimText(const dim3& d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

inline void validateLaunch(const KernelDesc& k) {
  const auto fail = [&](const std::string& why) {
    throw LaunchError(std::string("kernel '") + k.name + "': invalid launch: " + why);
  };
  const dim3 b = k.block, g = k.grid;
  if (b.x == 0 || b.y == 0 || b.z == 0) fail("blockDim " + dimText(b) + " has a zero extent");
  if (g.x == 0 || g.y == 0 || g.z == 0) fail("gridDim " + dimText(g) + " has a zero extent");
  if (b.x > 1024 || b.y > 1024 || b.z > 64) fail("blockDim " + dimText(b) + " exceeds the limits (1024,1024,64)");
  if (uint64_t(b.x) * b.y * b.z > 1024)
    fail("blockDim " + dimText(b) + " has " + std::to_string(uint64_t(b.x) * b.y * b.z) +
         " threads, more than 1024");
  if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
    fail("gridDim " + dimText(g) + " exceeds the limits (2147483647,65535,65535)");
  const size_t smem = k.dynamicSharedBytes;
  if (smem > kMaxDynamicSharedBytes)
    fail(std::to_string(smem) + " bytes of dynamic shared memory, more than the " +
         std::to_string(kMaxDynamicSharedBytes) + " a block can have");
  if (smem > kDefaultDynamicSharedLimit && smem > dynamicSharedLimit(k.fn))
    fail(std::to_string(smem) + " bytes of dynamic shared memory, more than " +
         std::to_string(dynamicSharedLimit(k.fn)) +
         "; call cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, " + std::to_string(smem) +
         ") before the launch (on a GPU it fails with cudaErrorInvalidValue)");
}

// Persistent OS threads for launches (their stack pools and shared memory outlive a launch).
// Grows whenever a task finds no idle worker, so tasks never wait for each other.
class WorkerPool {
 public:
  // Throws (std::system_error) when no thread can be started; the task is then not queued.
  void submit(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(m_);
    if (idle_ < tasks_.size() + 1) threads_.emplace_back([this] { loop(); });  // waits for m_
    tasks_.push_back(std::move(task));
    cv_.notify_one();
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
      --idle_;
      if (tasks_.empty()) return;
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stop_ = false;
};

inline WorkerPool& workerPool() {
  static WorkerPool pool;
  return pool;
}

struct GridRun {
  GridRun(const KernelDesc& k, uint64_t n) : kernel(k), blocks(n) {}
  const KernelDesc& kernel;
  uint64_t blocks;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex m;
  std::condition_variable done;
  int helpersLeft = 0;
  std::exception_ptr error;

  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(m);
    if (!error) error = std::move(e);
    stop = true;
  }
};

// One OS thread's share of a launch: blocks from the counter until none is left or one failed.
inline void runBlocks(GridRun& g) noexcept {
  BlockRunner& runner = threadRunner();
  try {
    runner.begin(g.kernel);
    struct End {
      BlockRunner& r;
      ~End() { r.end(); }
    } end{runner};
    while (!g.stop.load(std::memory_order_relaxed)) {
      const uint64_t b = g.next.fetch_add(1, std::memory_order_relaxed);
      if (b >= g.blocks) break;
      runner.runBlock(b);
    }
  } catch (...) {
    g.fail(std::current_exception());
  }
}

inline void runGrid(const KernelDesc& k, int osThreads) {
  if (tls.runner != nullptr)
    throw LaunchError(std::string("kernel '") + k.name +
                      "': launched from inside an emulated kernel (dynamic parallelism is not supported)");
  validateLaunch(k);
  const uint64_t blocks = uint64_t(k.grid.x) * k.grid.y * k.grid.z;
  const int threads = int(std::min<uint64_t>(blocks, uint64_t(std::clamp(osThreads, 1, kMaxOsThreads))));
  GridRun g(k, blocks);
  g.helpersLeft = threads - 1;
  int submitted = 0;
  try {
    for (; submitted < threads - 1; ++submitted) {
      workerPool().submit([&g] {
        runBlocks(g);
        std::lock_guard<std::mutex> lock(g.m);
        if (--g.helpersLeft == 0) g.done.notify_all();
      });
    }
  } catch (const std::system_error&) {
    // No more OS threads to be had: the blocks are shared among those that started.
    std::lock_guard<std::mutex> lock(g.m);
    g.helpersLeft -= threads - 1 - submitted;
  }
  runBlocks(g);
  {
    std::unique_lock<std::mutex> lock(g.m);
    g.done.wait(lock, [&g] { return g.helpersLeft == 0; });
  }
  if (g.error) std::rethrow_exception(g.error);
}

}  // namespace detail

// Run kernel(args...) over grid x block CUDA threads on `osThreads` OS threads (see above).
template <class... P, class... A>
void launch(const char* kernelName, void (*kernel)(P...), dim3 grid, dim3 block, size_t dynamicSharedBytes,
            int osThreads, A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "kvf::emu::launch: argument count differs from the kernel's parameters");
  if (kernel == nullptr) throw LaunchError(std::string("kernel '") + kernelName + "': invalid launch: null kernel");
  using Args = std::tuple<std::decay_t<P>...>;
  struct Call {
    void (*fn)(P...);
    Args args;
  };
  const Call call{kernel, Args(std::forward<A>(args)...)};
  const detail::KernelDesc desc{kernelName,
                                [](const void* ctx) {
                                  const Call& c = *static_cast<const Call*>(ctx);
                                  std::apply(c.fn, c.args);
                                },
                                &call,
                                reinterpret_cast<const void*>(kernel),
                                grid,
                                block,
                                dynamicSharedBytes};
  detail::runGrid(desc, osThreads);
}

}  // namespace kvf::emu

#define KVF_LAUNCH(kernel, grid, block, smemBytes, stream, ...)                                              \
  ((void)(stream), ::kvf::emu::launch(#kernel, kernel, (grid), (block), size_t(smemBytes),                 \
                                      ::kvf::emu::defaultThreads(), ##__VA_ARGS__))
