// Correctness check of every example kernel against the float64 reference (reference.hpp) on
// awkward shapes: Lq = 1, Lq != Lk, odd lengths, D and Dv from 1 to 256, GQA ratios 1/2/4/8,
// explicit position maps with gaps, each kernel without classify() (every tile PARTIAL), with an
// exact one and with a loosened one (kernels/box_classify.hpp), NaN in masked keys/values,
// Lk = 0, Lq = 0, 1 to 3 threads. Calls go through the version-1 adapter (kvforge/v1_call.hpp),
// and (checkV2) through hand-built AttnArgs: f32, f16 and bf16 storage, ragged rows per sequence,
// a length and positions per (b, kv head), NaN in the slots past each length, and version 3's
// per-slot bias and attention-mass output.
// Exits non-zero on the first failure and prints how to reproduce it (the seed is fixed).
//
// Tolerance: |out - ref| <= kTol * (1 + |ref|) per element, same for lse; exact for empty rows
// (0 and -inf) and for the NaN pattern.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kvforge/convert.hpp"
#include "kvforge/cpu/exp2.hpp"
#include "kvforge/cpu/mass_tape.hpp"
#include "kvforge/registry.hpp"
#include "kvforge/v1_call.hpp"
#include "reference.hpp"

using namespace kvf;
using namespace kvf::test;

