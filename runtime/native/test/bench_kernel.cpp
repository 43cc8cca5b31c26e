// Kernel benchmark: median milliseconds of the reference cases of perf-notes.md (Hq=32, Hkv=4,
// D=64, 2 threads by default):
//   causal prefill L=1024 and sliding window 256 at L=4096 (B=1, f32);
//   decode, Lq=1 per sequence against Lk=4096 (or ragged lengths), K/V read in place through a
//   hand-built SlotView ([B][Hkv][Lk][D] caches, f32 or bf16 storage), B=1 and B=16. The caches
//   rotate over at least max(64 MiB, 2 x the L3 size) so decode reads DRAM, not L3; the "L3"
//   cases reuse one cache (the compute-bound floor, not a target).
// Each decode case prints the median ms, the GB/s of K/V bytes read (2 * sum of lengths * D *
// bytes) and that rate's share of the DRAM read probe run just before the case (same process,
// same threads, buffer of the rotation's size): ratios measured side by side, since absolute
// times move with the machine's load.
// "min" is the fastest call: on a machine shared with other work, a hint of the undisturbed time.
// Usage: bench_kernel [threads=2] [case substring] [reps multiplier]
//   (the substring "probe" runs only the probes; "decode" every decode case; "bf16", "B=16"...)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include <unistd.h>

#include "kvforge/convert.hpp"
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

const CpuKernel& kernelOrExit(const char* id) {
  const CpuKernel* kern = findCpuKernel(id);
  if (!kern) {
    std::printf("kernel %s not registered\n", id);
    std::exit(1);
  }
  return *kern;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double runCase(const Case& c, int threads, int repMul) {
  const CpuKernel& kern = kernelOrExit(c.kernel);
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
    kern.fn(a, params);
    const double t = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (r >= 0) ms.push_back(t);
  }
  return median(ms);
}

// ---- decode through a hand-built SlotView ----

struct DecodeCase {
  const char* name;
  DType dtype;
  int64_t B;
  bool ragged;  // lengths per (b, kv head) in [512, 4096], not multiples of 16
  bool l3;      // one cache, no rotation
  int64_t Lk = 4096;
};

// xorshift floats in [-2, 2): cheap enough to fill hundreds of MiB of caches.
struct Fill {
  uint64_t s = 0x9E3779B97F4A7C15ull;
  float next() {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return float(int32_t(s >> 40) - (1 << 23)) * (2.0f / float(1 << 23));
  }
};

size_t l3Bytes() {
  const long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return v > 0 ? size_t(v) : size_t(32) << 20;
}

// Bytes the decode rotation covers (and the DRAM probe reads): beyond any L3 we may share.
size_t rotationBytes() { return std::max(size_t(64) << 20, 2 * l3Bytes()); }

struct DecodeResult {
  double ms, gbs, share, probe, minMs;
};

