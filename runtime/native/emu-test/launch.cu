// Launch mechanics and host shims: every block exactly once, argument conversion, KVF_LAUNCH,
// kernels without parameters, template kernels, the runtime API shims, concurrent launches
// from two host threads, math intrinsics.
#include "compat.cuh"

__global__ void countBlocks(int* visits, int* threadsSeen) {
  const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) atomicAdd(&visits[b], 1);
  atomicAdd(&threadsSeen[b], 1);
}

__device__ int gNoArgCalls;
__global__ void noArgs() { atomicAdd(&gNoArgCalls, 1); }

template <int Scale>
__global__ void scaled(const float* in, float* out, float bias, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = in[i] * Scale + bias;
}

__constant__ float gCoeff[4];
__global__ void useConstant(float* out) { out[threadIdx.x] = gCoeff[threadIdx.x % 4]; }

struct MathOut {
  float sat[3];
  int bits;
  float back;
  int mn;
  unsigned mnMixed;
  float mx;
  int popc, clz, ffs;
  unsigned brev;
  float rs, fd, rcp, fma, ex, lg;
};
__global__ void mathKernel(MathOut* o) {
  o->sat[0] = __saturatef(-1.0f), o->sat[1] = __saturatef(0.25f), o->sat[2] = __saturatef(nanf(""));
  o->bits = __float_as_int(1.0f);
  o->back = __int_as_float(0x40490fdb);
  o->mn = min(-3, 7);
  o->mnMixed = min(-1, 5u);  // CUDA: unsigned comparison
  o->mx = max(1.5f, -2.0f);
  o->popc = __popc(0xf0f0u), o->clz = __clz(1), o->ffs = __ffs(0x50);
  o->brev = __brev(1u);
  o->rs = rsqrtf(4.0f), o->fd = __fdividef(1.0f, 4.0f), o->rcp = __frcp_rn(8.0f);
  o->fma = __fmaf_rn(2.0f, 3.0f, 1.0f), o->ex = __expf(0.0f), o->lg = __logf(1.0f);
  o->ex += exp2f(3.0f) - 8.0f + __ldg(&o->fd) - 0.25f;
}

#if defined(KVF_CUDA_EMULATION)
#include <cmath>
#include <thread>
#include <vector>

EMU_TEST(launch_every_block_once) {
  const dim3 grid(7, 5, 3), block(8, 4, 2);
  const int blocks = 7 * 5 * 3;
  for (int threads : {1, 2, 3, 200}) {
    std::vector<int> visits(blocks, 0), seen(blocks, 0);
    kvf::emu::launch("countBlocks", countBlocks, grid, block, 0, threads, visits.data(), seen.data());
    for (int b = 0; b < blocks; ++b) {
      CHECK_EQ(visits[b], 1);
      CHECK_EQ(seen[b], 64);
    }
  }
}

EMU_TEST(launch_macro_args_templates_runtime_api) {
  const int n = 1000;
  std::vector<float> host(n);
  for (int i = 0; i < n; ++i) host[i] = float(i);
  float *dIn = nullptr, *dOut = nullptr;
  CHECK_EQ(cudaMalloc(&dIn, n * sizeof(float)), cudaSuccess);
  CHECK_EQ(cudaMalloc(reinterpret_cast<void**>(&dOut), n * sizeof(float)), cudaSuccess);
  CHECK_EQ(reinterpret_cast<uintptr_t>(dIn) % 256, uintptr_t(0));
  CHECK_EQ(cudaMemcpy(dIn, host.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  CHECK_EQ(cudaMemset(dOut, 0, n * sizeof(float)), cudaSuccess);
  auto* kernel = &scaled<3>;
  // bias passed as an int, n as a size_t: converted to the parameter types like a launch does.
  KVF_LAUNCH(kernel, dim3((n + 127) / 128), dim3(128), 0, 0, dIn, dOut, 2, size_t(n));
  CHECK_EQ(cudaGetLastError(), cudaSuccess);
  CHECK_EQ(cudaDeviceSynchronize(), cudaSuccess);
  CHECK_EQ(cudaMemcpy(host.data(), dOut, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  for (int i = 0; i < n; ++i) CHECK_EQ(host[i], float(i) * 3 + 2);
  CHECK_EQ(cudaFree(dIn), cudaSuccess);
  CHECK_EQ(cudaFree(dOut), cudaSuccess);
  CHECK_EQ(std::string(cudaGetErrorName(cudaErrorInvalidValue)), std::string("cudaErrorInvalidValue"));
  CHECK_EQ(cudaMemcpy(nullptr, host.data(), 4, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  CHECK_EQ(cudaPeekAtLastError(), cudaErrorInvalidValue);
  CHECK_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  CHECK_EQ(cudaGetLastError(), cudaSuccess);

  gNoArgCalls = 0;
  KVF_LAUNCH(noArgs, 3, 32, 0, 0);
  CHECK_EQ(gNoArgCalls, 96);

  const float coeff[4] = {1, 2, 3, 4};
  CHECK_EQ(cudaMemcpyToSymbol(gCoeff, coeff, sizeof coeff), cudaSuccess);
  std::vector<float> c(8);
  KVF_LAUNCH(useConstant, 1, 8, 0, 0, c.data());
  CHECK_EQ(c[5], 2.0f);
}

EMU_TEST(launch_concurrent_host_threads) {
  std::vector<int> visitsA(300, 0), seenA(300, 0), visitsB(300, 0), seenB(300, 0);
  std::thread other([&] {
    kvf::emu::launch("countBlocks", countBlocks, dim3(300), dim3(64), 0, 2, visitsB.data(), seenB.data());
  });
  kvf::emu::launch("countBlocks", countBlocks, dim3(300), dim3(64), 0, 2, visitsA.data(), seenA.data());
  other.join();
  for (int b = 0; b < 300; ++b) CHECK(visitsA[b] == 1 && visitsB[b] == 1 && seenA[b] == 64 && seenB[b] == 64);
}

EMU_TEST(launch_math_intrinsics) {
  MathOut o{};
  KVF_LAUNCH(mathKernel, 1, 1, 0, 0, &o);
  CHECK(o.sat[0] == 0.0f && o.sat[1] == 0.25f && o.sat[2] == 0.0f);
  CHECK_EQ(o.bits, 0x3f800000);
  CHECK_EQ(o.back, 3.14159274101257324f);
  CHECK_EQ(o.mn, -3);
  CHECK_EQ(o.mnMixed, 5u);
  CHECK_EQ(o.mx, 1.5f);
  CHECK(o.popc == 8 && o.clz == 31 && o.ffs == 5);
  CHECK_EQ(o.brev, 0x80000000u);
  CHECK(o.rs == 0.5f && o.fd == 0.25f && o.rcp == 0.125f && o.fma == 7.0f && o.ex == 1.0f && o.lg == 0.0f);
}
#endif
