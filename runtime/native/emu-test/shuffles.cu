// Warp shuffles and votes: the PTX lane arithmetic for every mode and width, votes, partial
// warps, sub-warp masks in divergent branches, and non-32-bit payloads.
#include "compat.cuh"

__device__ float warpSum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFull, v, offset);
  return v;
}

__global__ void warpReduce(const float* in, float* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = warpSum(in[i]);
}

// out[mode][lane] for one warp: mode 0 idx, 1 up, 2 down, 3 xor.
__global__ void shuffleModes(int* out, int srcLane, unsigned delta, int laneMask, int width) {
  const int lane = threadIdx.x, v = lane * 10;
  out[0 * 32 + lane] = __shfl_sync(kFull, v, srcLane, width);
  out[1 * 32 + lane] = __shfl_up_sync(kFull, v, delta, width);
  out[2 * 32 + lane] = __shfl_down_sync(kFull, v, delta, width);
  out[3 * 32 + lane] = __shfl_xor_sync(kFull, v, laneMask, width);
}

__global__ void votes(unsigned* out) {
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  const unsigned ballot = __ballot_sync(kFull, lane % 3 == 0);
  const int any = __any_sync(kFull, lane == 31);
  const int anyNone = __any_sync(kFull, lane > 40);
  const int all = __all_sync(kFull, lane < 32);
  const int allNot = __all_sync(kFull, lane != 7);
  if (lane == 0) {
    out[w * 5 + 0] = ballot, out[w * 5 + 1] = any, out[w * 5 + 2] = anyNone;
    out[w * 5 + 3] = all, out[w * 5 + 4] = allNot;
  }
}

// 48 threads: warp 1 has lanes 0..15 only. Full masks still work for the lanes that exist.
__global__ void partialWarp(float* sums, unsigned* ballots, unsigned* active, float* beyond) {
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  float v = float(threadIdx.x + 1);
  for (int offset = 8; offset > 0; offset /= 2) v += __shfl_xor_sync(kFull, v, offset, 16);
  sums[threadIdx.x] = v;
  const unsigned b = __ballot_sync(kFull, 1);
  const unsigned a = __activemask();
  // Lane 0 of warp 1 reads lane 16, which does not exist.
  const float far = __shfl_down_sync(kFull, float(threadIdx.x), 16);
  if (lane == 0) ballots[w] = b, active[w] = a, beyond[w] = far;
}

// Lanes 0-15 and 16-31 shuffle within their own half, in different branches, with half masks;
// then every lane meets at a __syncwarp written twice (allowed: sites may differ for __syncwarp).
__global__ void halfMasks(int* out) {
  const int lane = threadIdx.x;
  int v = lane;
  if (lane < 16) {
    v = __shfl_sync(0x0000ffffu, v, 15 - lane);
    __syncwarp();
  } else {
    v = __shfl_sync(0xffff0000u, v, 47 - lane) + 100;
    __syncwarp();
  }
  out[lane] = v;
}

__global__ void wideTypes(double* d, __half* h, long long* ll) {
  const int lane = threadIdx.x;
  d[lane] = __shfl_sync(kFull, 1.0 / (lane + 1), 31 - lane);
  h[lane] = __shfl_xor_sync(kFull, __float2half(float(lane) * 0.5f), 1);
  ll[lane] = __shfl_up_sync(kFull, (long long)lane << 40, 1);
}

#if defined(KVF_CUDA_EMULATION)
#include <cmath>
#include <vector>

EMU_TEST(shuffle_warp_reduce_xor) {
  const int n = 4 * 128;
  std::vector<float> in(n), out(n);
  for (int i = 0; i < n; ++i) in[i] = float(i % 32 + 1 + (i / 32) * 100);
  kvf::emu::launch("warpReduce", warpReduce, dim3(4), dim3(128), 0, 2, in.data(), out.data());
  for (int i = 0; i < n; ++i) CHECK_EQ(out[i], float(528 + (i / 32) * 100 * 32));
}

// The PTX shfl.sync definition, written out independently of the emulator's implementation.
static int reference(int mode, int lane, int b, int width) {
  const int seg = lane / width * width;  // first lane of the caller's segment
  int src = lane;
  switch (mode) {
    case 0: src = seg + (b & (width - 1)); break;
    case 1: src = lane - b >= seg ? lane - b : lane; break;
    case 2: src = lane + b < seg + width ? lane + b : lane; break;
    case 3: src = (lane ^ b) < seg + width ? (lane ^ b) : lane; break;  // earlier segments are read
  }
  return src * 10;
}

