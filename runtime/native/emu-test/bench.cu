// Micro-benchmark of the emulator: the cost of an emulated 128-thread block with 4 barriers
// (median over many launches, on one and on two OS threads), of one context switch, of a
// barrier per thread, and of a warp reduction.
#include "compat.cuh"

__global__ void fourBarriers(float* out) {
  __shared__ float s[128];
  const int t = threadIdx.x;
  s[t] = float(t);
  __syncthreads();
  float v = s[(t + 1) & 127];
  __syncthreads();
  s[t] = v * 2.0f;
  __syncthreads();
  v += s[(t + 3) & 127];
  __syncthreads();
  if (t == 0) out[blockIdx.x] = v;
}

__global__ void manyBarriers(int* out, int n) {
  int acc = 0;
  for (int i = 0; i < n; ++i) {
    __syncthreads();
    acc += i;
  }
  if (threadIdx.x == 0) out[blockIdx.x] = acc;
}

__global__ void warpReduceOnly(float* out) {
  float v = float(threadIdx.x);
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFull, v, offset);
  if (threadIdx.x % 32 == 0) out[blockIdx.x * 4 + threadIdx.x / 32] = v;
}

#if defined(KVF_CUDA_EMULATION)
#include <algorithm>
#include <time.h>
#include <cstdio>
#include <vector>

// Medians of wall time and of CPU time (of the calling thread, or of the whole process when
// several OS threads work): on a loaded machine the wall time includes waiting for a core, the
// CPU time does not.
struct Times {
  double wall, cpu;
};

static double now(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

template <class F>
static Times median(int reps, clockid_t cpuClock, F&& f) {
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    const double w0 = now(CLOCK_MONOTONIC), c0 = now(cpuClock);
    f();
    cpu.push_back(now(cpuClock) - c0);
    wall.push_back(now(CLOCK_MONOTONIC) - w0);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

// Two contexts switching back and forth through the emulator's primitive.
namespace rawswitch {
using namespace kvf::emu::detail;
Context mainCtx, fiberCtx;
long remaining;
void fiberBody(void*) {
  contextStarted();
  for (;;) jump(fiberCtx, mainCtx);
}
double nsPerSwitch(long n) {
  StackPool pool;
  pool.reserve(1, 64 * 1024);
  prepareContext(fiberCtx, pool[0].bottom, pool[0].size, 0, &fiberBody, nullptr);
  adoptThreadStack(mainCtx);
  const Times t = median(5, CLOCK_THREAD_CPUTIME_ID, [&] {
    for (long i = 0; i < n; ++i) jump(mainCtx, fiberCtx);  // two switches per iteration
  });
  return t.cpu * 1e9 / double(2 * n);
}
}  // namespace rawswitch

int main() {
#if KVF_EMU_ASM_SWITCH
  std::printf("context switch: x86-64 assembly\n");
#else
  std::printf("context switch: ucontext (swapcontext)\n");
#endif
  std::printf("(median; wall = elapsed time, cpu = CPU time of the working thread(s))\n");
  const int blocks = 256, reps = 41;
  std::vector<float> out(blocks);
  for (int threads : {1, 2}) {
    // warm up: stacks and workers exist after the first launch
    kvf::emu::launch("fourBarriers", fourBarriers, dim3(blocks), dim3(128), 0, threads, out.data());
    const Times t = median(reps, threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_PROCESS_CPUTIME_ID, [&] {
      kvf::emu::launch("fourBarriers", fourBarriers, dim3(blocks), dim3(128), 0, threads, out.data());
    });
    std::printf("128-thread block, 4 __syncthreads, %d OS thread%s: %7.2f us wall, %7.2f us cpu per block (%d blocks)\n",
                threads, threads > 1 ? "s" : " ", t.wall * 1e6 / blocks, t.cpu * 1e6 / blocks, blocks);
  }
  {
    const Times t = median(201, CLOCK_THREAD_CPUTIME_ID, [&] {
      kvf::emu::launch("fourBarriers", fourBarriers, dim3(1), dim3(128), 0, 1, out.data());
    });
    std::printf("the same, a launch of a single block:              %7.2f us wall, %7.2f us cpu\n", t.wall * 1e6,
                t.cpu * 1e6);
  }
  {
    std::vector<int> o(4);
    const int n = 2000;
    const Times t = median(5, CLOCK_THREAD_CPUTIME_ID, [&] {
      kvf::emu::launch("manyBarriers", manyBarriers, dim3(4), dim3(128), 0, 1, o.data(), n);
    });
    std::printf("__syncthreads, per thread and barrier (128 thr):   %7.2f ns cpu (one switch + bookkeeping)\n",
                t.cpu * 1e9 / (4.0 * 128 * n));
  }
  {
    std::vector<float> o(blocks * 4);
    const Times t = median(reps, CLOCK_THREAD_CPUTIME_ID, [&] {
      kvf::emu::launch("warpReduceOnly", warpReduceOnly, dim3(blocks), dim3(128), 0, 1, o.data());
    });
    std::printf("5-step __shfl_xor_sync warp reduction (128 thr):   %7.2f us cpu per block\n", t.cpu * 1e6 / blocks);
  }
  std::printf("raw context switch (ping-pong of two contexts):    %7.2f ns cpu per switch\n",
              rawswitch::nsPerSwitch(2000000));
  return 0;
}
#endif
