// The decoder's dense ops (kvforge/model/decoder.hpp).
#include "kvforge/model/decoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kvforge/cpu/exp2.hpp"
#include "kvforge/cpu/vec8.hpp"

namespace kvf::model {
namespace {

void rmsNormRows(const float* X, const float* w, int64_t rows, int64_t H, double eps, float* Y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = X + r * H;
    double ss = 0;
    for (int64_t i = 0; i < H; ++i) ss += double(x[i]) * x[i];
    const double inv = 1 / std::sqrt(ss / double(H) + eps);
    float* y = Y + r * H;
    for (int64_t i = 0; i < H; ++i) y[i] = float(x[i] * inv * w[i]);
  }
}

void ropeRows(float* X, int64_t rows, int64_t heads, int64_t dim, const int32_t* pos, const std::vector<double>& invFreq) {
  const int64_t half = dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < half; ++j) {
      const double a = double(pos[r]) * invFreq[size_t(j)], c = std::cos(a), s = std::sin(a);
      for (int64_t h = 0; h < heads; ++h) {
        float* x = X + (r * heads + h) * dim;
        const double x1 = x[j], x2 = x[j + half];
        x[j] = float(x1 * c - x2 * s);
        x[j + half] = float(x2 * c + x1 * s);
      }
    }
  }
}

// g[i] = silu(g[i]) * u[i] in f32, silu(g) = g / (1 + 2^(-g log2 e)) with the softmax's exp2
// (relative error about 2e-7), eight lanes at a time: a scalar double-precision std::exp per
// element was the MLP's only loop that did not vectorise.
void siluMul(float* g, const float* u, int64_t n) {
  constexpr float kLog2e = 1.44269504088896341f;
  const cpu::Vec8 one = cpu::set8(1.0f), nl = cpu::set8(-kLog2e);
  // Every element through the same vector code, the tail in a padded block: which elements of a
  // row land in the tail depends on the batch's row count, and the batch must not change a result.
  for (int64_t i = 0; i < n; i += 8) {
    const int m = int(std::min<int64_t>(8, n - i));
    alignas(32) float xs[8] = {}, d[8];
    std::memcpy(xs, g + i, size_t(m) * 4);
    cpu::store8(d, cpu::add(one, cpu::exp2(cpu::mul(cpu::load8(xs), nl))));
    for (int j = 0; j < m; ++j) g[i + j] = xs[j] / d[j] * u[i + j];
  }
}

void projectOrZero(const PackedMatrix* W, const float* x, int64_t rows, int64_t H, float* y, int64_t n, int threads) {
  if (W) gemm(x, rows, H, *W, y, n, false, threads);
  else std::fill(y, y + rows * n, 0.0f);
}

}  // namespace

void DecoderScratch::reserve(const DecoderShape& s, int64_t rows) {
  const size_t xs = size_t(rows * s.hidden), gs = size_t(rows * s.intermediate);
  if (x.size() < xs) x.resize(xs);
  if (g.size() < gs) g.resize(gs), u.resize(gs);
}

void prepareDecoder(Decoder& d) {
  d.invFreq.resize(size_t(d.s.D / 2));
  for (int64_t j = 0; j < d.s.D / 2; ++j) d.invFreq[size_t(j)] = std::pow(d.s.theta, double(-2 * j) / double(d.s.D));
}

void embedRows(const Decoder& d, const int32_t* tokens, int64_t rows, float* h) {
  const int64_t H = d.s.hidden;
  for (int64_t r = 0; r < rows; ++r) std::memcpy(h + r * H, d.embed.data() + int64_t(tokens[r]) * H, size_t(H) * 4);
}

void projectLayer(const Decoder& d, int64_t layer, const float* h, int64_t rows, const int32_t* pos, float* q, float* k, float* v,
                  DecoderScratch& s, int threads) {
  const DecoderShape& sh = d.s;
  const DecoderLayer& L = d.layers[size_t(layer)];
  s.reserve(sh, rows);
  rmsNormRows(h, L.inputNorm.data(), rows, sh.hidden, sh.eps, s.x.data());
  gemm(s.x.data(), rows, sh.hidden, *L.q, q, sh.Hq * sh.D, false, threads);
  ropeRows(q, rows, sh.Hq, sh.D, pos, d.invFreq);
  if (k) {
    projectOrZero(L.k, s.x.data(), rows, sh.hidden, k, sh.Hkv * sh.D, threads);
    if (L.k) ropeRows(k, rows, sh.Hkv, sh.D, pos, d.invFreq);
  }
  if (v) projectOrZero(L.v, s.x.data(), rows, sh.hidden, v, sh.Hkv * sh.Dv, threads);
}

void finishLayer(const Decoder& d, int64_t layer, float* h, const float* attn, int64_t rows, DecoderScratch& s, int threads) {
  const DecoderShape& sh = d.s;
  const DecoderLayer& L = d.layers[size_t(layer)];
  const int64_t H = sh.hidden, I = sh.intermediate;
  s.reserve(sh, rows);
  gemm(attn, rows, sh.Hq * sh.Dv, *L.o, h, H, true, threads);
  rmsNormRows(h, L.postNorm.data(), rows, H, sh.eps, s.x.data());
  gemm(s.x.data(), rows, H, *L.gate, s.g.data(), I, false, threads);
  gemm(s.x.data(), rows, H, *L.up, s.u.data(), I, false, threads);
  float* g = s.g.data();
  siluMul(g, s.u.data(), rows * I);
  gemm(g, rows, I, *L.down, h, H, true, threads);
}

void logitsRows(const Decoder& d, const float* h, int64_t rows, float* logits, DecoderScratch& s, int threads) {
  s.reserve(d.s, rows);
  rmsNormRows(h, d.norm.data(), rows, d.s.hidden, d.s.eps, s.x.data());
  gemm(s.x.data(), rows, d.s.hidden, *d.lmHead, logits, d.s.vocab, false, threads);
}

void zeroFillScale(float* out, const float* lse, int64_t rowHeads, int64_t Dv) {
  for (int64_t r = 0; r < rowHeads; ++r) {
    const double f = std::isinf(lse[r]) && lse[r] < 0 ? 0.0 : 1 / (1 + std::exp(-double(lse[r])));
    for (int64_t j = 0; j < Dv; ++j) out[r * Dv + j] = float(out[r * Dv + j] * f);
  }
}

int32_t argmaxRow(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return int32_t(best);
}

}  // namespace kvf::model
