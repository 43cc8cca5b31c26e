// Shared memory: static __shared__ in two kernels, in a __device__ function and at namespace
// scope; dynamic shared memory sized at launch; no block ever sees another running block's data.
#include "compat.cuh"
#if defined(KVF_CUDA_EMULATION)
#include <pthread.h>
#endif

__shared__ int nsScratch[64];  // namespace-scope static shared memory (allowed by CUDA)

// Records which OS thread ran a block (emulator only): the isolation tests need both to have run.
__device__ void noteOsThread(unsigned long long* osThread) {
#if defined(KVF_CUDA_EMULATION)
  if (threadIdx.x == 0) osThread[blockIdx.x] = (unsigned long long)pthread_self();
#else
  (void)osThread;
#endif
}

__device__ int deviceFnShared(int v) {
  __shared__ int slots[128];
  slots[threadIdx.x] = v;
  __syncthreads();
  const int other = slots[(threadIdx.x + 1) % blockDim.x];
  __syncthreads();
  return other;
}

// Every phase fills shared memory with values of this block, waits, and checks all of it: a
// block that saw another block's writes counts an error.
__global__ void isolationA(int* errors, unsigned long long* osThread, int rounds) {
  __shared__ int mine[128];
  noteOsThread(osThread);
  for (int r = 0; r < rounds; ++r) {
    mine[threadIdx.x] = int(blockIdx.x) * 1000 + r;
    nsScratch[threadIdx.x % 64] = int(blockIdx.x) * 1000 + r;
    __syncthreads();
    int bad = 0;
    for (int i = 0; i < int(blockDim.x); ++i) bad += mine[i] != int(blockIdx.x) * 1000 + r;
    for (int i = 0; i < 64; ++i) bad += nsScratch[i] != int(blockIdx.x) * 1000 + r;
    const int other = deviceFnShared(int(blockIdx.x) * 7 + int(threadIdx.x));
    bad += other != int(blockIdx.x) * 7 + int((threadIdx.x + 1) % blockDim.x);
    if (bad) atomicAdd(errors, bad);
    __syncthreads();
  }
}

__global__ void isolationB(int* errors, unsigned long long* osThread) {
  __shared__ float tile[64][65];
  noteOsThread(osThread);
  const int t = threadIdx.x;
  for (int i = t; i < 64 * 65; i += blockDim.x) tile[i / 65][i % 65] = float(blockIdx.x) + float(i) * 1e-3f;
  __syncthreads();
  int bad = 0;
  for (int i = 0; i < 64 * 65; ++i) bad += tile[i / 65][i % 65] != float(blockIdx.x) + float(i) * 1e-3f;
  if (bad) atomicAdd(errors, bad);
}

__global__ void dynamicShared(int* errors, unsigned long long* align, int nFloats) {
  KVF_DYNAMIC_SHARED(float, smem);
  if (threadIdx.x == 0) align[blockIdx.x] = (unsigned long long)(size_t)smem;
  for (int i = threadIdx.x; i < nFloats; i += blockDim.x) smem[i] = float(blockIdx.x * nFloats + i);
  __syncthreads();
  int bad = 0;
  for (int i = 0; i < nFloats; ++i) bad += smem[i] != float(blockIdx.x * nFloats + i);
  if (bad) atomicAdd(errors, bad);
}

#if defined(KVF_CUDA_EMULATION)
#include <set>
#include <vector>

static size_t distinct(const std::vector<unsigned long long>& v) { return std::set<unsigned long long>(v.begin(), v.end()).size(); }

EMU_TEST(shared_static_isolated_between_blocks) {
  const int blocks = 64;
  int errors = 0;
  std::vector<unsigned long long> os(blocks);
  kvf::emu::launch("isolationA", isolationA, dim3(blocks), dim3(128), 0, 2, &errors, os.data(), 20);
  CHECK_EQ(errors, 0);
  CHECK_EQ(distinct(os), size_t(2));
  kvf::emu::launch("isolationB", isolationB, dim3(blocks), dim3(96), 0, 2, &errors, os.data());
  CHECK_EQ(errors, 0);
  CHECK_EQ(distinct(os), size_t(2));
}

EMU_TEST(shared_dynamic_sized_at_launch) {
  const int blocks = 40;
  std::vector<unsigned long long> align(blocks);
  for (int nFloats : {1, 3000, 12288}) {  // 4 B, 12 000 B, 48 KiB
    int errors = 0;
    kvf::emu::launch("dynamicShared", dynamicShared, dim3(blocks), dim3(64), nFloats * sizeof(float), 2, &errors,
                     align.data(), nFloats);
    CHECK_EQ(errors, 0);
    for (unsigned long long a : align) CHECK_EQ(a % 128, 0ull);
  }
}

EMU_TEST(shared_dynamic_above_48k_needs_attribute) {
  const int nFloats = 20000;  // 80 000 bytes
  std::vector<unsigned long long> align(4);
  int errors = 0;
  std::string msg;
  CHECK_THROWS(kvf::emu::LaunchError,
               KVF_LAUNCH(dynamicShared, dim3(4), dim3(64), nFloats * sizeof(float), 0, &errors, align.data(), nFloats),
               msg, "kernel 'dynamicShared'", "80000 bytes of dynamic shared memory", "cudaFuncSetAttribute");
  CHECK_EQ(cudaFuncSetAttribute(dynamicShared, cudaFuncAttributeMaxDynamicSharedMemorySize, nFloats * 4), cudaSuccess);
  KVF_LAUNCH(dynamicShared, dim3(4), dim3(64), nFloats * sizeof(float), 0, &errors, align.data(), nFloats);
  CHECK_EQ(errors, 0);
  CHECK_EQ(cudaFuncSetAttribute(dynamicShared, cudaFuncAttributeMaxDynamicSharedMemorySize, 300 * 1024),
           cudaErrorInvalidValue);
  CHECK_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  CHECK_EQ(cudaGetLastError(), cudaSuccess);
}
#endif
