// The CPU forward of one attention variant: what generated kernel files instantiate.
//
// A Variant (written by the code generator, see test/kernels/ for hand-written examples) is a
// class with
//   static constexpr int  kTileQ, kTileK;      // the plan's tiles (classification granularity)
//   static constexpr bool kHasMask, kHasScore; // false: mask()/score() are never called
//   explicit Variant(const double* params);    // runtime parameters in declared order
//   uint8_t classify(Interval b, Interval h, Interval q, Interval k) const;  // optional, generated:
//       the class of a box of (batch, query head, query position, key position) ranges:
//       0 EMPTY, 1 PARTIAL, 2 FULL (without it every box is PARTIAL); and optionally
//   static constexpr bool kReadsB, kReadsH;    // whether the mask reads b / h
//   bool  mask(int64_t b, int64_t h, int64_t q, int64_t k) const;            // true = admissible
//   float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const;  // s already scaled
// where q and k are token POSITIONS and h is the query head. mask() and score() must be pure
// and thread-safe (they are called concurrently, in no particular order, and possibly for
// padding-free subsets only).
// Optionally `static constexpr int kNumParams` lets the glue check the params array's length.
//
// Semantics: semantics.md section 1 and attn_args.hpp. In short, per row: softmax over the
// admissible keys of score(scale * q.k), out = weighted values, lse = natural log-sum-exp;
// no admissible key (or all scores -inf) -> out 0, lse -inf; NaN in an admissible key/value
// reaches only the rows that admit it. One documented deviation: a key whose probability
// underflows to exactly 0 in f32 (below 2^-126 of the row's largest) contributes nothing, so a
// NaN/Inf value there is dropped like a masked key's (online_softmax.hpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include "kvforge/attn_args.hpp"
#include "kvforge/cpu/decode.hpp"
#include "kvforge/cpu/mass.hpp"
#include "kvforge/cpu/prefill.hpp"

namespace kvf::cpu {

// Throws std::invalid_argument when `a` is not a consistent call (the glue checks everything
// first with messages for users; this is the kernel's own guard against a caller bypassing it).
inline void checkCall(const AttnArgs& a) {
  checkArgsVersion(a, 2, "kvforge cpu kernel");
  const auto fail = [](const std::string& what) { throw std::invalid_argument("kvforge cpu kernel: " + what); };
  if (a.kv.Hkv <= 0 || a.Hq % a.kv.Hkv != 0) fail("Hq must be a multiple of Hkv > 0");
  if (a.kv.B != a.B) fail("the slots' batch differs from the queries'");
  if (!validDType(int32_t(a.kv.dtype))) fail("unknown storage dtype");
  if (a.maxRows < 0 || a.kv.maxLen < 0 || a.kv.D <= 0 || a.kv.Dv <= 0) fail("negative or zero sizes");
  if (massOf(a) && !a.lse) fail("the attention-mass output needs the lse output");
}

template <class V, DType T>
void forwardAs(const V& var, const AttnArgs& a) {
  bool massDone = false;
  if (a.maxRows <= kDecodeMaxLq) massDone = decodeForward<V, T>(var, a);
  else massDone = prefillForward<V, T>(var, a);
  if (massOf(a) && !massDone) massPass<V, T>(var, a);  // after the forward: it reads the lse just written
}

template <class V>
void forward(const V& var, const AttnArgs& a) {
  static_assert(V::kTileQ > 0 && V::kTileK > 0, "a Variant needs positive kTileQ and kTileK");
  checkCall(a);
  if (a.B <= 0 || a.Hq <= 0 || a.maxRows <= 0) return;  // no query rows: nothing to write
  switch (a.kv.dtype) {
    case DType::F32: forwardAs<V, DType::F32>(var, a); break;
    case DType::F16: forwardAs<V, DType::F16>(var, a); break;
    case DType::BF16: forwardAs<V, DType::BF16>(var, a); break;
  }
}

// The registry's entry point for variant V (see registry.hpp).
template <class V>
void invoke(const AttnArgs& a, const double* params) {
  const V var(params);
  forward(var, a);
}

}  // namespace kvf::cpu