namespace {

constexpr double kTol = 1e-4;

struct Spec {
  std::string name, id;
  std::vector<double> params;
  MaskFn mask;   // reference mask (positions)
  ScoreFn score; // reference score, empty = identity
  bool hasMask;
};

std::vector<Spec> specs() {
  std::vector<Spec> s;
  auto causal = [](int64_t, int64_t, int64_t q, int64_t k) { return k <= q; };
  auto all = [](int64_t, int64_t, int64_t, int64_t) { return true; };
  s.push_back({"causal", "causal_1a2b3c4d", {}, causal, {}, true});
  s.push_back({"tinyTilesCausal", "tinyTilesCausal_6d5c4b3a", {}, causal, {}, true});
  for (int64_t w : {1, 5, 100}) {
    auto m = [w](int64_t, int64_t, int64_t q, int64_t k) { return q - w < k && k <= q; };
    s.push_back({"window" + std::to_string(w), "slidingWindow_5e6f7a8b", {double(w)}, m, {}, true});
  }
  for (double cap : {0.7, 5.0}) {
    auto sc = [cap](double x, int64_t, int64_t, int64_t, int64_t) { return cap * std::tanh(x / cap); };
    s.push_back({"softcap" + std::to_string(cap), "softcap_9c0d1e2f", {cap}, all, sc, false});
  }
  s.push_back({"noDiagonal", "noDiagonal_3a4b5c6d", {},
               [](int64_t, int64_t, int64_t q, int64_t k) { return k < q; }, {}, true});
  s.push_back({"dense", "dense_7e8f9a0b", {}, all, {}, false});
  for (int64_t w : {2, 40}) {
    auto m = [w](int64_t b, int64_t h, int64_t q, int64_t k) { return q - (1 + h % 3) * w < k && k <= q - b; };
    s.push_back({"batchHeadWindow" + std::to_string(w), "batchHeadWindow_0f1e2d3c", {double(w)}, m, {}, true});
  }
  auto alibi = [](double x, int64_t, int64_t h, int64_t q, int64_t k) { return x - 0.05 * double(h + 1) * double(q - k); };
  s.push_back({"alibiCausal", "alibiCausal_4b5a6978", {0.05}, causal, alibi, true});
  auto evenInf = [](double x, int64_t, int64_t, int64_t, int64_t k) { return k % 2 == 0 ? -INFINITY : x; };
  s.push_back({"evenKeysMinusInf", "evenKeysMinusInf_8c7b6a59", {}, causal, evenInf, true});
  return s;
}

struct Shape {
  int64_t B, Hq, Hkv, Lq, Lk, D, Dv;
};

const std::vector<Shape> kShapes = {
    {1, 1, 1, 1, 1, 1, 1},      {1, 2, 1, 1, 37, 3, 5},      {2, 4, 2, 3, 100, 16, 16},
    {1, 8, 1, 4, 300, 64, 64},  {1, 8, 8, 1, 513, 72, 40},   {1, 4, 4, 77, 77, 72, 40},
    {2, 8, 2, 130, 257, 128, 128}, {1, 16, 2, 65, 200, 256, 72}, {1, 2, 2, 100, 0, 64, 64},
    {1, 2, 1, 0, 50, 8, 8},     {1, 3, 3, 200, 150, 1, 3},   {1, 4, 1, 9, 500, 16, 24},
    {3, 2, 1, 33, 31, 7, 9},    {1, 32, 4, 70, 129, 64, 64}, {2, 6, 3, 5, 260, 33, 17},
    {1, 8, 2, 4, 1000, 64, 64}, {1, 4, 2, 8, 333, 40, 24},  {1, 16, 1, 7, 150, 32, 32},
    {1, 2, 1, 20, 45, 512, 1000}, {1, 2, 2, 2, 45, 300, 513},
    // Decode shapes of the lane kernels (qk_dot.hpp): 8 rows with an odd D (pair lanes with a
    // tail), 6 rows of G = 3, 4 rows with D % 4 = 2, 24 rows (a group of 16 and one of 8).
    {1, 8, 1, 1, 1100, 65, 64}, {2, 12, 4, 2, 301, 63, 31}, {1, 4, 1, 1, 77, 6, 70}, {1, 24, 3, 3, 211, 64, 48},
};

enum class Pos { Default, Gaps };
// Which registration of an example runs (kernels/box_classify.hpp): its id as written (no
// classify(): every tile PARTIAL), "_exact" or "_loose".
const char* const kClassifyKinds[] = {"", "_exact", "_loose"};

int64_t ceilDivI(int64_t a, int64_t b) { return (a + b - 1) / b; }

float randn(std::mt19937& rng) { return std::normal_distribution<float>(0.0f, 1.0f)(rng); }

Problem makeProblem(const Shape& sh, Pos pos, std::mt19937& rng) {
  Problem p{sh.B, sh.Hq, sh.Hkv, sh.Lq, sh.Lk, sh.D, sh.Dv, 1.0 / std::sqrt(double(sh.D)), {}, {}, {}, {}, {}};
  p.q.resize(size_t(sh.B * sh.Hq * sh.Lq * sh.D));
  p.k.resize(size_t(sh.B * sh.Hkv * sh.Lk * sh.D));
  p.v.resize(size_t(sh.B * sh.Hkv * sh.Lk * sh.Dv));
  for (auto* t : {&p.q, &p.k, &p.v})
    for (float& x : *t) x = randn(rng);
  // Sharper scores than N(0,1) inputs give, so softmax weights span many orders of magnitude.
  for (float& x : p.q) x *= 2.0f;
  p.qpos.resize(size_t(sh.Lq));
  p.kpos.resize(size_t(sh.Lk));
  if (pos == Pos::Default) {
    for (int64_t i = 0; i < sh.Lq; ++i) p.qpos[i] = int32_t(sh.Lk - sh.Lq + i);
    for (int64_t j = 0; j < sh.Lk; ++j) p.kpos[j] = int32_t(j);
  } else {
    // Keys with gaps (as after compression), queries at the newest positions plus a few jumps.
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

Run runKernel(const CpuKernel& kern, const Problem& p, const std::vector<double>& params, int threads) {
  Run r;
  r.out.assign(size_t(p.B * p.Hq * p.Lq * p.Dv), 12345.0f);  // poison: every element must be written
  r.lse.assign(size_t(p.B * p.Hq * p.Lq), 12345.0f);
  V1Layout x;
  x.q = p.q.data(), x.k = p.k.data(), x.v = p.v.data(), x.out = r.out.data(), x.lse = r.lse.data();
  x.B = p.B, x.Hq = p.Hq, x.Hkv = p.Hkv, x.Lq = p.Lq, x.Lk = p.Lk, x.D = p.D, x.Dv = p.Dv;
  x.scale = p.scale, x.qpos = p.qpos.data(), x.kpos = p.kpos.data(), x.threads = threads;
  const V1Call call(x);
  kern.fn(call.args(), params.data());
  return r;
}

int failures = 0;
double worstOut = 0, worstLse = 0;  // largest |got - want| / (1 + |want|) seen

bool close(double got, double want) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  if (std::isinf(want) || std::isinf(got)) return got == want;
  return std::fabs(got - want) <= kTol * (1.0 + std::fabs(want));
}

void compare(const std::string& what, const Problem& p, const Run& r, const std::vector<double>& out,
             const std::vector<double>& lse) {
  for (size_t i = 0; i < lse.size(); ++i) {
    const bool empty = lse[i] == -INFINITY;
    if (!close(r.lse[i], lse[i]) || (empty && r.lse[i] != -INFINITY)) {
      std::printf("FAIL %s: lse[%zu] = %.9g, reference %.9g\n", what.c_str(), i, r.lse[i], lse[i]);
      ++failures;
      return;
    }
    for (int64_t c = 0; c < p.Dv; ++c) {
      const size_t o = i * size_t(p.Dv) + size_t(c);
      const bool exactZero = empty && r.out[o] == 0.0f && !std::signbit(r.out[o]);
      if (!close(r.out[o], out[o]) || (empty && !exactZero)) {
        std::printf("FAIL %s: out[row %zu, col %lld] = %.9g, reference %.9g\n", what.c_str(), i, (long long)c,
                    r.out[o], out[o]);
        ++failures;
        return;
      }
      if (std::isfinite(out[o])) worstOut = std::max(worstOut, std::fabs(r.out[o] - out[o]) / (1.0 + std::fabs(out[o])));
    }
    if (std::isfinite(lse[i])) worstLse = std::max(worstLse, std::fabs(r.lse[i] - lse[i]) / (1.0 + std::fabs(lse[i])));
  }
}

// NaN stored in a key slot that some rows mask: rows that mask it must not change; rows
// that admit it must turn NaN (through K) exactly where the reference does.
void checkMaskedNaN(const Spec& s, const CpuKernel& kern, Problem p, const std::string& what, int threads) {
  if (p.Lk == 0 || p.Lq == 0) return;
  const int64_t slot = p.Lk - 1;  // newest slot: masked for earlier rows by causal-like masks
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t hk = 0; hk < p.Hkv; ++hk) {
      for (int64_t c = 0; c < p.Dv; ++c) p.v[size_t(((b * p.Hkv + hk) * p.Lk + slot) * p.Dv + c)] = NAN;
      p.k[size_t(((b * p.Hkv + hk) * p.Lk + slot) * p.D)] = NAN;
    }
  Run r = runKernel(kern, p, s.params, threads);
  std::vector<double> out, lse;
  referenceForward(p, s.mask, s.score, out, lse);
  compare(what + " [NaN in slot Lk-1]", p, r, out, lse);
}

// NaN in the value of slot 0 and in the key of slot Lk/2: every row that admits slot Lk/2 turns
// NaN entirely, every row that admits slot 0 turns NaN in its output (not its lse), and no
// other row changes (compared against the reference's NaN pattern).
void checkAdmittedNaN(const Spec& s, const CpuKernel& kern, Problem p, const std::string& what, int threads) {
  if (p.Lk == 0 || p.Lq == 0) return;
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t hk = 0; hk < p.Hkv; ++hk) {
      p.v[size_t(((b * p.Hkv + hk) * p.Lk) * p.Dv)] = NAN;
      p.k[size_t(((b * p.Hkv + hk) * p.Lk + p.Lk / 2) * p.D)] = NAN;
    }
  Run r = runKernel(kern, p, s.params, threads);
  std::vector<double> out, lse;
  referenceForward(p, s.mask, s.score, out, lse);
  compare(what + " [NaN in admitted slots]", p, r, out, lse);
}