EMU_TEST(shuffle_mode_semantics) {
  struct Case {
    int srcLane;
    unsigned delta;
    int laneMask, width;
  };
  const Case cases[] = {{5, 3, 1, 32}, {37, 31, 16, 32}, {11, 3, 8, 8}, {-1, 5, 12, 16}, {2, 1, 3, 4},
                        {0, 0, 0, 1},  {31, 17, 31, 2}};
  for (const Case& c : cases) {
    std::vector<int> out(4 * 32, -7);
    kvf::emu::launch("shuffleModes", shuffleModes, dim3(1), dim3(32), 0, 1, out.data(), c.srcLane, c.delta,
                     c.laneMask, c.width);
    for (int lane = 0; lane < 32; ++lane) {
      CHECK_EQ(out[0 * 32 + lane], reference(0, lane, c.srcLane & 31, c.width));
      CHECK_EQ(out[1 * 32 + lane], reference(1, lane, int(c.delta & 31), c.width));
      CHECK_EQ(out[2 * 32 + lane], reference(2, lane, int(c.delta & 31), c.width));
      CHECK_EQ(out[3 * 32 + lane], reference(3, lane, c.laneMask & 31, c.width));
    }
  }
  // Spot checks of the rules the reference encodes.
  std::vector<int> out(4 * 32);
  kvf::emu::launch("shuffleModes", shuffleModes, dim3(1), dim3(32), 0, 1, out.data(), 37, 3u, 8, 8);
  CHECK_EQ(out[0 * 32 + 0], 50);   // idx: 37 mod 8 = 5 in segment 0
  CHECK_EQ(out[0 * 32 + 9], 130);  // segment 1 starts at lane 8
  CHECK_EQ(out[1 * 32 + 10], 100); // up by 3 from lane 10 (segment 8..15) would leave it: own value
  CHECK_EQ(out[2 * 32 + 4], 70);   // down by 3 from lane 4: lane 7
  CHECK_EQ(out[2 * 32 + 5], 50);   // lane 8 is in the next segment: own value
  CHECK_EQ(out[3 * 32 + 3], 30);   // xor 8 from lane 3 -> lane 11, a later segment: own value
  CHECK_EQ(out[3 * 32 + 11], 30);  // xor 8 from lane 11 -> lane 3, an earlier segment: read
}

EMU_TEST(shuffle_votes) {
  std::vector<unsigned> out(2 * 5);
  kvf::emu::launch("votes", votes, dim3(1), dim3(64), 0, 1, out.data());
  for (int w = 0; w < 2; ++w) {
    CHECK_EQ(out[w * 5 + 0], 0x49249249u);
    CHECK_EQ(out[w * 5 + 1], 1u);
    CHECK_EQ(out[w * 5 + 2], 0u);
    CHECK_EQ(out[w * 5 + 3], 1u);
    CHECK_EQ(out[w * 5 + 4], 0u);
  }
}

EMU_TEST(shuffle_partial_warp_48_threads) {
  std::vector<float> sums(48), beyond(2);
  std::vector<unsigned> ballots(2), active(2);
  kvf::emu::launch("partialWarp", partialWarp, dim3(1), dim3(48), 0, 1, sums.data(), ballots.data(), active.data(),
                   beyond.data());
  for (int t = 0; t < 48; ++t) {
    const int seg = t / 16 * 16;
    float want = 0;
    for (int i = 0; i < 16; ++i) want += float(seg + i + 1);
    CHECK_EQ(sums[t], want);
  }
  CHECK_EQ(ballots[0], 0xffffffffu);
  CHECK_EQ(ballots[1], 0x0000ffffu);
  CHECK_EQ(active[0], 0xffffffffu);
  CHECK_EQ(active[1], 0x0000ffffu);
  CHECK_EQ(beyond[0], 16.0f);     // lane 16 of warp 0 = thread 16
  CHECK(std::isnan(beyond[1]));   // warp 1 has no lane 16: undefined on a GPU, NaN here
}

EMU_TEST(shuffle_half_masks_in_branches) {
  std::vector<int> out(32);
  kvf::emu::launch("halfMasks", halfMasks, dim3(1), dim3(32), 0, 1, out.data());
  for (int lane = 0; lane < 16; ++lane) CHECK_EQ(out[lane], 15 - lane);
  for (int lane = 16; lane < 32; ++lane) CHECK_EQ(out[lane], 47 - lane + 100);
}

EMU_TEST(shuffle_wide_types) {
  std::vector<double> d(32);
  std::vector<__half> h(32);
  std::vector<long long> ll(32);
  kvf::emu::launch("wideTypes", wideTypes, dim3(1), dim3(32), 0, 1, d.data(), h.data(), ll.data());
  for (int lane = 0; lane < 32; ++lane) {
    CHECK_EQ(d[lane], 1.0 / (31 - lane + 1));
    CHECK_EQ(__half2float(h[lane]), float(lane ^ 1) * 0.5f);
    CHECK_EQ(ll[lane], (long long)(lane == 0 ? 0 : lane - 1) << 40);
  }
}
#endif
