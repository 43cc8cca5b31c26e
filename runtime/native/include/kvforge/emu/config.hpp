// Process-wide emulator settings. Defaults come from the environment, read once:
//   KVF_EMU_THREADS=n          OS threads per launch for defaultThreads() (default: all cores)
//   KVF_EMU_SMS=n              multiprocessors the emulated device reports (smCount(), through
//                              cudaDeviceGetAttribute; default: defaultThreads()). Kernels that
//                              size their grids by the SM count can so be run at a GPU's count.
//   KVF_EMU_STACK_KB=n         stack per emulated CUDA thread (default 64, 256 under ASan)
//   KVF_EMU_SCHEDULE=forward | reverse | shuffle[:seed]
//                              the order in which a block's threads start and leave a barrier.
//                              Results of a race-free kernel never depend on it, so running a
//                              test under `reverse` and `shuffle` exposes missing barriers.
// Setters take effect for launches that start afterwards.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace kvf::emu {

enum class Schedule : int { Forward = 0, Reverse = 1, Shuffle = 2 };

namespace detail {

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kDefaultStackBytes = 256 * 1024;  // instrumented frames are several times larger
#else
constexpr size_t kDefaultStackBytes = 64 * 1024;
#endif
constexpr size_t kMinStackBytes = 16 * 1024;
constexpr int kMaxOsThreads = 256;

struct Settings {
  std::atomic<size_t> stackBytes{kDefaultStackBytes};
  std::atomic<int> threads{0};  // 0: hardware concurrency
  std::atomic<int> sms{0};      // 0: defaultThreads()
  std::atomic<int> schedule{int(Schedule::Forward)};
  std::atomic<uint64_t> seed{1};

  Settings() {
    if (const char* s = std::getenv("KVF_EMU_THREADS")) threads = std::max(0, std::atoi(s));
    if (const char* s = std::getenv("KVF_EMU_SMS")) sms = std::max(0, std::atoi(s));
    if (const char* s = std::getenv("KVF_EMU_STACK_KB"))
      stackBytes = std::max<size_t>(kMinStackBytes, size_t(std::strtoull(s, nullptr, 10)) * 1024);
    if (const char* s = std::getenv("KVF_EMU_SCHEDULE")) {
      if (std::strcmp(s, "reverse") == 0) schedule = int(Schedule::Reverse);
      if (std::strncmp(s, "shuffle", 7) == 0) {
        schedule = int(Schedule::Shuffle);
        if (s[7] == ':') seed = std::strtoull(s + 8, nullptr, 10);
      }
    }
  }
};

inline Settings& settings() {
  static Settings s;
  return s;
}

}  // namespace detail

// Stack bytes of every emulated CUDA thread (rounded up to whole pages when allocated). A kernel
// that overflows it hits a guard page (SIGSEGV), it is not reported as an exception.
inline void setFiberStackBytes(size_t bytes) {
  detail::settings().stackBytes = std::max(detail::kMinStackBytes, bytes);
}
inline size_t fiberStackBytes() { return detail::settings().stackBytes; }

// OS threads KVF_LAUNCH spreads the blocks over; n <= 0 restores the default (all cores).
inline void setDefaultThreads(int n) { detail::settings().threads = std::max(0, n); }
inline int defaultThreads() {
  const int n = detail::settings().threads;
  if (n > 0) return std::min(n, detail::kMaxOsThreads);
  return std::max(1, std::min(int(std::thread::hardware_concurrency()), detail::kMaxOsThreads));
}

// Multiprocessors the emulated device reports; n <= 0 restores the default (defaultThreads()).
inline void setSmCount(int n) { detail::settings().sms = std::max(0, n); }
inline int smCount() {
  const int n = detail::settings().sms;
  return n > 0 ? n : defaultThreads();
}

inline void setSchedule(Schedule s, uint64_t seed = 1) {
  detail::settings().schedule = int(s);
  detail::settings().seed = seed;
}
inline Schedule schedule() { return Schedule(detail::settings().schedule.load()); }

}  // namespace kvf::emu
