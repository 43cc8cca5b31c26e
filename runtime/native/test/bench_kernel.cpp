// Kernel benchmark: median milliseconds of the three reference cases of perf-notes.md
// (B=1, Hq=32, Hkv=4, D=64, f32):
//   causal prefill L=1024, sliding window 256 at L=4096, decode Lq=1 vs Lk=4096 (the KV caches
//   rotate over >= 64 MiB so decode reads DRAM, not L3).
// Usage: bench_kernel [threads=2] [case substring] [reps multiplier]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kvforge/probes.hpp"
#include "kvforge/registry.hpp"
#include "kvforge/v1_call.hpp"

using namespace kvf;
using Clock = std::chrono::steady_clock;

namespace {

struct Case {
  const char* name;
  const char* kernel;
  int64_t Lq, Lk;
  double window;  // params[0] of the window kernel
  int reps;
  int caches;  // distinct K/V buffers rotated through
};

double runCase(const Case& c, int threads, int repMul) {
  const CpuKernel* kern = findCpuKernel(c.kernel);
  if (!kern) {
    std::printf("kernel %s not registered\n", c.kernel);
    std::exit(1);
  }
  const int64_t B = 1, Hq = 32, Hkv = 4, D = 64, Dv = 64;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> q(size_t(B * Hq * c.Lq * D)), out(size_t(B * Hq * c.Lq * Dv)), lse(size_t(B * Hq * c.Lq));
  for (float& x : q) x = nd(rng);
  const size_t kvN = size_t(B * Hkv * c.Lk * D);
  std::vector<std::vector<float>> ks(size_t(c.caches)), vs(size_t(c.caches));
  for (int i = 0; i < c.caches; ++i) {
    ks[size_t(i)].resize(kvN);
    vs[size_t(i)].resize(kvN);
    for (float& x : ks[size_t(i)]) x = nd(rng);
    for (float& x : vs[size_t(i)]) x = nd(rng);
  }
  std::vector<int32_t> qpos(size_t(c.Lq)), kpos(size_t(c.Lk));
  for (int64_t i = 0; i < c.Lq; ++i) qpos[size_t(i)] = int32_t(c.Lk - c.Lq + i);
  for (int64_t j = 0; j < c.Lk; ++j) kpos[size_t(j)] = int32_t(j);
  const double w = c.window;
  V1Layout x;
  x.q = q.data(), x.out = out.data(), x.lse = lse.data();
  x.B = B, x.Hq = Hq, x.Hkv = Hkv, x.Lq = c.Lq, x.Lk = c.Lk, x.D = D, x.Dv = Dv;
  x.scale = 1.0 / std::sqrt(double(D));
  x.qpos = qpos.data(), x.kpos = kpos.data(), x.threads = threads;
  x.k = ks[0].data(), x.v = vs[0].data();
  const V1Call call(x);
  AttnArgs a = call.args();
  const double params[1] = {w};
  std::vector<double> ms;
  const int reps = c.reps * repMul;
  for (int r = -3; r < reps; ++r) {
    a.kv.k = ks[size_t((r + 3) % c.caches)].data();
    a.kv.v = vs[size_t((r + 3) % c.caches)].data();
    const auto t0 = Clock::now();
    kern->fn(a, params);
    const double t = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (r >= 0) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const std::string filter = argc > 2 ? argv[2] : "";
  const int repMul = argc > 3 ? std::atoi(argv[3]) : 1;
  const Case cases[] = {
      {"causal prefill L=1024", "causal_iv", 1024, 1024, 0, 15, 1},
      {"window 256 L=4096", "slidingWindow_iv", 4096, 4096, 256, 9, 1},
      {"decode 1x4096 (96 MiB of caches)", "causal_iv", 1, 4096, 0, 300, 12},
      // Not a target: one 8 MiB cache stays in L3, so this shows decode's compute-bound time.
      {"decode 1x4096 (one cache, L3)", "causal_iv", 1, 4096, 0, 300, 1},
  };
  if (filter == "probe" || filter.empty())
    std::printf("probes: FMA %.0f GFLOP/s, DRAM read %.1f GB/s (%d threads)\n", probeFmaGflops(threads, 0.3),
                probeReadGBs(threads, size_t(256) << 20, 0.3), threads);
  for (const Case& c : cases) {
    if (!filter.empty() && std::string(c.name).find(filter) == std::string::npos) continue;
    std::printf("%-36s median %8.3f ms  (%d threads)\n", c.name, runCase(c, threads, repMul), threads);
  }
  return 0;
}
