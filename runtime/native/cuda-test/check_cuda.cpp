// Correctness check of the hand-written CUDA variants in kernels/*.cu against the float64
// reference (../test/reference.hpp), for one backend:
//   check_cuda [backend] [seed]      backend "cuda-emu" (default) or "cuda" (a real GPU)
// The kernels are linked in as separate translation units (compiled by nvcc, or as host C++
// against the emulator) and found through the CUDA registry, so this file is the same for both.
//
// Cases: Lq = 1, Lq != Lk, odd lengths, GQA ratios 1/2/4/8, explicit position maps with gaps,
// shared / per-(b, h) / all-PARTIAL / loosened tile maps, NaN in a masked slot and in admitted
// slots, Lk = 0, Lq = 0, prefill and decode (with and without key splits, one and several row
// slices). Inputs are rounded to the kernel's storage dtype BEFORE the reference sees them, so the
// tolerance measures the kernel, not the rounding.
// Tolerance (one table, by storage dtype): |out - ref| <= tol * max|ref out| of the case, and
// |lse - ref| <= tol * (1 + |ref|); empty rows exactly (+0, -inf); the NaN pattern exactly.
// Exits non-zero on the first failure, printing the case and seed.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kvforge/cuda/registry.hpp"
#include "../test/reference.hpp"

using namespace kvf;
using namespace kvf::test;

