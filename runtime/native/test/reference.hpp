// Float64 reference of one attention forward (semantics.md section 1), written for clarity:
// the kernels are judged against it. Mask and score are given as double-precision callbacks
// (not the variant's float ones), so the reference is independent of the code under test.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

namespace kvf::test {

using MaskFn = std::function<bool(int64_t b, int64_t h, int64_t q, int64_t k)>;
using ScoreFn = std::function<double(double s, int64_t b, int64_t h, int64_t q, int64_t k)>;  // empty = identity

struct Problem {
  int64_t B, Hq, Hkv, Lq, Lk, D, Dv;
  double scale;
  std::vector<float> q, k, v;
  std::vector<int32_t> qpos, kpos;  // always filled (defaults applied)
};

// out [B,Hq,Lq,Dv] and lse [B,Hq,Lq] in double. Optional (AttnArgs v3): bias [B,Hkv,Lk], added to
// the score after the score function; mass [B,Hkv,Lk] (if non-null), the sum over rows and the
// query heads of each KV head of every admissible key's probability.
inline void referenceForward(const Problem& p, const MaskFn& mask, const ScoreFn& score, std::vector<double>& out,
                             std::vector<double>& lse, const std::vector<double>* bias = nullptr,
                             std::vector<double>* mass = nullptr) {
  if (mass) mass->assign(static_cast<size_t>(p.B * p.Hkv * p.Lk), 0.0);
  out.assign(static_cast<size_t>(p.B * p.Hq * p.Lq * p.Dv), 0.0);
  lse.assign(static_cast<size_t>(p.B * p.Hq * p.Lq), -INFINITY);
  const int64_t G = p.Hq / p.Hkv;
  std::vector<double> s(static_cast<size_t>(p.Lk));
  std::vector<char> ok(static_cast<size_t>(p.Lk));
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t h = 0; h < p.Hq; ++h)
      for (int64_t i = 0; i < p.Lq; ++i) {
        const int64_t hk = h / G, row = (b * p.Hq + h) * p.Lq + i;
        const float* q = &p.q[static_cast<size_t>(row * p.D)];
        double m = -INFINITY;
        bool nan = false, any = false;
        for (int64_t j = 0; j < p.Lk; ++j) {
          ok[j] = mask(b, h, p.qpos[i], p.kpos[j]);
          if (!ok[j]) continue;
          const float* k = &p.k[static_cast<size_t>(((b * p.Hkv + hk) * p.Lk + j) * p.D)];
          double dot = 0;
          for (int64_t d = 0; d < p.D; ++d) dot += double(q[d]) * double(k[d]);
          double x = p.scale * dot;
          if (score) x = score(x, b, h, p.qpos[i], p.kpos[j]);
          if (bias) x += (*bias)[static_cast<size_t>((b * p.Hkv + hk) * p.Lk + j)];
          s[j] = x;
          nan |= std::isnan(x);
          if (x > m) m = x;
          any = true;
        }
        double* o = &out[static_cast<size_t>(row * p.Dv)];
        if (!any || (!nan && m == -INFINITY)) continue;  // no admissible key or all -inf: 0 and -inf
        if (nan) {
          for (int64_t c = 0; c < p.Dv; ++c) o[c] = NAN;
          lse[static_cast<size_t>(row)] = NAN;
          if (mass)
            for (int64_t j = 0; j < p.Lk; ++j)
              if (ok[j]) (*mass)[static_cast<size_t>((b * p.Hkv + hk) * p.Lk + j)] = NAN;
          continue;
        }
        double l = 0;
        for (int64_t j = 0; j < p.Lk; ++j) {
          if (!ok[j]) continue;
          const double w = std::exp(s[j] - m);
          // A key whose weight is exactly 0 (an admissible score of -inf) or below f32's
          // smallest normal relative to the row's maximum contributes nothing, even a NaN
          // value: the kernels' documented rule (kvforge/cpu/online_softmax.hpp). Everything
          // else it would have added is below 1e-38 of the result.
          if (w < 0x1p-126) continue;
          l += w;
          const float* v = &p.v[static_cast<size_t>(((b * p.Hkv + hk) * p.Lk + j) * p.Dv)];
          for (int64_t c = 0; c < p.Dv; ++c) o[c] += w * double(v[c]);
        }
        for (int64_t c = 0; c < p.Dv; ++c) o[c] /= l;
        lse[static_cast<size_t>(row)] = m + std::log(l);
        if (mass)
          for (int64_t j = 0; j < p.Lk; ++j) {
            const double w = ok[j] ? std::exp(s[j] - m) : 0.0;
            if (w >= 0x1p-126) (*mass)[static_cast<size_t>((b * p.Hkv + hk) * p.Lk + j)] += w / l;
          }
      }
}

// The exact tile map of a mask (every element evaluated), in the kernels' layout. perHead /
// perBatch choose mapH = Hq / mapB = B even for masks that ignore h / b, to test that indexing.
inline std::vector<uint8_t> exactTileMap(const Problem& p, const MaskFn& mask, int64_t tileQ, int64_t tileK,
                                         int64_t mapB, int64_t mapH) {
  const int64_t nQt = (p.Lq + tileQ - 1) / tileQ, nKt = (p.Lk + tileK - 1) / tileK;
  std::vector<uint8_t> map(static_cast<size_t>(mapB * mapH * nQt * nKt));
  for (int64_t bm = 0; bm < mapB; ++bm)
    for (int64_t hm = 0; hm < mapH; ++hm)
      for (int64_t qt = 0; qt < nQt; ++qt)
        for (int64_t kt = 0; kt < nKt; ++kt) {
          bool all = true, none = true;
          // A shared map (mapB or mapH == 1) must hold for every batch / head it stands for.
          for (int64_t b = (mapB == 1 ? 0 : bm); b < (mapB == 1 ? p.B : bm + 1); ++b)
            for (int64_t h = (mapH == 1 ? 0 : hm); h < (mapH == 1 ? p.Hq : hm + 1); ++h)
              for (int64_t i = qt * tileQ; i < std::min(p.Lq, (qt + 1) * tileQ); ++i)
                for (int64_t j = kt * tileK; j < std::min(p.Lk, (kt + 1) * tileK); ++j) {
                  const bool ok = mask(b, h, p.qpos[i], p.kpos[j]);
                  all &= ok;
                  none &= !ok;
                }
          map[static_cast<size_t>(((bm * mapH + hm) * nQt + qt) * nKt + kt)] = none ? 0 : all ? 2 : 1;
        }
  return map;
}

}  // namespace kvf::test