DecodeResult runDecode(const DecodeCase& c, int threads, int repMul) {
  const CpuKernel& kern = kernelOrExit("causal_iv");
  const int64_t B = c.B, Hq = 32, Hkv = 4, D = 64, Dv = 64, cap = c.Lk;
  const int64_t el = dtypeBytes(c.dtype);
  std::vector<int32_t> len(size_t(B * Hkv));
  std::mt19937 rng(7);
  for (auto& L : len) L = c.ragged ? int32_t(512 + rng() % uint32_t(cap - 512 + 1)) : int32_t(cap);
  if (c.ragged) len[0] = int32_t(cap), len[1] = 512;  // the extremes are in every ragged batch
  int64_t slotsRead = 0;
  for (int32_t L : len) slotsRead += L;
  const double bytesRead = double(2 * slotsRead * D * el);
  const size_t cacheBytes = size_t(2 * B * Hkv * cap * D * el);  // K and V of one call
  const int copies = c.l3 ? 1 : int(std::max<size_t>(2, (rotationBytes() + cacheBytes - 1) / cacheBytes));
  const size_t perCopy = size_t(B * Hkv * cap * D);  // elements of K (or V) in one copy
  std::vector<float> kf, vf;
  std::vector<uint16_t> kh, vh;
  Fill fill;
  if (c.dtype == DType::F32) {
    kf.resize(perCopy * size_t(copies)), vf.resize(perCopy * size_t(copies));
    for (float& x : kf) x = fill.next();
    for (float& x : vf) x = fill.next();
  } else {
    kh.resize(perCopy * size_t(copies)), vh.resize(perCopy * size_t(copies));
    for (uint16_t& x : kh) x = floatToBf16(fill.next());
    for (uint16_t& x : vh) x = floatToBf16(fill.next());
  }
  // Queries: one row per sequence, packed [B][Hq][D]; at position Lk every key is admissible
  // (causal_iv classifies every tile FULL).
  std::vector<float> q(size_t(B * Hq * D)), out(size_t(B * Hq * Dv)), lse(size_t(B * Hq));
  for (float& x : q) x = fill.next();
  const size_t nB = static_cast<size_t>(B);
  std::vector<int32_t> rowStart(nB), rowCount(nB, 1), qpos(nB, int32_t(cap));
  for (int64_t b = 0; b < B; ++b) rowStart[size_t(b)] = int32_t(b);
  std::vector<int32_t> kpos(static_cast<size_t>(cap));
  for (int64_t j = 0; j < cap; ++j) kpos[size_t(j)] = int32_t(j);
  const int64_t nSum = cap / kSummaryTile;
  std::vector<int32_t> sumMin(size_t(B * Hkv * nSum)), sumMax(sumMin.size());
  for (int64_t bh = 0; bh < B * Hkv; ++bh)
    for (int64_t t = 0; t < nSum; ++t) {
      sumMin[size_t(bh * nSum + t)] = int32_t(t * kSummaryTile);
      sumMax[size_t(bh * nSum + t)] = int32_t(std::min<int64_t>((t + 1) * kSummaryTile, len[size_t(bh)]) - 1);
    }
  AttnArgs a;
  a.B = B, a.Hq = Hq, a.rowStart = rowStart.data(), a.rowCount = rowCount.data(), a.maxRows = 1, a.totalRows = B;
  a.q = q.data(), a.qStrideB = 0, a.qStrideH = D, a.qStrideRow = Hq * D;
  a.qpos = qpos.data(), a.qposStrideB = 0;
  a.out = out.data(), a.oStrideB = 0, a.oStrideH = Dv, a.oStrideRow = Hq * Dv;
  a.lse = lse.data(), a.lseStrideB = 0, a.lseStrideH = 1, a.lseStrideRow = Hq;
  SlotView& kv = a.kv;
  kv.dtype = c.dtype, kv.B = B, kv.Hkv = Hkv, kv.D = D, kv.Dv = Dv, kv.capacity = cap;
  kv.maxLen = *std::max_element(len.begin(), len.end());
  kv.kStrideB = Hkv * cap * D, kv.kStrideH = cap * D, kv.kStrideS = D;
  kv.vStrideB = Hkv * cap * Dv, kv.vStrideH = cap * Dv, kv.vStrideS = Dv;
  kv.pos = kpos.data(), kv.posStrideB = 0, kv.posStrideH = 0;
  kv.len = len.data(), kv.lenStrideB = Hkv, kv.lenStrideH = 1;
  kv.sumMin = sumMin.data(), kv.sumMax = sumMax.data(), kv.sumStrideB = Hkv * nSum, kv.sumStrideH = nSum;
  a.scale = 1.0 / std::sqrt(double(D)), a.threads = threads;

  DecodeResult res;
  res.probe = probeReadGBs(threads, rotationBytes(), 0.25);
  // About 0.4 s of calls, at least 15.
  const int reps = std::max(15, int(0.4e3 / (bytesRead / 10e9 * 1e3 + 0.05))) * repMul;
  std::vector<double> ms;
  for (int r = -3; r < reps; ++r) {
    const size_t at = size_t((r + 3) % copies) * perCopy;
    if (c.dtype == DType::F32) kv.k = kf.data() + at, kv.v = vf.data() + at;
    else kv.k = kh.data() + at, kv.v = vh.data() + at;
    const auto t0 = Clock::now();
    kern.fn(a, nullptr);
    const double t = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (r >= 0) ms.push_back(t);
  }
  res.ms = median(ms);
  res.minMs = *std::min_element(ms.begin(), ms.end());
  res.gbs = bytesRead / (res.ms * 1e-3) / 1e9;
  res.share = res.gbs / res.probe;
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const std::string filter = argc > 2 ? argv[2] : "";
  const int repMul = argc > 3 ? std::atoi(argv[3]) : 1;
  const Case cases[] = {
      {"causal prefill L=1024", "causal_iv", 1024, 1024, 0, 15, 1},
      {"window 256 L=4096", "slidingWindow_iv", 4096, 4096, 256, 9, 1},
  };
  const DecodeCase decodes[] = {
      {"decode f32  B=1  1x4096", DType::F32, 1, false, false},
      {"decode bf16 B=1  1x4096", DType::BF16, 1, false, false},
      {"decode f32  B=16 1x4096", DType::F32, 16, false, false},
      {"decode bf16 B=16 1x4096", DType::BF16, 16, false, false},
      {"decode f32  B=16 ragged 512..4096", DType::F32, 16, true, false},
      {"decode bf16 B=16 ragged 512..4096", DType::BF16, 16, true, false},
      // Not targets: one cache (8 / 4 MiB) stays in L2/L3, so these show the compute-bound time.
      {"decode f32  B=1  1x4096 L3", DType::F32, 1, false, true},
      {"decode bf16 B=1  1x4096 L3", DType::BF16, 1, false, true},
      // 2 MiB (f32) / 1 MiB (bf16) of caches: L2-resident on most machines, the compute floor.
      {"decode f32  B=1  1x1024 L2", DType::F32, 1, false, true, 1024},
      {"decode bf16 B=1  1x1024 L2", DType::BF16, 1, false, true, 1024},
  };
  const auto wanted = [&](const char* name) { return filter.empty() || std::string(name).find(filter) != std::string::npos; };
  if (filter == "probe" || filter.empty())
    std::printf("probes: FMA %.0f GFLOP/s, DRAM read %.1f GB/s (%zu MiB buffer), %d threads\n",
                probeFmaGflops(threads, 0.3), probeReadGBs(threads, rotationBytes(), 0.3), rotationBytes() >> 20,
                threads);
  for (const Case& c : cases)
    if (wanted(c.name)) std::printf("%-36s median %8.3f ms  (%d threads)\n", c.name, runCase(c, threads, repMul), threads);
  for (const DecodeCase& c : decodes)
    if (wanted(c.name)) {
      const DecodeResult r = runDecode(c, threads, repMul);
      std::printf("%-36s median %8.3f ms  %6.1f GB/s  share %.2f of DRAM %.1f GB/s  (%d threads; min %.3f ms)\n", c.name,
                  r.ms, r.gbs, r.share, r.probe, threads, r.minMs);
    }
  return 0;
}
