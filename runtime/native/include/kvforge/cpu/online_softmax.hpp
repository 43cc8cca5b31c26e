// Online softmax over key blocks, in log2 units (scores were multiplied by log2(e)).
//
// Per row the state is m (largest score seen, -inf before any admissible key) and l (sum of
// 2^(s - m) over the keys seen); the output accumulator O holds sum p * v with the same
// reference m. When a new block raises m, O and l are rescaled by alpha = 2^(m_old - m_new).
//
// -inf handling: while a row has seen only -inf scores, m stays -inf and the exponent is taken
// relative to 0 instead, so no (-inf) - (-inf) = NaN appears: p = 0, alpha = 0, l = 0. A row
// that ends with l == 0 outputs exactly 0 and lse = -inf.
// NaN: a NaN score makes p, hence l, hence that row's output NaN; no other row is touched.
// Underflow: p = 2^(s - m) is flushed to exactly 0 below 2^-126 (exp2.hpp). Such a key, like a
// masked one, then contributes nothing to O even if its value is NaN or Inf (pv.hpp drops p == 0
// products by selection); this is the one place where a NaN in an admissible value does not
// propagate, and the key's true weight is below 1e-38 of the row's largest.
#pragma once
#include <cmath>
#include <cstdint>
#include "kvforge/cpu/exp2.hpp"
#include "kvforge/cpu/score_mask.hpp"

namespace kvf::cpu {

// Update rows [0, nRows) with a block of nkPad scores each (nkPad a multiple of 16, padding -inf).
// Replaces S by probabilities p, sets alpha[r], updates m and l, and records zeroBits[r * nBlk +
// blk] = bit j set when p of key blk*16 + j is exactly 0.
inline void softmaxUpdate(float* S, int64_t ldS, int nRows, int nkPad, float* m, float* l, float* alpha,
                          uint32_t* zeroBits) {
  const int nBlk = nkPad / kKeyBlock;
#if KVF_CPU_AVX512
  // One zmm per 16-key block.
  for (int r = 0; r < nRows; ++r) {
    float* s = S + r * ldS;
    Vec16 mx0 = set16(-INFINITY), mx1 = set16(-INFINITY);
    int blk = 0;
    for (; blk + 2 <= nBlk; blk += 2) {
      mx0 = max(mx0, load16(s + blk * kKeyBlock));
      mx1 = max(mx1, load16(s + blk * kKeyBlock + 16));
    }
    if (blk < nBlk) mx0 = max(mx0, load16(s + blk * kKeyBlock));
    const float mx = hmax(max(mx0, mx1));
    const float mOld = m[r];
    const float mNew = mx > mOld ? mx : mOld;  // NaN: either outcome makes the row NaN below
    const float ref = mNew == -INFINITY ? 0.0f : mNew;
    const float a = exp2Scalar(mOld - ref);
    const Vec16 refv = set16(ref);
    Vec16 sum0 = zero16(), sum1 = zero16();
    blk = 0;
    for (; blk + 2 <= nBlk; blk += 2) {
      float* sb = s + blk * kKeyBlock;
      const Vec16 p0 = exp2(sub(load16(sb), refv));
      const Vec16 p1 = exp2(sub(load16(sb + 16), refv));
      store16(sb, p0);
      store16(sb + 16, p1);
      sum0 = add(sum0, p0);
      sum1 = add(sum1, p1);
      zeroBits[r * nBlk + blk] = zeroBits16(p0);
      zeroBits[r * nBlk + blk + 1] = zeroBits16(p1);
    }
    if (blk < nBlk) {
      float* sb = s + blk * kKeyBlock;
      const Vec16 p0 = exp2(sub(load16(sb), refv));
      store16(sb, p0);
      sum0 = add(sum0, p0);
      zeroBits[r * nBlk + blk] = zeroBits16(p0);
    }
    m[r] = mNew;
    l[r] = l[r] * a + hsum(add(sum0, sum1));
    alpha[r] = a;
  }
#else
  for (int r = 0; r < nRows; ++r) {
    float* s = S + r * ldS;
    // Two accumulators per pass halve the max/add dependency chains.
    Vec8 mx0 = set8(-INFINITY), mx1 = set8(-INFINITY);
    for (int j = 0; j < nkPad; j += kKeyBlock) {
      mx0 = max(mx0, load8(s + j));
      mx1 = max(mx1, load8(s + j + 8));
    }
    const float mx = hmax(max(mx0, mx1));
    const float mOld = m[r];
    const float mNew = mx > mOld ? mx : mOld;  // NaN: either outcome makes the row NaN below
    const float ref = mNew == -INFINITY ? 0.0f : mNew;
    const float a = exp2Scalar(mOld - ref);
    const Vec8 refv = set8(ref);
    Vec8 sum0 = zero8(), sum1 = zero8();
    for (int blk = 0; blk < nBlk; ++blk) {
      float* sb = s + blk * kKeyBlock;
      const Vec8 p0 = exp2(sub(load8(sb), refv));
      const Vec8 p1 = exp2(sub(load8(sb + 8), refv));
      store8(sb, p0);
      store8(sb + 8, p1);
      sum0 = add(sum0, p0);
      sum1 = add(sum1, p1);
      zeroBits[r * nBlk + blk] = zeroBits8(p0) | (zeroBits8(p1) << 8);
    }
    m[r] = mNew;
    l[r] = l[r] * a + hsum(add(sum0, sum1));
    alpha[r] = a;
  }
#endif
}

// What the P*V kernel does with one block of 16 keys for a group of rows.
enum BlockMode : uint8_t {
  kBlockSkip = 0,  // every p is 0 (all masked or underflowed): nothing to add
  kBlockFma = 1,   // no p is 0: plain fused multiply-adds
  kBlockSafe = 2,  // some p are 0: drop those products by selection (0 * NaN must not leak)
};

// Modes of the nBlk blocks for rows [r0, r1), looking only at the nk valid keys.
inline void blockModes(const uint32_t* zeroBits, int nBlk, int r0, int r1, int nk, BlockMode* modes) {
  for (int blk = 0; blk < nBlk; ++blk) {
    const int valid = nk - blk * kKeyBlock;
    const uint32_t vmask = valid >= kKeyBlock ? 0xffffu : ((1u << valid) - 1u);
    uint32_t all = vmask, any = 0;
    for (int r = r0; r < r1; ++r) {
      all &= zeroBits[r * nBlk + blk];
      any |= zeroBits[r * nBlk + blk];
    }
    any &= vmask;
    modes[blk] = all == vmask ? kBlockSkip : any ? kBlockSafe : kBlockFma;
  }
}

// Write one finished row: out = O / l and lse in natural log; l == 0 gives exactly 0 and -inf.
inline void finalizeRow(const float* O, float m, float l, int64_t Dv, float* out, float* lse) {
  if (l == 0.0f) {
    for (int64_t c = 0; c < Dv; ++c) out[c] = 0.0f;
    *lse = -INFINITY;
    return;
  }
  for (int64_t c = 0; c < Dv; ++c) out[c] = O[c] / l;
  *lse = (m + std::log2(l)) * kLn2;
}

}  // namespace kvf::cpu
