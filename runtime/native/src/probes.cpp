// Machine-limit probes (probes.hpp). Both run on the kernels' thread pool, so they measure what
// the kernels can get on the same threads.
#include "kvforge/probes.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "kvforge/cpu/scratch.hpp"
#include "kvforge/cpu/thread_pool.hpp"
#include "kvforge/cpu/vec16.hpp"
#include "kvforge/cpu/vec8.hpp"

namespace kvf {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Keeps results observable so the compiler cannot drop the loops that produce them.
std::atomic<float> gSink{0.0f};

}  // namespace

double probeFmaGflops(int threads, double seconds) {
  threads = std::clamp(threads, 1, cpu::kMaxThreads);
  // 12 independent accumulators cover FMA latency x throughput (4 cycles x 2 pipes = 8) with room
  // to spare; each round is 12 FMAs of kLanes lanes, the widest vectors the kernels were compiled
  // for (zmm with AVX-512, so the probe reports the limit the prefill micro-kernels run against).
  constexpr int kAcc = 12;
#if KVF_CPU_AVX512
  using Vec = cpu::Vec16;
  constexpr int kLanes = 16;
  const auto splat = [](float x) { return cpu::set16(x); };
#else
  using Vec = cpu::Vec8;
  constexpr int kLanes = 8;
  const auto splat = [](float x) { return cpu::set8(x); };
#endif
  constexpr int64_t kRoundsPerCheck = 1 << 16;
  std::vector<int64_t> rounds(static_cast<size_t>(threads), 0);
  std::vector<double> elapsed(static_cast<size_t>(threads), 0.0);
  cpu::parallelFor(threads, threads, [&](int64_t t, int) {
    using namespace cpu;
    Vec acc[kAcc];
    for (int i = 0; i < kAcc; ++i) acc[i] = splat(0.001f * float(i + 1));
    const Vec a = splat(0.999999f), b = splat(1e-7f);
    int64_t n = 0;
    const auto t0 = Clock::now();
    do {
      for (int64_t r = 0; r < kRoundsPerCheck; ++r) {
#pragma GCC unroll 12
        for (int i = 0; i < kAcc; ++i) acc[i] = fma(acc[i], a, b);
      }
      n += kRoundsPerCheck;
    } while (secondsSince(t0) < seconds);
    elapsed[static_cast<size_t>(t)] = secondsSince(t0);
    Vec s = acc[0];
    for (int i = 1; i < kAcc; ++i) s = add(s, acc[i]);
    gSink.store(hsum(s), std::memory_order_relaxed);
    rounds[static_cast<size_t>(t)] = n;
  });
  double total = 0;
  for (int t = 0; t < threads; ++t)
    total += double(rounds[size_t(t)]) * kAcc * kLanes * 2 / elapsed[size_t(t)];
  return total / 1e9;
}

double probeReadGBs(int threads, size_t bytes, double seconds) {
  threads = std::clamp(threads, 1, cpu::kMaxThreads);
  const size_t n = std::max<size_t>(bytes / sizeof(float), 64 * size_t(threads));
  cpu::Scratch<float> buf(n, "the read-bandwidth probe buffer", "probeRead");
  const size_t per = (n / size_t(threads)) & ~size_t(63);
  // First touch by the thread that later reads the slice.
  cpu::parallelFor(threads, threads, [&](int64_t t, int) {
    float* p = buf.data() + size_t(t) * per;
    for (size_t i = 0; i < per; ++i) p[i] = 1.0f;
  });
  return probeReadGBsOn(threads, buf.data(), n, seconds);
}

double probeReadGBsOn(int threads, const float* data, size_t n, double seconds) {
  threads = std::clamp(threads, 1, cpu::kMaxThreads);
  const size_t per = (n / size_t(threads)) & ~size_t(63);  // 64-float slices keep vectors whole
  if (per == 0) throw std::invalid_argument("probeRead: the buffer holds fewer than 64 floats per thread");
  std::vector<int64_t> passes(static_cast<size_t>(threads), 0);
  std::vector<double> elapsed(static_cast<size_t>(threads), 0.0);
  cpu::parallelFor(threads, threads, [&](int64_t t, int) {
    using namespace cpu;
    const float* p = data + size_t(t) * per;
    int64_t done = 0;
    const auto t0 = Clock::now();
    Vec8 s0 = zero8(), s1 = zero8(), s2 = zero8(), s3 = zero8();
    do {
      // Four independent adds per 128 bytes: the loop is bound by loads, not by the adds.
      for (size_t i = 0; i < per; i += 32) {
        s0 = add(s0, load8(p + i));
        s1 = add(s1, load8(p + i + 8));
        s2 = add(s2, load8(p + i + 16));
        s3 = add(s3, load8(p + i + 24));
      }
      ++done;
    } while (secondsSince(t0) < seconds);
    elapsed[size_t(t)] = secondsSince(t0);
    passes[size_t(t)] = done;
    gSink.store(hsum(add(add(s0, s1), add(s2, s3))), std::memory_order_relaxed);
  });
  double total = 0;
  for (int t = 0; t < threads; ++t) total += double(passes[size_t(t)]) * double(per * sizeof(float)) / elapsed[size_t(t)];
  return total / 1e9;
}

}  // namespace kvf