// The vectorised exp2 against std::exp2: relative error, -inf -> 0, flush below -126, NaN.
void checkExp2() {
  using namespace kvf::cpu;
  double worst = 0;
  std::vector<float> xs;
  for (float x = -130.0f; x <= 0.0f; x += 0.0037f) xs.push_back(x);
  for (float x : {-126.0f, -125.9999f, -126.0001f, -1e30f, -INFINITY, NAN, 0.0f, -0.0f, 1.5f, 127.0f, 128.0f, INFINITY}) xs.push_back(x);
  while (xs.size() % 16) xs.push_back(0.0f);
  for (size_t i = 0; i < xs.size(); i += 8) {
    float got[8];
    store8(got, kvf::cpu::exp2(load8(&xs[i])));
#if KVF_CPU_AVX512
    // The 16-lane version (prefill and softmax use it): the same algorithm, checked lane by lane.
    if (i % 16 == 0) {
      float got16[16];
      store16(got16, kvf::cpu::exp2(load16(&xs[i])));
      for (int l = 0; l < 16; ++l) {
        const float want8 = kvf::cpu::exp2Scalar(xs[i + size_t(l)]);
        const bool same = (std::isnan(want8) && std::isnan(got16[l])) || got16[l] == want8 ||
                          std::fabs(double(got16[l]) - double(want8)) <= 4e-7 * std::fabs(double(want8));
        if (!same) {
          std::printf("FAIL exp2 (16 lanes) (%.9g) = %.9g, want %.9g\n", xs[i + size_t(l)], got16[l], want8);
          ++failures;
        }
      }
    }
#endif
    for (int l = 0; l < 8; ++l) {
      const float x = xs[i + size_t(l)];
      const double want = std::exp2(double(x));
      bool ok;
      if (std::isnan(x)) ok = std::isnan(got[l]);
      else if (x < -126.0f) ok = got[l] == 0.0f;
      else if (x >= 128.0f) ok = got[l] == INFINITY;
      else {
        const double rel = std::fabs(got[l] - want) / want;
        worst = std::max(worst, rel);
        ok = rel < 4e-7;
      }
      if (!ok) {
        std::printf("FAIL exp2(%.9g) = %.9g, want %.9g\n", x, got[l], want);
        ++failures;
      }
    }
  }
  std::printf("exp2: worst relative error %.3g on [-126, 0]\n", worst);
}

