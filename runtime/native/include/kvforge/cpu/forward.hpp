// The CPU forward of one attention variant: what generated kernel files instantiate.
//
// A Variant (written by the code generator, see test/kernels/ for hand-written examples) is a
// class with
//   static constexpr int  kTileQ, kTileK;      // the plan's tiles; the tile map uses them
//   static constexpr bool kHasMask, kHasScore; // false: mask()/score() are never called
//   explicit Variant(const double* params);    // runtime parameters in declared order
//   bool  mask(int64_t b, int64_t h, int64_t q, int64_t k) const;            // true = admissible
//   float score(float s, int64_t b, int64_t h, int64_t q, int64_t k) const;  // s already scaled
// where q and k are token POSITIONS and h is the query head. mask() and score() must be pure
// and thread-safe (they are called concurrently, in no particular order, and possibly for
// padding-free subsets only).
// Optionally `static constexpr int kNumParams` lets the glue check the params array's length.
//
// Semantics: semantics.md section 1 and forward_args.hpp. In short, per row: softmax over the
// admissible keys of score(scale * q.k), out = weighted values, lse = natural log-sum-exp;
// no admissible key (or all scores -inf) -> out 0, lse -inf; NaN in an admissible key/value
// reaches only the rows that admit it. One documented deviation: a key whose probability
// underflows to exactly 0 in f32 (below 2^-126 of the row's largest) contributes nothing, so a
// NaN/Inf value there is dropped like a masked key's (online_softmax.hpp).
#pragma once
#include <algorithm>
#include <cmath>
#include "kvforge/forward_args.hpp"
#include "kvforge/cpu/decode.hpp"
#include "kvforge/cpu/prefill.hpp"

namespace kvf::cpu {

template <class V>
void forward(const V& var, const ForwardArgs& a) {
  static_assert(V::kTileQ > 0 && V::kTileK > 0, "a Variant needs positive kTileQ and kTileK");
  if (a.B <= 0 || a.Hq <= 0 || a.Lq <= 0) return;  // no query rows: nothing to write
  if (a.Lk <= 0) {                                  // no keys: every row is empty
    const int64_t rows = a.B * a.Hq * a.Lq;
    std::fill(a.out, a.out + rows * a.Dv, 0.0f);
    std::fill(a.lse, a.lse + rows, -INFINITY);
    return;
  }
  if (a.Lq <= kDecodeMaxLq) decodeForward(var, a);
  else prefillForward(var, a);
}

// The registry's entry point for variant V (see registry.hpp).
template <class V>
void invoke(const ForwardArgs& a, const double* params) {
  const V var(params);
  forward(var, a);
}

}  // namespace kvf::cpu
