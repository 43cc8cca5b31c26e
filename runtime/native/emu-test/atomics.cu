// Atomics from many blocks on two OS threads give exact results.
#include "compat.cuh"

struct Totals {
  int i;
  unsigned u;
  unsigned long long ull;
  float f;
  double d;
  int maxI, minI;
  unsigned maxU, minU;
  int casCounter;
  unsigned wrap;
  int exch;
};

__global__ void accumulate(Totals* t) {
  const int g = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&t->i, 1);
  atomicAdd(&t->u, 2u);
  atomicAdd(&t->ull, 1ull << 33);
  atomicAdd(&t->f, 1.0f);  // exact up to 2^24
  atomicAdd(&t->d, 0.5);
  atomicMax(&t->maxI, g - 1000);
  atomicMin(&t->minI, g - 1000);
  atomicMax(&t->maxU, unsigned(g) * 3u);
  atomicMin(&t->minU, unsigned(g) + 5u);
  // An increment built from compare-and-swap.
  int old = t->casCounter, seen;
  while ((seen = atomicCAS(&t->casCounter, old, old + 1)) != old) old = seen;
  atomicInc(&t->wrap, 9u);  // counts modulo 10
  atomicExch(&t->exch, g);
}

__global__ void halfAdd(__half* h, __nv_bfloat16* b) {
  atomicAdd(h, __float2half(1.0f));
  atomicAdd(b, __float2bfloat16(1.0f));
}

#if defined(KVF_CUDA_EMULATION)
EMU_TEST(atomics_exact_over_two_os_threads) {
  const int blocks = 300, threads = 128, n = blocks * threads;
  Totals t{};
  t.maxI = -2000000000, t.minI = 2000000000, t.maxU = 0, t.minU = 0xffffffffu, t.exch = -1;
  kvf::emu::launch("accumulate", accumulate, dim3(blocks), dim3(threads), 0, 2, &t);
  CHECK_EQ(t.i, n);
  CHECK_EQ(t.u, 2u * n);
  CHECK_EQ(t.ull, (unsigned long long)n << 33);
  CHECK_EQ(t.f, float(n));
  CHECK_EQ(t.d, 0.5 * n);
  CHECK_EQ(t.maxI, n - 1 - 1000);
  CHECK_EQ(t.minI, -1000);
  CHECK_EQ(t.maxU, unsigned(n - 1) * 3u);
  CHECK_EQ(t.minU, 5u);
  CHECK_EQ(t.casCounter, n);
  CHECK_EQ(t.wrap, unsigned(n % 10));
  CHECK(t.exch >= 0 && t.exch < n);
}

EMU_TEST(atomics_half_types) {
  __half h = __float2half(0.0f);
  __nv_bfloat16 b = __float2bfloat16(0.0f);
  kvf::emu::launch("halfAdd", halfAdd, dim3(4), dim3(32), 0, 2, &h, &b);
  CHECK_EQ(__half2float(h), 128.0f);
  CHECK_EQ(__bfloat162float(b), 128.0f);
}
#endif
