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

template <class F>
std::vector<uint8_t> tileMapOf(int64_t Lq, int64_t Lk, int64_t tileQ, int64_t tileK, F mask) {
  const int64_t nQt = (Lq + tileQ - 1) / tileQ, nKt = (Lk + tileK - 1) / tileK;
  std::vector<uint8_t> map(size_t(nQt * nKt));
  for (int64_t qt = 0; qt < nQt; ++qt)
    for (int64_t kt = 0; kt < nKt; ++kt) {
      bool all = true, none = true;
      for (int64_t i = qt * tileQ; i < std::min(Lq, (qt + 1) * tileQ); ++i)
        for (int64_t j = kt * tileK; j < std::min(Lk, (kt + 1) * tileK); ++j) {
          const bool ok = mask(Lk - Lq + i, j);
          all &= ok, none &= !ok;
        }
      map[size_t(qt * nKt + kt)] = none ? 0 : all ? 2 : 1;
    }
  return map;
}

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
  std::vector<uint8_t> map;
  if (w > 0) map = tileMapOf(c.Lq, c.Lk, kern->tileQ, kern->tileK, [w](int64_t qp, int64_t k) { return qp - w < k && k <= qp; });
  else map = tileMapOf(c.Lq, c.Lk, kern->tileQ, kern->tileK, [](int64_t qp, int64_t k) { return k <= qp; });
  ForwardArgs a;
  a.q = q.data(), a.out = out.data(), a.lse = lse.data();
  a.B = B, a.Hq = Hq, a.Hkv = Hkv, a.Lq = c.Lq, a.Lk = c.Lk, a.D = D, a.Dv = Dv;
  a.scale = 1.0 / std::sqrt(double(D));
  a.qpos = qpos.data(), a.kpos = kpos.data(), a.tileMap = map.data();
  a.tileQ = kern->tileQ, a.tileK = kern->tileK, a.mapB = 1, a.mapH = 1, a.threads = threads;
  const double params[1] = {w};
  std::vector<double> ms;
  const int reps = c.reps * repMul;
  for (int r = -3; r < reps; ++r) {
    a.k = ks[size_t((r + 3) % c.caches)].data();
    a.v = vs[size_t((r + 3) % c.caches)].data();
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
      {"causal prefill L=1024", "causal_1a2b3c4d", 1024, 1024, 0, 15, 1},
      {"window 256 L=4096", "slidingWindow_5e6f7a8b", 4096, 4096, 256, 9, 1},
      {"decode 1x4096 (96 MiB of caches)", "causal_1a2b3c4d", 1, 4096, 0, 300, 12},
      // Not a target: one 8 MiB cache stays in L3, so this shows decode's compute-bound time.
      {"decode 1x4096 (one cache, L3)", "causal_1a2b3c4d", 1, 4096, 0, 300, 1},
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
