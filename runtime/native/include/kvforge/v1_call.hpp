// Version 1 of the kernel interface as an adapter onto AttnArgs (attn_args.hpp): contiguous host
// arrays in the layouts the typed-array API documents,
//   q [B, Hq, Lq, D]   k [B, Hkv, Lk, D]   v [B, Hkv, Lk, Dv]   out [B, Hq, Lq, Dv]   lse [B, Hq, Lq],
// one query position map qpos [Lq] and one key position map kpos [Lk] shared by every sequence
// and head. V1Call owns the small arrays v2 needs (row starts and counts, lengths, the position
// summary of kpos) and points everything else at the caller's arrays: nothing large is copied.
// Strides of 0 broadcast kpos, the lengths and the summary to every (b, h).
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>
#include <vector>
#include "kvforge/attn_args.hpp"
#include "kvforge/staging.hpp"

namespace kvf {

struct V1Layout {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  float* lse = nullptr;
  int64_t B = 0, Hq = 0, Hkv = 0, Lq = 0, Lk = 0, D = 0, Dv = 0;
  double scale = 0.0;
  const int32_t* qpos = nullptr;  // [Lq]
  const int32_t* kpos = nullptr;  // [Lk]
  int threads = 1;
};

class V1Call {
 public:
  explicit V1Call(const V1Layout& x) {
    rowStart_.assign(size_t(std::max<int64_t>(x.B, 1)), 0);
    rowCount_.assign(size_t(std::max<int64_t>(x.B, 1)), int32_t(x.Lq));
    len_ = int32_t(x.Lk);
    const int64_t nSum = (x.Lk + kSummaryTile - 1) / kSummaryTile;
    sumMin_.assign(size_t(std::max<int64_t>(nSum, 1)), INT32_MAX);
    sumMax_.assign(size_t(std::max<int64_t>(nSum, 1)), INT32_MIN);
    for (int64_t s = 0; s < x.Lk; ++s) {
      const size_t t = size_t(s / kSummaryTile);
      sumMin_[t] = std::min(sumMin_[t], x.kpos[s]);
      sumMax_[t] = std::max(sumMax_[t], x.kpos[s]);
    }
    AttnArgs& a = args_;
    a.B = x.B, a.Hq = x.Hq;
    a.rowStart = rowStart_.data(), a.rowCount = rowCount_.data();
    a.maxRows = x.Lq, a.totalRows = x.B * x.Lq;
    a.q = x.q, a.qStrideB = x.Hq * x.Lq * x.D, a.qStrideH = x.Lq * x.D, a.qStrideRow = x.D;
    a.qpos = x.qpos, a.qposStrideB = 0;
    a.out = x.out, a.oStrideB = x.Hq * x.Lq * x.Dv, a.oStrideH = x.Lq * x.Dv, a.oStrideRow = x.Dv;
    a.lse = x.lse, a.lseStrideB = x.Hq * x.Lq, a.lseStrideH = x.Lq, a.lseStrideRow = 1;
    SlotView& kv = a.kv;
    kv.k = x.k, kv.v = x.v, kv.dtype = DType::F32;
    kv.B = x.B, kv.Hkv = x.Hkv, kv.D = x.D, kv.Dv = x.Dv, kv.capacity = x.Lk, kv.maxLen = x.Lk;
    kv.kStrideB = x.Hkv * x.Lk * x.D, kv.kStrideH = x.Lk * x.D, kv.kStrideS = x.D;
    kv.vStrideB = x.Hkv * x.Lk * x.Dv, kv.vStrideH = x.Lk * x.Dv, kv.vStrideS = x.Dv;
    kv.pos = x.kpos, kv.posStrideB = 0, kv.posStrideH = 0;
    kv.len = &len_, kv.lenStrideB = 0, kv.lenStrideH = 0;
    kv.sumMin = sumMin_.data(), kv.sumMax = sumMax_.data(), kv.sumStrideB = 0, kv.sumStrideH = 0;
    a.scale = x.scale, a.threads = x.threads;
  }
  V1Call(const V1Call&) = delete;
  V1Call& operator=(const V1Call&) = delete;

  const AttnArgs& args() const { return args_; }
  // k and v hold `t` values (rounded by the caller) instead of f32.
  void setStorage(DType t) { args_.kv.dtype = t; }

  // Point every array of the call at its copy in `st`'s target memory (no-op on host-addressable
  // targets); st.finish() after the kernel brings out and lse back.
  void stage(Staging& st) {
    AttnArgs& a = args_;
    SlotView& kv = a.kv;
    const size_t rows = size_t(a.B * a.Hq * a.maxRows), es = size_t(dtypeBytes(kv.dtype));
    const size_t keys = size_t(kv.B * kv.Hkv * kv.maxLen), nSum = sumMin_.size();
    a.q = static_cast<const float*>(st.in(0, a.q, rows * size_t(kv.D) * 4));
    kv.k = st.in(1, kv.k, keys * size_t(kv.D) * es);
    kv.v = st.in(2, kv.v, keys * size_t(kv.Dv) * es);
    kv.pos = static_cast<const int32_t*>(st.in(3, kv.pos, size_t(kv.maxLen) * 4));
    kv.len = static_cast<const int32_t*>(st.in(4, kv.len, 4));
    kv.sumMin = static_cast<const int32_t*>(st.in(5, kv.sumMin, nSum * 4));
    kv.sumMax = static_cast<const int32_t*>(st.in(6, kv.sumMax, nSum * 4));
    a.rowStart = static_cast<const int32_t*>(st.in(7, a.rowStart, rowStart_.size() * 4));
    a.rowCount = static_cast<const int32_t*>(st.in(8, a.rowCount, rowCount_.size() * 4));
    a.qpos = static_cast<const int32_t*>(st.in(9, a.qpos, size_t(a.maxRows) * 4));
    a.out = static_cast<float*>(st.out(10, a.out, rows * size_t(kv.Dv) * 4));
    a.lse = static_cast<float*>(st.out(11, a.lse, rows * 4));
  }

 private:
  std::vector<int32_t> rowStart_, rowCount_, sumMin_, sumMax_;
  int32_t len_ = 0;
  AttnArgs args_;
};

}  // namespace kvf