namespace {

const std::map<std::string, double> kTolerance = {{"f32", 1e-4}, {"f16", 2e-3}, {"bf16", 2e-2}};

struct Spec {
  std::string id;
  std::vector<double> params;
  MaskFn mask;
  ScoreFn score;  // empty = identity
  bool hasMask;
};

std::vector<Spec> specs() {
  std::vector<Spec> s;
  auto all = [](int64_t, int64_t, int64_t, int64_t) { return true; };
  s.push_back({"causal_bf16_d128", {}, [](int64_t, int64_t, int64_t q, int64_t k) { return k <= q; }, {}, true});
  for (double cap : {0.7, 5.0}) {
    auto sc = [cap](double x, int64_t, int64_t, int64_t, int64_t) { return cap * std::tanh(x / cap); };
    s.push_back({"softcap_f16_d64", {cap}, all, sc, false});
  }
  for (int64_t w : {3, 90}) {
    const double slope = 0.05;
    auto m = [w](int64_t, int64_t, int64_t q, int64_t k) { return k < 2 || (q - w < k && k <= q); };
    auto sc = [slope](double x, int64_t, int64_t h, int64_t q, int64_t k) {
      return x - double(float(slope)) * double(h + 1) * double(q - k);
    };
    s.push_back({"window_alibi_f32_d256", {double(w), slope}, m, sc, true});
  }
  for (int64_t w : {2, 40}) {
    auto m = [w](int64_t b, int64_t h, int64_t q, int64_t k) {
      return q - (1 + (h / 2) % 3) * w < k && k <= q - b;
    };
    s.push_back({"headwindow_f32_d64", {double(w)}, m, {}, true});
  }
  return s;
}

struct Shape {
  int64_t B, Hq, Hkv, Lq, Lk;
};

// Decode is taken when G * Lq <= 32, in slices of 4 rows (G * Lq <= 4) or 16 (D = 64) / 8 rows.
const std::vector<Shape> kShapes = {
    {1, 1, 1, 1, 1},     {1, 2, 1, 1, 37},    {2, 4, 2, 3, 100},   {1, 8, 1, 4, 300},  {1, 8, 8, 1, 513},
    {1, 4, 4, 77, 77},   {2, 8, 2, 130, 257}, {1, 4, 1, 65, 200},  {1, 2, 2, 100, 0},  {1, 2, 1, 0, 50},
    {3, 2, 1, 33, 31},   {1, 8, 2, 5, 700},   {1, 16, 2, 2, 1000}, {2, 6, 3, 5, 260},  {1, 4, 4, 200, 150},
    {1, 4, 1, 1, 2100},  {1, 2, 1, 9, 64},    {1, 2, 2, 24, 90},
};

float randn(std::mt19937& rng) { return std::normal_distribution<float>(0.0f, 1.0f)(rng); }

float roundTo(const std::string& dtype, float x) {
  if (dtype == "f16") return __half2float(__float2half_rn(x));
  if (dtype == "bf16") return __bfloat162float(__float2bfloat16_rn(x));
  return x;
}

enum class Pos { Default, Gaps };
enum class MapKind { Shared, PerBatchHead, AllPartial, Loosened };

Problem makeProblem(const Shape& sh, int64_t D, Pos pos, const std::string& dtype, std::mt19937& rng) {
  Problem p{sh.B, sh.Hq, sh.Hkv, sh.Lq, sh.Lk, D, D, 1.0 / std::sqrt(double(D)), {}, {}, {}, {}, {}};
  p.q.resize(size_t(sh.B * sh.Hq * sh.Lq * D));
  p.k.resize(size_t(sh.B * sh.Hkv * sh.Lk * D));
  p.v.resize(size_t(sh.B * sh.Hkv * sh.Lk * D));
  for (auto* t : {&p.q, &p.k, &p.v})
    for (float& x : *t) x = randn(rng);
  for (float& x : p.q) x *= 2.0f;  // sharper scores: weights over many orders of magnitude
  for (auto* t : {&p.q, &p.k, &p.v})
    for (float& x : *t) x = roundTo(dtype, x);
  p.qpos.resize(size_t(sh.Lq));
  p.kpos.resize(size_t(sh.Lk));
  if (pos == Pos::Default) {
    for (int64_t i = 0; i < sh.Lq; ++i) p.qpos[i] = int32_t(sh.Lk - sh.Lq + i);
    for (int64_t j = 0; j < sh.Lk; ++j) p.kpos[j] = int32_t(j);
  } else {
    int32_t at = 3;
    for (int64_t j = 0; j < sh.Lk; ++j) p.kpos[j] = at += 1 + int32_t(rng() % 3);
    int32_t qa = at - int32_t(sh.Lq);
    for (int64_t i = 0; i < sh.Lq; ++i) p.qpos[i] = qa += 1 + int32_t(rng() % 2);
  }
  return p;
}

struct Run {
  std::vector<float> out, lse;
};

Run runKernel(const CudaKernel& kern, const Problem& p, const std::vector<uint8_t>& map, int64_t mapB, int64_t mapH,
              const std::vector<double>& params) {
  Run r;
  r.out.assign(size_t(p.B * p.Hq * p.Lq * p.Dv), 12345.0f);  // poison: every element must be written
  r.lse.assign(size_t(p.B * p.Hq * p.Lq), 12345.0f);
  ForwardArgs a;
  a.q = p.q.data(), a.k = p.k.data(), a.v = p.v.data(), a.out = r.out.data(), a.lse = r.lse.data();
  a.B = p.B, a.Hq = p.Hq, a.Hkv = p.Hkv, a.Lq = p.Lq, a.Lk = p.Lk, a.D = p.D, a.Dv = p.Dv;
  a.scale = p.scale, a.qpos = p.qpos.data(), a.kpos = p.kpos.data();
  a.tileMap = map.data(), a.tileQ = kern.tileQ, a.tileK = kern.tileK, a.mapB = mapB, a.mapH = mapH;
  kern.fn(a, params.data());
  return r;
}

int failures = 0;
std::map<std::string, double> worstOut, worstLse;  // by dtype: largest error / scale seen

bool nanOrInfMatch(double got, double want, bool& decided) {
  decided = std::isnan(want) || std::isnan(got) || std::isinf(want) || std::isinf(got);
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  return got == want;
}

// mayBeNaN (optional, per row): the row admits a NaN value whose weight underflows (see
// checkAdmittedNaN); its output may then be NaN as well as the reference's.
void compare(const std::string& what, const std::string& dtype, const Problem& p, const Run& r,
             const std::vector<double>& out, const std::vector<double>& lse,
             const std::vector<char>& mayBeNaN = {}) {
  const double tol = kTolerance.at(dtype);
  double outScale = 0;
  for (double x : out)
    if (std::isfinite(x)) outScale = std::max(outScale, std::fabs(x));
  outScale = std::max(outScale, 1e-30);
  for (size_t i = 0; i < lse.size(); ++i) {
    const bool empty = lse[i] == -INFINITY;
    bool decided;
    bool ok = nanOrInfMatch(r.lse[i], lse[i], decided);
    const double lerr = decided ? 0 : std::fabs(r.lse[i] - lse[i]) / (1 + std::fabs(lse[i]));
    if (!decided) ok = lerr <= tol;
    if (!ok) {
      std::printf("FAIL %s: lse[%zu] = %.9g, reference %.9g\n", what.c_str(), i, r.lse[i], lse[i]);
      ++failures;
      return;
    }
    worstLse[dtype] = std::max(worstLse[dtype], lerr);
    for (int64_t c = 0; c < p.Dv; ++c) {
      const size_t o = i * size_t(p.Dv) + size_t(c);
      if (empty) {
        ok = r.out[o] == 0.0f && !std::signbit(r.out[o]);
      } else {
        ok = nanOrInfMatch(r.out[o], out[o], decided);
        if (!mayBeNaN.empty() && mayBeNaN[i] && std::isnan(r.out[o])) ok = decided = true;
        if (!decided) {
          const double err = std::fabs(r.out[o] - out[o]) / outScale;
          ok = err <= tol;
          worstOut[dtype] = std::max(worstOut[dtype], err);
        }
      }
      if (!ok) {
        std::printf("FAIL %s: out[row %zu, col %lld] = %.9g, reference %.9g (scale %.3g)\n", what.c_str(), i,
                    (long long)c, r.out[o], out[o], outScale);
        ++failures;
        return;
      }
    }
  }
}

// NaN in the newest slot (masked for earlier rows by causal-like masks): rows that mask it are
// unchanged, rows that admit it turn NaN exactly where the reference does.
void checkMaskedNaN(const Spec& s, const CudaKernel& kern, Problem p, const std::string& what) {
  if (p.Lk == 0 || p.Lq == 0) return;
  const int64_t slot = p.Lk - 1;
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t hk = 0; hk < p.Hkv; ++hk) {
      for (int64_t c = 0; c < p.Dv; ++c) p.v[size_t(((b * p.Hkv + hk) * p.Lk + slot) * p.Dv + c)] = NAN;
      p.k[size_t(((b * p.Hkv + hk) * p.Lk + slot) * p.D)] = NAN;
    }
  const std::vector<uint8_t> map = exactTileMap(p, s.mask, kern.tileQ, kern.tileK, 1, 1);
  const Run r = runKernel(kern, p, map, 1, 1, s.params);
  std::vector<double> out, lse;
  referenceForward(p, s.mask, s.score, out, lse);
  compare(what + " [NaN in slot Lk-1]", kern.storage, p, r, out, lse);
}

