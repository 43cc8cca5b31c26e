// Block barriers: a shared-memory tree reduction, a 2D block on a 3D grid, __syncthreads_count/
// and/or, and a multi-phase kernel whose result depends on every barrier being honoured.
#include "compat.cuh"

constexpr int kReduceThreads = 256;

__global__ void __launch_bounds__(kReduceThreads) blockSum(const float* __restrict__ in, float* out) {
  __shared__ float partial[kReduceThreads];
  const int t = threadIdx.x;
  partial[t] = in[blockIdx.x * kReduceThreads + t];
  __syncthreads();
  for (int stride = kReduceThreads / 2; stride > 0; stride /= 2) {
    if (t < stride) partial[t] += partial[t + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

// 16 x 8 threads transpose an 8 x 16 tile through shared memory and record what they saw.
struct Seen {
  unsigned tid[3], bid[3], bdim[3], gdim[3];
  int transposed;
};

__global__ void tile2d(const int* in, Seen* seen) {
  __shared__ int tile[8][16 + 1];
  const unsigned bx = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned t = threadIdx.x + blockDim.x * threadIdx.y;
  tile[threadIdx.y][threadIdx.x] = in[bx * 128 + t];
  __syncthreads();
  // Read the transposed position (y', x') = (t % 8, t / 8) of the 8 x 16 tile.
  const int v = tile[t % 8][t / 8];
  __syncthreads();
  Seen& s = seen[bx * 128 + t];
  s.tid[0] = threadIdx.x, s.tid[1] = threadIdx.y, s.tid[2] = threadIdx.z;
  s.bid[0] = blockIdx.x, s.bid[1] = blockIdx.y, s.bid[2] = blockIdx.z;
  s.bdim[0] = blockDim.x, s.bdim[1] = blockDim.y, s.bdim[2] = blockDim.z;
  s.gdim[0] = gridDim.x, s.gdim[1] = gridDim.y, s.gdim[2] = gridDim.z;
  s.transposed = v;
}

__global__ void voteBarriers(int* out) {
  const int t = threadIdx.x;
  out[blockIdx.x * 3 + 0] = __syncthreads_count(t % 3 == 0);
  const int all = __syncthreads_and(t >= 0);
  const int none = __syncthreads_or(t > 10000);
  if (t == 0) out[blockIdx.x * 3 + 1] = all, out[blockIdx.x * 3 + 2] = none;
}

// Each phase reads the neighbours' values of the previous phase: without a working barrier
// (or with a scheduler that let a thread run ahead) the result would depend on thread order.
__global__ void phases(int* out) {
  __shared__ int a[96], b[96];
  const int t = threadIdx.x, n = blockDim.x;
  a[t] = t;
  __syncthreads();
  for (int phase = 0; phase < 4; ++phase) {
    b[t] = a[(t + 1) % n] + a[(t + n - 1) % n];
    __syncthreads();
    a[t] = b[t] % 1000;
    __syncthreads();
  }
  out[blockIdx.x * n + t] = a[t];
}

// 1024 threads (32 x 32), the most a block can have: a two-level reduction, warps then block.
__global__ void bigBlock(int* out) {
  __shared__ int perWarp[32];
  const int t = threadIdx.x + 32 * threadIdx.y;
  int v = t;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (threadIdx.x == 0) perWarp[threadIdx.y] = v;
  __syncthreads();
  if (threadIdx.y == 0) {
    v = perWarp[threadIdx.x];
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (threadIdx.x == 0) out[blockIdx.x] = v;
  }
}

#if defined(KVF_CUDA_EMULATION)
#include <vector>

EMU_TEST(barrier_block_reduction) {
  const int blocks = 24;
  std::vector<float> in(blocks * kReduceThreads), out(blocks, -1.0f);
  for (size_t i = 0; i < in.size(); ++i) in[i] = float(int(i % 97) - 40);
  for (int threads : {1, 2}) {
    kvf::emu::launch("blockSum", blockSum, dim3(blocks), dim3(kReduceThreads), 0, threads, in.data(), out.data());
    for (int b = 0; b < blocks; ++b) {
      float want = 0;
      for (int t = 0; t < kReduceThreads; ++t) want += in[b * kReduceThreads + t];
      CHECK_EQ(out[b], want);
    }
  }
}

EMU_TEST(barrier_2d_block_3d_grid) {
  const dim3 grid(3, 2, 2), block(16, 8);
  const int blocks = 12;
  std::vector<int> in(blocks * 128);
  for (size_t i = 0; i < in.size(); ++i) in[i] = int(i) * 7 + 1;
  std::vector<Seen> seen(in.size());
  KVF_LAUNCH(tile2d, grid, block, 0, 0, in.data(), seen.data());
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned ty = 0; ty < 8; ++ty)
          for (unsigned tx = 0; tx < 16; ++tx) {
            const unsigned b = bx + 3 * (by + 2 * bz), t = tx + 16 * ty;
            const Seen& s = seen[b * 128 + t];
            CHECK(s.tid[0] == tx && s.tid[1] == ty && s.tid[2] == 0);
            CHECK(s.bid[0] == bx && s.bid[1] == by && s.bid[2] == bz);
            CHECK(s.bdim[0] == 16 && s.bdim[1] == 8 && s.bdim[2] == 1);
            CHECK(s.gdim[0] == 3 && s.gdim[1] == 2 && s.gdim[2] == 2);
            // tile[y][x] = in[b*128 + x + 16 y]; thread t reads tile[t % 8][t / 8].
            CHECK_EQ(s.transposed, in[b * 128 + (t / 8) + 16 * (t % 8)]);
          }
}

EMU_TEST(barrier_1024_thread_blocks) {
  std::vector<int> out(6, -1);
  kvf::emu::launch("bigBlock", bigBlock, dim3(6), dim3(32, 32), 0, 2, out.data());
  for (int v : out) CHECK_EQ(v, 1023 * 1024 / 2);
}

EMU_TEST(barrier_count_and_or) {
  std::vector<int> out(4 * 3, -1);
  kvf::emu::launch("voteBarriers", voteBarriers, dim3(4), dim3(100), 0, 2, out.data());
  for (int b = 0; b < 4; ++b) {
    CHECK_EQ(out[b * 3 + 0], 34);  // t = 0, 3, ..., 99
    CHECK_EQ(out[b * 3 + 1], 1);
    CHECK_EQ(out[b * 3 + 2], 0);
  }
}

EMU_TEST(barrier_phases_any_schedule) {
  const int n = 96, blocks = 5;
  std::vector<int> want(n);
  {
    std::vector<int> a(n), b(n);
    for (int t = 0; t < n; ++t) a[t] = t;
    for (int p = 0; p < 4; ++p) {
      for (int t = 0; t < n; ++t) b[t] = a[(t + 1) % n] + a[(t + n - 1) % n];
      for (int t = 0; t < n; ++t) a[t] = b[t] % 1000;
    }
    want = a;
  }
  const kvf::emu::Schedule saved = kvf::emu::schedule();
  for (kvf::emu::Schedule s : {kvf::emu::Schedule::Forward, kvf::emu::Schedule::Reverse, kvf::emu::Schedule::Shuffle}) {
    kvf::emu::setSchedule(s, 42);
    std::vector<int> out(n * blocks, -1);
    kvf::emu::launch("phases", phases, dim3(blocks), dim3(n), 0, 2, out.data());
    for (int b = 0; b < blocks; ++b)
      for (int t = 0; t < n; ++t) CHECK_EQ(out[b * n + t], want[t]);
  }
  kvf::emu::setSchedule(saved);
}
#endif