// A shape whose scratch cannot exist must throw (the glue rejects the promise), not crash.
// The pointers are never read: the failing allocation comes first.
void checkAllocationFailure(const CpuKernel& kern) {
  static float dummy[1];
  static int32_t zero[1] = {0}, rows[1] = {100}, len[1] = {1 << 20};
  AttnArgs a;
  a.q = dummy, a.out = a.lse = dummy, a.qpos = zero, a.rowStart = zero, a.rowCount = rows;
  a.B = 1 << 20, a.Hq = 1 << 10, a.maxRows = 100, a.totalRows = a.B * 100;
  a.kv.k = a.kv.v = dummy, a.kv.pos = zero, a.kv.len = len, a.kv.B = a.B, a.kv.Hkv = 1 << 10;
  a.kv.D = a.kv.Dv = 256, a.kv.maxLen = a.kv.capacity = 1 << 20;
  a.scale = 1, a.threads = 2;
  try {
    kern.fn(a, nullptr);
    std::printf("FAIL a forward needing petabytes of scratch returned normally\n");
    ++failures;
  } catch (const std::exception& e) {
    std::printf("allocation failure: '%s'\n", e.what());
  }
}


// ---- interface v2 directly: storage dtypes, ragged rows and per-head lengths ----
//
// AttnArgs built by hand (not through the v1 adapter): queries packed [totalRows][Hq][D] with a
// row count per sequence (0 included), K/V slots [B][Hkv][capacity][D] in f32, f16 or bf16 with
// a length per (b, kv head) (0 and non-multiples of 16 included) and positions per (b, kv head);
// slots past a head's length hold NaN, which no kernel may let through. The reference runs per
// (b, kv head) on the dtype-rounded K/V (what the kernel reads), with that head's slots only.