// NaN in the value of slot 0 and in the key of slot Lk/2: exactly the rows admitting them change.
// One latitude: the reference drops a key whose weight is below 2^-126 of the row's FINAL maximum
// (the kernels' documented underflow rule), but an online softmax compares with the RUNNING
// maximum, so a NaN value met early, while the maximum was still low, has already entered the
// accumulator (the CPU kernels do the same). Rows that admit slot 0 may therefore output NaN.
void checkAdmittedNaN(const Spec& s, const CudaKernel& kern, Problem p, const std::string& what) {
  if (p.Lk == 0 || p.Lq == 0) return;
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t hk = 0; hk < p.Hkv; ++hk) {
      p.v[size_t(((b * p.Hkv + hk) * p.Lk) * p.Dv)] = NAN;
      p.k[size_t(((b * p.Hkv + hk) * p.Lk + p.Lk / 2) * p.D)] = NAN;
    }
  const std::vector<uint8_t> map = exactTileMap(p, s.mask, kern.tileQ, kern.tileK, 1, 1);
  const Run r = runKernel(kern, p, map, 1, 1, s.params);
  std::vector<double> out, lse;
  referenceForward(p, s.mask, s.score, out, lse);
  std::vector<char> mayBeNaN(lse.size());
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t h = 0; h < p.Hq; ++h)
      for (int64_t i = 0; i < p.Lq; ++i) mayBeNaN[size_t((b * p.Hq + h) * p.Lq + i)] = s.mask(b, h, p.qpos[i], p.kpos[0]);
  compare(what + " [NaN in admitted slots]", kern.storage, p, r, out, lse, mayBeNaN);
}

