// The attention-mass output of AttnArgs v3 on CUDA (attn_args.hpp):
//   mass[b, hk, s] += sum_{g, i} 2^(s2(b, hk*G + g, i, s) - lse2(b, hk*G + g, i))   (admissible s)
// in the fixed order heads g, then rows i, so the result does not depend on the launch geometry.
// s2 is the score in log2 units exactly as the forward forms it (warp_step.cuh: scale, score(),
// bias, mask by selection); a row with lse = -inf adds nothing, a NaN lse makes the slots it
// admits NaN, and a probability below 2^-126 is flushed to 0 as in the forward.
//
// Why a separate pass after the forward here (the CPU kernels fuse it, cpu/mass_tape.hpp): a
// slot's probability needs its row's final lse, which a CUDA decode block only has after the
// split merge and a prefill block never has for another block's rows. One thread per slot
// recomputes its rows' dot products (reading its key row once, each query row from L1/L2): a
// second read of K, not of V. Keeping the decode warps' probabilities in the workspace, as the
// CPU tape does, would remove that read; it is the next step for decode on a device.
#pragma once
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/device_args.cuh"
#include "kvforge/cuda/storage.cuh"
#include "kvforge/cuda/warp_step.cuh"

namespace kvf {
namespace KVF_CUDA_NS {

constexpr int kMassThreads = 128;
constexpr int64_t kMassMaxBlocks = 65535;

template <class V>
__global__ void __launch_bounds__(kMassThreads) massKernel(const V var, const DeviceArgs<typename V::Storage> a) {
  constexpr int D = V::kHeadDim;
  const int64_t perB = a.Hkv * a.maxLen, total = a.B * perB, G = a.G;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = idx / perB, hk = (idx / a.maxLen) % a.Hkv, s = idx % a.maxLen;
    if (s >= a.keyCount(b, hk)) continue;
    const auto* kr = a.keys(b, hk) + s * a.kStrideS;
    const int64_t kp = a.keyPositions(b, hk)[s];
    const float kb = a.bias ? a.bias[b * a.biasStrideB + hk * a.biasStrideH + s] * kLog2e : 0.0f;
    const int n = a.rowCount[b];
    const int64_t r0 = a.rowStart[b];
    float acc = 0.0f;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t h = hk * G + g;
      for (int i = 0; i < n; ++i) {
        const float lse = *a.lseAt(b, h, r0 + i);
        if (lse == -INFINITY) continue;
        const int64_t qp = a.queryPosition(b, r0 + i);
        if constexpr (V::kHasMask) {
          if (!var.mask(b, h, qp, kp)) continue;
        }
        const float* q = a.queryRow(b, h, r0 + i);
        float dot = 0.0f;
        for (int d = 0; d < D; ++d) dot = fmaf(q[d] * a.qScale, toFloat(kr[d]), dot);
        float x = dot;
        if constexpr (V::kHasScore) x = var.score(x * a.sScale, b, h, qp, kp) * kLog2e;
        acc += exp2Flush(x + kb - lse * kLog2e);
      }
    }
    a.mass[b * a.massStrideB + hk * a.massStrideH + s] += acc;
  }
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
