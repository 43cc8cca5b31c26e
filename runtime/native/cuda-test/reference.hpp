// Float64 reference of one attention call in the terms of kernel interface v2 (semantics.md
// section 1, kvforge/attn_args.hpp): ragged query rows per sequence, per-(sequence, KV head) slots
// with their own positions and lengths. Written for clarity, on plain logical arrays (the test
// lays them out in device memory with strides of its own): the kernels are judged against it.
// Mask and score are double-precision callbacks, independent of the code under test.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

namespace kvf::cudatest {

using MaskFn = std::function<bool(int64_t b, int64_t h, int64_t q, int64_t k)>;
using ScoreFn = std::function<double(double s, int64_t b, int64_t h, int64_t q, int64_t k)>;  // empty = identity

struct Problem {
  int64_t B = 0, Hq = 0, Hkv = 0, D = 0, capacity = 0;
  double scale = 0;
  std::vector<int32_t> rows;      // [B] query rows of each sequence
  std::vector<int64_t> firstRow;  // [B] prefix sums of rows: row i of b is logical row firstRow[b] + i
  std::vector<float> q;           // [totalRows][Hq][D], f32 as the kernel reads it
  std::vector<int32_t> qpos;      // [totalRows]
  std::vector<int32_t> len;       // [B][Hkv] slots of (b, hk)
  std::vector<float> k, v;        // [B][Hkv][capacity][D]: the storage dtype's values, widened
  std::vector<int32_t> pos;       // [B][Hkv][capacity]
  int64_t totalRows() const { return firstRow.empty() ? 0 : firstRow.back() + rows.back(); }
  size_t slot(int64_t b, int64_t hk, int64_t s) const { return size_t((b * Hkv + hk) * capacity + s); }
};

// out [totalRows][Hq][D] and lse [totalRows][Hq] (natural log) in double. Row i of sequence b,
// head h attends over slots [0, len(b, h / G)) of its own sequence and KV head only; slots past
// len are never read. Optional (AttnArgs v3): bias [B][Hkv][capacity], added to the score after
// the score function; mass [B][Hkv][capacity] (if non-null), per slot the sum over the rows and
// the query heads of its KV head of the probability it received (NaN from a row whose scores are
// NaN, on the slots that row admits).
inline void referenceForward(const Problem& p, const MaskFn& mask, const ScoreFn& score, std::vector<double>& out,
                             std::vector<double>& lse, const std::vector<double>* bias = nullptr,
                             std::vector<double>* mass = nullptr) {
  if (mass) mass->assign(size_t(p.B * p.Hkv * p.capacity), 0.0);
  const int64_t rowsTotal = p.totalRows();
  out.assign(size_t(rowsTotal * p.Hq * p.D), 0.0);
  lse.assign(size_t(rowsTotal * p.Hq), -INFINITY);
  const int64_t G = p.Hq / p.Hkv;
  std::vector<double> s(size_t(p.capacity));
  std::vector<char> ok(size_t(p.capacity));
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t i = 0; i < p.rows[b]; ++i) {
      const int64_t row = p.firstRow[b] + i, qp = p.qpos[size_t(row)];
      for (int64_t h = 0; h < p.Hq; ++h) {
        const int64_t hk = h / G, n = p.len[size_t(b * p.Hkv + hk)];
        const float* q = &p.q[size_t((row * p.Hq + h) * p.D)];
        double m = -INFINITY;
        bool nan = false, any = false;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t kp = p.pos[p.slot(b, hk, j)];
          ok[j] = mask(b, h, qp, kp);
          if (!ok[j]) continue;
          const float* k = &p.k[p.slot(b, hk, j) * size_t(p.D)];
          double dot = 0;
          for (int64_t d = 0; d < p.D; ++d) dot += double(q[d]) * double(k[d]);
          double x = p.scale * dot;
          if (score) x = score(x, b, h, qp, kp);
          if (bias) x += (*bias)[p.slot(b, hk, j)];
          s[j] = x;
          nan |= std::isnan(x);
          if (x > m) m = x;
          any = true;
        }
        double* o = &out[size_t((row * p.Hq + h) * p.D)];
        if (!any || (!nan && m == -INFINITY)) continue;  // no admissible key or all -inf: 0 and -inf
        if (nan) {
          for (int64_t c = 0; c < p.D; ++c) o[c] = NAN;
          lse[size_t(row * p.Hq + h)] = NAN;
          if (mass)
            for (int64_t j = 0; j < n; ++j)
              if (ok[j]) (*mass)[p.slot(b, hk, j)] = NAN;
          continue;
        }
        double l = 0;
        for (int64_t j = 0; j < n; ++j) {
          if (!ok[j]) continue;
          const double w = std::exp(s[j] - m);
          // A key whose weight is exactly 0 (an admissible score of -inf) or below f32's smallest
          // normal relative to the row's maximum contributes nothing, even a NaN value: the
          // kernels' documented rule (kvforge/cpu/online_softmax.hpp). Everything else it would
          // have added is below 1e-38 of the result.
          if (w < 0x1p-126) continue;
          l += w;
          const float* v = &p.v[p.slot(b, hk, j) * size_t(p.D)];
          for (int64_t c = 0; c < p.D; ++c) o[c] += w * double(v[c]);
        }
        for (int64_t c = 0; c < p.D; ++c) o[c] /= l;
        lse[size_t(row * p.Hq + h)] = m + std::log(l);
        if (mass)
          for (int64_t j = 0; j < n; ++j) {
            const double w = ok[j] ? std::exp(s[j] - m) : 0.0;
            if (w >= 0x1p-126) (*mass)[p.slot(b, hk, j)] += w / l;
          }
      }
    }
}

}  // namespace kvf::cudatest
