// The model executor's dense kernels (kvforge/model/gemm.hpp, decoder.hpp) against float64, on
// random shapes covering every tile: rows 1..40 (each row count of a tile and several blocks),
// columns across partial panels and panel runs, K from 1 up; f32 and bf16 storage; accumulate or
// not; 1..3 threads. Also checks what the kernels promise beyond accuracy: results bitwise equal
// for every thread count and for a row computed alone or inside a larger batch. Built and run by
// check_gemm.sh in three instruction-set flavours (AVX-512 where the machine has it, AVX2, scalar).
//   check_gemm [seed]   prints "check_gemm: <n> cases passed (<simd>)" or the first failure, exit 1
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "kvforge/convert.hpp"
#include "kvforge/cpu/simd.hpp"
#include "kvforge/model/decoder.hpp"
#include "kvforge/model/gemm.hpp"

using namespace kvf;

namespace {

int fail(const char* what, long long c, int M, int N, int K, int dt, double got, double want) {
  std::printf("check_gemm FAILED (%s): case %lld, M=%d N=%d K=%d %s: got %.9g, want %.9g\n", what, c, M, N, K, dt ? "bf16" : "f32", got, want);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned seed = argc > 1 ? unsigned(std::strtoul(argv[1], nullptr, 10)) : 7u;
  std::mt19937 rng(seed);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::uniform_real_distribution<float> val(-1.0f, 1.0f);
  long long cases = 0;
  const int shapes[][3] = {{1, 1, 1}, {1, 16, 7}, {8, 32, 5}, {7, 17, 3}, {40, 300, 9}, {1, 129, 64}, {6, 255, 33}};
  for (int c = 0; c < 260; ++c) {
    int M, N, K;
    if (c < int(sizeof shapes / sizeof shapes[0])) M = shapes[c][0], N = shapes[c][1], K = shapes[c][2];
    else M = uni(1, 40), N = uni(1, c % 5 == 0 ? 400 : 70), K = uni(1, 48);
    const DType dt = c % 2 ? DType::BF16 : DType::F32;
    const bool acc = c % 3 == 0;
    std::vector<float> W(size_t(N) * K), X(size_t(M) * K), Y0(size_t(M) * N);
    for (float& w : W) w = val(rng);
    for (float& x : X) x = val(rng);
    for (float& y : Y0) y = val(rng);
    // What the kernel multiplies: the weights as stored.
    std::vector<double> Ws(W.size());
    for (size_t i = 0; i < W.size(); ++i) Ws[i] = dt == DType::BF16 ? bf16ToFloat(floatToBf16(W[i])) : W[i];
    const model::PackedMatrix P = model::packMatrix(W.data(), N, K, dt);
    std::vector<std::vector<float>> byThreads;
    for (int threads = 1; threads <= 3; ++threads) {
      std::vector<float> Y = Y0;
      model::gemm(X.data(), M, K, P, Y.data(), N, acc, threads);
      byThreads.push_back(Y);
    }
    for (int t = 1; t < 3; ++t)
      for (size_t i = 0; i < Y0.size(); ++i)
        if (byThreads[size_t(t)][i] != byThreads[0][i]) return fail("thread count changed a result", c, M, N, K, int(dt), byThreads[size_t(t)][i], byThreads[0][i]);
    const std::vector<float>& Y = byThreads[0];
    for (int m = 0; m < M; ++m) {
      for (int n = 0; n < N; ++n) {
        double want = acc ? Y0[size_t(m) * N + n] : 0.0, mag = std::fabs(want);
        for (int k = 0; k < K; ++k) want += double(X[size_t(m) * K + k]) * Ws[size_t(n) * K + k], mag += std::fabs(double(X[size_t(m) * K + k]) * Ws[size_t(n) * K + k]);
        const double got = Y[size_t(m) * N + n];
        if (!(std::fabs(got - want) <= 1e-6 * mag + 1e-30)) return fail("accuracy", c, M, N, K, int(dt), got, want);
      }
    }
    // A row alone (a tile of one row, the widest panel tiles) equals the same row in the batch.
    const int m = uni(0, M - 1);
    std::vector<float> one(Y0.begin() + m * N, Y0.begin() + (m + 1) * N);
    model::gemm(X.data() + size_t(m) * K, 1, K, P, one.data(), N, acc, 2);
    for (int n = 0; n < N; ++n)
      if (one[size_t(n)] != Y[size_t(m) * N + n]) return fail("a row alone differs from the batch", c, M, N, K, int(dt), one[size_t(n)], Y[size_t(m) * N + n]);
    ++cases;
  }
  // zeroFillScale: out * 1 / (1 + e^-lse), and 0 when lse = -inf.
  {
    float out[4] = {1, 2, 3, 4};
    const float lse[2] = {0.0f, -INFINITY};
    model::zeroFillScale(out, lse, 2, 2);
    if (out[0] != 0.5f || out[1] != 1.0f || out[2] != 0.0f || out[3] != 0.0f) return fail("zeroFillScale", -1, 2, 2, 0, 0, out[0], 0.5);
    ++cases;
  }
  std::printf("check_gemm: %lld cases passed (%s)\n", cases, cpu::simdName());
  return 0;
}
