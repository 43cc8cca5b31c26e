// Closed integer intervals [lo, hi] in doubles, as codegen/passes/boundIntervals.ts computes them:
// the value type of a Variant's generated classify() (kvforge/attn_args.hpp). A boolean is the
// interval {0 = false, 1 = true}.
#pragma once

namespace kvf {

struct Interval {
  double lo, hi;
};

}  // namespace kvf
