// __half and __nv_bfloat16 in emulated kernels: conversions (round to nearest even), arithmetic
// through the toolkit's host code, and the emulator's shims for device-only functions.
#include "compat.cuh"
#include <cuda_bf16.h>
#include <cuda_fp16.h>

struct HalfResults {
  float h, b;            // float -> 16-bit -> float
  float hAdd, bAdd;      // __hadd
  float hMathAdd;        // float math on converted values
  float hFma, bFma;      // __hfma
  float hExp, bSqrt;     // hexp, hsqrt
  int hRn, hRd, bRu;     // __half2int_rn / _rd, __bfloat162int_ru
};

__global__ void halfKernel(const float* in, HalfResults* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const float x = in[i];
  const __half h = __float2half(x);
  const __nv_bfloat16 b = __float2bfloat16(x);
  HalfResults r;
  r.h = __half2float(h);
  r.b = __bfloat162float(b);
  r.hAdd = __half2float(__hadd(h, __float2half(1.0f)));
  r.bAdd = __bfloat162float(__hadd(b, __float2bfloat16(1.0f)));
  r.hMathAdd = __half2float(h) + __bfloat162float(b);
  r.hFma = __half2float(__hfma(h, __float2half(2.0f), __float2half(0.25f)));
  r.bFma = __bfloat162float(__hfma(b, __float2bfloat16(2.0f), __float2bfloat16(0.25f)));
  r.hExp = __half2float(hexp(__float2half(0.5f)));
  r.bSqrt = __bfloat162float(hsqrt(__float2bfloat16(2.0f)));
  r.hRn = __half2int_rn(h);
  r.hRd = __half2int_rd(h);
  r.bRu = __bfloat162int_ru(b);
  out[i] = r;
}

#if defined(KVF_CUDA_EMULATION)
#include <cmath>
#include <vector>

EMU_TEST(fp16_bf16_in_kernels) {
  // Values chosen for their rounding: ties go to even.
  const std::vector<float> in = {1.5f,
                                 0.1f,
                                 1.0f + 0x1p-11f,        // half tie -> 1.0
                                 1.0f + 3 * 0x1p-11f,    // half tie -> 1 + 2^-9
                                 1.0f + 0x1p-8f,         // bf16 tie -> 1.0
                                 1.0f + 3 * 0x1p-8f,     // bf16 tie -> 1 + 2^-6
                                 2.5f,
                                 -3.5f,
                                 70000.0f,               // beyond half's max: inf
                                 -0.0f};
  std::vector<HalfResults> out(in.size());
  kvf::emu::launch("halfKernel", halfKernel, dim3(1), dim3(unsigned(in.size())), 0, 1, in.data(), out.data());
  CHECK_EQ(out[0].h, 1.5f);
  CHECK_EQ(out[0].b, 1.5f);
  CHECK_EQ(out[0].hAdd, 2.5f);
  CHECK_EQ(out[0].bAdd, 2.5f);
  CHECK_EQ(out[0].hMathAdd, 3.0f);
  CHECK_EQ(out[0].hFma, 3.25f);
  CHECK_EQ(out[0].bFma, 3.25f);
  CHECK_EQ(out[1].h, 0.0999755859375f);
  CHECK_EQ(out[1].b, 0.10009765625f);
  CHECK_EQ(out[2].h, 1.0f);
  CHECK_EQ(out[3].h, 1.0f + 0x1p-9f);
  CHECK_EQ(out[4].b, 1.0f);
  CHECK_EQ(out[5].b, 1.0f + 0x1p-6f);
  CHECK_EQ(out[6].hRn, 2);
  CHECK_EQ(out[6].hRd, 2);
  CHECK_EQ(out[6].bRu, 3);
  CHECK_EQ(out[7].hRn, -4);
  CHECK_EQ(out[7].hRd, -4);
  CHECK_EQ(out[7].bRu, -3);
  CHECK(std::isinf(out[8].h));
  CHECK_EQ(out[8].b, 70144.0f);  // bf16 keeps float's range: 70000 -> 70144 (8-bit mantissa)
  CHECK(std::signbit(out[9].h) && out[9].h == 0.0f);
  // Math shims round a float result: exp(0.5) = 1.6487..., nearest half 1.6484375.
  CHECK_EQ(out[0].hExp, 1.6484375f);
  CHECK_EQ(out[0].bSqrt, 1.4140625f);
}
#endif