struct V2Shape {
  int64_t B, Hq, Hkv, D, Dv, cap;
  std::vector<int32_t> rows;  // per sequence
  std::vector<int32_t> lens;  // per (b, kv head); empty: random in [0, cap]
};

const std::vector<V2Shape> kV2Shapes = {
    {2, 8, 1, 64, 64, 300, {1, 1}, {300, 129}},
    {3, 32, 4, 64, 64, 200, {1, 0, 2}, {}},
    {2, 8, 2, 65, 33, 150, {3, 1}, {0, 17, 150, 16}},
    {1, 4, 4, 7, 9, 90, {4}, {1, 15, 33, 90}},
    {2, 6, 2, 128, 128, 260, {8, 5}, {}},
    {1, 16, 1, 64, 64, 3000, {1}, {2999}},  // B * Hkv = 1: the keys are split into chunks
    {2, 4, 2, 40, 24, 100, {12, 3}, {}},    // 12 rows: the prefill path
};

float roundTo(DType t, float x) {
  return t == DType::F32 ? x : t == DType::F16 ? f16ToFloat(floatToF16(x)) : bf16ToFloat(floatToBf16(x));
}

// extras: AttnArgs v3 as well, a per-slot bias in [0, ln 8) (what countBias adds for counts up
// to 8) and the attention-mass output, which adds to what the buffer holds (0.5 per live slot
// here) and leaves every slot past a head's length untouched.
void checkV2(const Spec& s, const CpuKernel& kern, const std::string& id, const V2Shape& sh, DType dt, bool gaps,
             std::mt19937& rng, int threads, int& cases, bool extras) {
  const int64_t B = sh.B, Hq = sh.Hq, Hkv = sh.Hkv, D = sh.D, Dv = sh.Dv, cap = sh.cap, G = Hq / Hkv;
  std::vector<int32_t> rowCount = sh.rows, rowStart(static_cast<size_t>(B)), len(static_cast<size_t>(B * Hkv));
  int32_t total = 0, maxRows = 0;
  for (int64_t b = 0; b < B; ++b) rowStart[size_t(b)] = total, total += rowCount[size_t(b)], maxRows = std::max(maxRows, rowCount[size_t(b)]);
  for (int64_t i = 0; i < B * Hkv; ++i)
    len[size_t(i)] = sh.lens.empty() ? int32_t(rng() % uint32_t(cap + 1)) : sh.lens[size_t(i)];
  // Slots: values rounded to the dtype; the reference reads the rounded floats.
  const size_t nK = size_t(B * Hkv * cap * D), nV = size_t(B * Hkv * cap * Dv);
  std::vector<float> kr(nK), vr(nV);
  for (int64_t bh = 0; bh < B * Hkv; ++bh)
    for (int64_t j = 0; j < cap; ++j) {
      const bool live = j < len[size_t(bh)];
      for (int64_t d = 0; d < D; ++d) kr[size_t((bh * cap + j) * D + d)] = live ? roundTo(dt, randn(rng)) : NAN;
      for (int64_t d = 0; d < Dv; ++d) vr[size_t((bh * cap + j) * Dv + d)] = live ? roundTo(dt, randn(rng)) : NAN;
    }
  std::vector<uint16_t> kh, vh;
  if (dt != DType::F32) {
    kh.resize(nK), vh.resize(nV);
    for (size_t i = 0; i < nK; ++i) kh[i] = dt == DType::F16 ? floatToF16(kr[i]) : floatToBf16(kr[i]);
    for (size_t i = 0; i < nV; ++i) vh[i] = dt == DType::F16 ? floatToF16(vr[i]) : floatToBf16(vr[i]);
  }
  // Positions per (b, kv head): the slot index, or increasing with gaps; the sequence's query rows
  // sit just past its newest key (plus jumps with gaps).
  std::vector<int32_t> pos(size_t(B * Hkv * cap)), qpos(size_t(std::max(total, 1)));
  for (int64_t bh = 0; bh < B * Hkv; ++bh) {
    int32_t at = 2;
    for (int64_t j = 0; j < cap; ++j) pos[size_t(bh * cap + j)] = gaps ? (at += 1 + int32_t(rng() % 3)) : int32_t(j);
  }
  for (int64_t b = 0; b < B; ++b) {
    int32_t newest = 0;
    for (int64_t hk = 0; hk < Hkv; ++hk) {
      const int32_t L = len[size_t(b * Hkv + hk)];
      if (L > 0) newest = std::max(newest, pos[size_t((b * Hkv + hk) * cap + L - 1)]);
    }
    int32_t qa = newest - rowCount[size_t(b)] + 1;
    for (int32_t i = 0; i < rowCount[size_t(b)]; ++i) qpos[size_t(rowStart[size_t(b)] + i)] = gaps ? (qa += 1 + int32_t(rng() % 2)) : qa + i;
  }
  const int64_t nSum = ceilDivI(cap, kSummaryTile);
  std::vector<int32_t> sumMin(size_t(B * Hkv * nSum), INT32_MAX), sumMax(sumMin.size(), INT32_MIN);
  for (int64_t bh = 0; bh < B * Hkv; ++bh)
    for (int64_t j = 0; j < len[size_t(bh)]; ++j) {
      const size_t t = size_t(bh * nSum + j / kSummaryTile);
      sumMin[t] = std::min(sumMin[t], pos[size_t(bh * cap + j)]);
      sumMax[t] = std::max(sumMax[t], pos[size_t(bh * cap + j)]);
    }
  std::vector<float> q(size_t(std::max(total, 1)) * size_t(Hq * D));
  for (float& x : q) x = 2.0f * randn(rng);
  std::vector<float> out(size_t(std::max(total, 1)) * size_t(Hq * Dv), 12345.0f), lse(size_t(std::max(total, 1)) * size_t(Hq), 12345.0f);

  AttnArgs a;
  a.B = B, a.Hq = Hq, a.rowStart = rowStart.data(), a.rowCount = rowCount.data(), a.maxRows = maxRows, a.totalRows = total;
  a.q = q.data(), a.qStrideB = 0, a.qStrideH = D, a.qStrideRow = Hq * D;
  a.qpos = qpos.data(), a.qposStrideB = 0;
  a.out = out.data(), a.oStrideB = 0, a.oStrideH = Dv, a.oStrideRow = Hq * Dv;
  a.lse = lse.data(), a.lseStrideB = 0, a.lseStrideH = 1, a.lseStrideRow = Hq;
  SlotView& kv = a.kv;
  kv.k = dt == DType::F32 ? static_cast<const void*>(kr.data()) : kh.data();
  kv.v = dt == DType::F32 ? static_cast<const void*>(vr.data()) : vh.data();
  kv.dtype = dt, kv.B = B, kv.Hkv = Hkv, kv.D = D, kv.Dv = Dv, kv.capacity = cap;
  kv.maxLen = *std::max_element(len.begin(), len.end());
  kv.kStrideB = Hkv * cap * D, kv.kStrideH = cap * D, kv.kStrideS = D;
  kv.vStrideB = Hkv * cap * Dv, kv.vStrideH = cap * Dv, kv.vStrideS = Dv;
  kv.pos = pos.data(), kv.posStrideB = Hkv * cap, kv.posStrideH = cap;
  kv.len = len.data(), kv.lenStrideB = Hkv, kv.lenStrideH = 1;
  kv.sumMin = sumMin.data(), kv.sumMax = sumMax.data(), kv.sumStrideB = Hkv * nSum, kv.sumStrideH = nSum;
  a.scale = 1.0 / std::sqrt(double(D)), a.threads = threads;
  std::vector<float> bias, mass;
  if (extras) {
    bias.resize(size_t(B * Hkv * cap)), mass.resize(bias.size());
    for (int64_t bh = 0; bh < B * Hkv; ++bh)
      for (int64_t j = 0; j < cap; ++j) {
        const bool live = j < len[size_t(bh)];
        bias[size_t(bh * cap + j)] = live ? std::log(1.0f + float(rng() % 8)) : NAN;
        mass[size_t(bh * cap + j)] = live ? 0.5f : 777.0f;
      }
    a.bias = bias.data(), a.biasStrideB = Hkv * cap, a.biasStrideH = cap;
    a.mass = mass.data(), a.massStrideB = Hkv * cap, a.massStrideH = cap;
  }
  kern.fn(a, s.params.data());

  for (int64_t b = 0; b < B; ++b)
    for (int64_t hk = 0; hk < Hkv; ++hk) {
      const int64_t n = rowCount[size_t(b)], L = len[size_t(b * Hkv + hk)];
      // The (b, hk) sub-problem: B = 1, G query heads, one kv head of L slots.
      Problem p{1, G, 1, n, L, D, Dv, a.scale, {}, {}, {}, {}, {}};
      p.q.resize(size_t(G * n * D)), p.k.resize(size_t(L * D)), p.v.resize(size_t(L * Dv));
      p.qpos.resize(size_t(n)), p.kpos.resize(size_t(L));
      Run r;
      r.out.resize(size_t(G * n * Dv)), r.lse.resize(size_t(G * n));
      for (int64_t g = 0; g < G; ++g)
        for (int64_t i = 0; i < n; ++i) {
          const int64_t row = rowStart[size_t(b)] + i, h = hk * G + g;
          std::copy_n(&q[size_t((row * Hq + h) * D)], D, &p.q[size_t((g * n + i) * D)]);
          std::copy_n(&out[size_t((row * Hq + h) * Dv)], Dv, &r.out[size_t((g * n + i) * Dv)]);
          r.lse[size_t(g * n + i)] = lse[size_t(row * Hq + h)];
        }
      for (int64_t i = 0; i < n; ++i) p.qpos[size_t(i)] = qpos[size_t(rowStart[size_t(b)] + i)];
      const int64_t bh = b * Hkv + hk;
      std::copy_n(&kr[size_t(bh * cap * D)], L * D, p.k.data());
      std::copy_n(&vr[size_t(bh * cap * Dv)], L * Dv, p.v.data());
      std::copy_n(&pos[size_t(bh * cap)], L, p.kpos.data());
      const MaskFn mask = [&](int64_t, int64_t h, int64_t qq, int64_t kk) { return s.mask(b, hk * G + h, qq, kk); };
      ScoreFn score;
      if (s.score)
        score = [&](double x, int64_t, int64_t h, int64_t qq, int64_t kk) { return s.score(x, b, hk * G + h, qq, kk); };
      std::vector<double> ro, rl, rb, rm;
      if (extras) rb.assign(bias.begin() + bh * cap, bias.begin() + bh * cap + L);
      referenceForward(p, mask, score, ro, rl, extras ? &rb : nullptr, extras ? &rm : nullptr);
      char what[256];
      std::snprintf(what, sizeof what, "v2 %s %s%s B=%lld Hq=%lld Hkv=%lld D=%lld Dv=%lld cap=%lld pos=%s threads=%d: (b=%lld, hk=%lld) rows=%lld len=%lld",
                    id.c_str(), dtypeName(dt), !extras ? "" : kvf::cpu::massTapeLimit() > 0 ? " mass=tape" : " mass=recompute", (long long)B, (long long)Hq, (long long)Hkv, (long long)D, (long long)Dv,
                    (long long)cap, gaps ? "gaps" : "default", threads, (long long)b, (long long)hk, (long long)n, (long long)L);
      compare(what, p, r, ro, rl);
      if (extras) {
        for (int64_t j = 0; j < cap; ++j) {
          const float got = mass[size_t(bh * cap + j)];
          const double want = j < L ? 0.5 + rm[size_t(j)] : 777.0;
          const bool ok = std::isnan(want) ? std::isnan(got) : close(got, want);
          if (!ok) {
            std::printf("FAIL %s: mass of slot %lld is %.9g, expected %.9g\n", what, (long long)j, double(got), want);
            ++failures;
            return;
          }
        }
      }
      if (failures > 0) return;
    }
  ++cases;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned seed = argc > 1 ? unsigned(std::strtoul(argv[1], nullptr, 10)) : 20240611u;
  std::mt19937 rng(seed);
  int cases = 0, combo = 0;
  checkExp2();
  checkAllocationFailure(*findCpuKernel("dense_7e8f9a0b"));
  if (failures > 0) return 1;
  for (const Spec& s : specs()) {
    for (const char* kind : kClassifyKinds)
      if (!findCpuKernel(s.id + kind)) {
        std::printf("FAIL kernel %s%s is not registered\n", s.id.c_str(), kind);
        return 1;
      }
    const CpuKernel* kern = findCpuKernel(s.id + "_exact");
    for (const Shape& sh : kShapes)
      for (Pos pos : {Pos::Default, Pos::Gaps}) {
        const Problem p = makeProblem(sh, pos, rng);
        std::vector<double> out, lse;
        referenceForward(p, s.mask, s.score, out, lse);
        for (const char* kind : kClassifyKinds) {
          if (*kind && !s.hasMask) continue;
          const int threads = 1 + (combo++ % 3);
          char what[256];
          std::snprintf(what, sizeof what,
                        "%s%s B=%lld Hq=%lld Hkv=%lld Lq=%lld Lk=%lld D=%lld Dv=%lld pos=%s threads=%d seed=%u",
                        s.id.c_str(), kind, (long long)sh.B, (long long)sh.Hq, (long long)sh.Hkv, (long long)sh.Lq,
                        (long long)sh.Lk, (long long)sh.D, (long long)sh.Dv, pos == Pos::Default ? "default" : "gaps",
                        threads, seed);
          const Run r = runKernel(*findCpuKernel(s.id + kind), p, s.params, threads);
          compare(what, p, r, out, lse);
          ++cases;
        }
        if (s.hasMask && pos == Pos::Default) checkMaskedNaN(s, *kern, p, s.name + " " + std::to_string(sh.Lq) + "x" + std::to_string(sh.Lk), 2);
        checkAdmittedNaN(s, *kern, p, s.name + " " + std::to_string(sh.Lq) + "x" + std::to_string(sh.Lk), 1 + combo % 3);
        if (failures > 0) return 1;
      }
  }
  int v2cases = 0;
  for (const Spec& s : specs())
    for (const char* kind : kClassifyKinds) {
      if (*kind && !s.hasMask) continue;
      const std::string id = s.id + kind;
      for (const V2Shape& sh : kV2Shapes)
        for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
          checkV2(s, *findCpuKernel(id), id, sh, dt, (combo & 1) != 0, rng, 1 + (combo % 3), v2cases, false);
          // Half the extras cases with the tapes off: the attention mass by the recompute pass.
          kvf::cpu::massTapeLimit() = (combo & 4) ? 0 : kvf::cpu::kMassTapeFloats;
          checkV2(s, *findCpuKernel(id), id, sh, dt, (combo & 2) != 0, rng, 1 + (combo % 2), v2cases, true);
          kvf::cpu::massTapeLimit() = kvf::cpu::kMassTapeFloats;
          ++combo;
          if (failures > 0) return 1;
        }
    }
  cases += v2cases;
  std::printf("check_kernel: %d cases passed (seed %u); worst error / (1 + |ref|): out %.3g, lse %.3g (tolerance %g)\n",
              cases, seed, worstOut, worstLse, kTol);
  return 0;
}