// A head dim other than the compiled one is rejected with a message naming both.
void checkBadHeadDim(const CudaKernel& kern) {
  ForwardArgs a;
  a.B = a.Hq = a.Hkv = a.Lq = a.Lk = 1;
  a.D = a.Dv = kern.headDim + 32;
  a.tileQ = kern.tileQ, a.tileK = kern.tileK;
  try {
    kern.fn(a, nullptr);
    std::printf("FAIL %s accepted D = %lld\n", kern.id.c_str(), (long long)a.D);
    ++failures;
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).find(std::to_string(a.D)) == std::string::npos) {
      std::printf("FAIL %s: bad-D message does not name the value: %s\n", kern.id.c_str(), e.what());
      ++failures;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string backend = argc > 1 ? argv[1] : "cuda-emu";
  const unsigned seed = argc > 2 ? unsigned(std::strtoul(argv[2], nullptr, 10)) : 20240611u;
  std::mt19937 rng(seed);
  // KVF_CHECK_SMALL=1: no map kinds on the big shapes (they take most of the emulation time);
  // what `npm test` runs (specs/native-harness.test.ts), on a machine shared with the rest of it.
  const char* smallEnv = std::getenv("KVF_CHECK_SMALL");
  const bool smallOnly = smallEnv && std::string(smallEnv) == "1";
  const auto t0 = std::chrono::steady_clock::now();
  int cases = 0;
  for (const Spec& s : specs()) {
    const CudaKernel* kern = findCudaKernel(backend.c_str(), s.id);
    if (!kern) {
      std::printf("FAIL kernel %s is not registered for backend %s\n", s.id.c_str(), backend.c_str());
      return 1;
    }
    checkBadHeadDim(*kern);
    int combo = 0;
    for (const Shape& sh : kShapes)
      for (Pos pos : {Pos::Default, Pos::Gaps}) {
        const Problem p = makeProblem(sh, kern->headDim, pos, kern->storage, rng);
        std::vector<double> out, lse;
        referenceForward(p, s.mask, s.score, out, lse);
        for (MapKind mk : {MapKind::Shared, MapKind::PerBatchHead, MapKind::AllPartial, MapKind::Loosened}) {
          if ((mk == MapKind::AllPartial || mk == MapKind::Loosened) && !s.hasMask) continue;
          // Every map kind on small shapes, two of them (rotating) on the big ones: emulation time.
          const bool big = sh.B * sh.Hq * sh.Lq * sh.Lk > 100000;
          if (big && (smallOnly || (combo++ % 2) != 0)) continue;
          int64_t mapB = 1, mapH = 1;
          if (mk == MapKind::PerBatchHead || mk == MapKind::Loosened) mapB = p.B, mapH = p.Hq;
          std::vector<uint8_t> map = exactTileMap(p, s.mask, kern->tileQ, kern->tileK, mapB, mapH);
          if (mk == MapKind::AllPartial)
            for (uint8_t& c : map) c = 1;
          if (mk == MapKind::Loosened)
            for (uint8_t& c : map)
              if (rng() % 3 == 0) c = 1;
          char what[320];
          std::snprintf(what, sizeof what,
                        "%s%s B=%lld Hq=%lld Hkv=%lld Lq=%lld Lk=%lld pos=%s map=%d backend=%s seed=%u", s.id.c_str(),
                        s.params.empty() ? "" : ("(" + std::to_string(s.params[0]) + ")").c_str(), (long long)sh.B,
                        (long long)sh.Hq, (long long)sh.Hkv, (long long)sh.Lq, (long long)sh.Lk,
                        pos == Pos::Default ? "default" : "gaps", int(mk), backend.c_str(), seed);
          const Run r = runKernel(*kern, p, map, mapB, mapH, s.params);
          compare(what, kern->storage, p, r, out, lse);
          ++cases;
          if (failures > 0) return 1;
        }
        const std::string tag = s.id + " " + std::to_string(sh.Lq) + "x" + std::to_string(sh.Lk) + " seed " +
                                std::to_string(seed);
        if (s.hasMask && pos == Pos::Default) checkMaskedNaN(s, *kern, p, tag), ++cases;
        if (pos == Pos::Default) checkAdmittedNaN(s, *kern, p, tag), ++cases;
        if (failures > 0) return 1;
      }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("check_cuda %s: %d cases passed in %.1f s (seed %u); kernels registered: cuda-emu %zu, cuda %zu\n",
              backend.c_str(), cases, secs, seed, listCudaKernels("cuda-emu").size(), listCudaKernels("cuda").size());
  for (const auto& [dtype, tol] : kTolerance)
    if (worstOut.count(dtype))
      std::printf("  %-4s worst error: out %.3g of max|out|, lse %.3g of 1+|lse| (tolerance %g)\n", dtype.c_str(),
                  worstOut[dtype], worstLse[dtype], tol);
  return 0;
}
