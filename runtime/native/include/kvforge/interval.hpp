// Closed integer intervals [lo, hi] in doubles, as codegen/passes/boundIntervals.ts computes them:
// the value type of a Variant's generated classify() (kvforge/attn_args.hpp). A boolean is the
// interval {0 = false, 1 = true}.
//
// kvf::iv holds one function per rule of boundIntervals.ts, with the same doubles and the same
// corner cases, so that a kernel's classify() (printed from the mask by
// codegen/backends/cfamily/intervalPrinter.ts) gives exactly what classifyTile() gives in
// TypeScript, NaN included (a bound past 2^1023 overflows to inf, inf - inf is NaN; JavaScript's
// Math.min/max propagate NaN, so these do too). No state, no allocation; host and device.
//
// They are static members of a struct (implicitly inline), KVF_HOST_DEVICE from host_device.hpp.
//
// Exactness: every bound is one IEEE double operation (+ - * / floor fmod) on the operands'
// bounds, exact while the true bound is a safe integer (checkIntegerRange.ts fails a call
// otherwise). Contracting a*b+c into an FMA could change only an inexact result; no rule has one.
#pragma once
#include <cmath>
#include <cstdint>

#include "kvforge/host_device.hpp"

namespace kvf {

struct Interval {
  double lo, hi;
};

// The compact form of a large mask's classify(): the same rules as a table of steps that
// kvf::iv::run() executes (intervalPrinter.ts prints it past a size where straight-line code
// would cost compilers seconds per thousand nodes). Each step writes slot `dst` of a scratch
// array from slots `a`, `b`, `c`; a skip step jumps over the `b` steps of a select branch that its
// condition (slot `a`) rules out, so that branch is not bounded, as in straight-line code.
enum IvOp : uint8_t {
  kIvPoint,    // [value, value]
  kIvIndex,    // index argument a (0 b, 1 h, 2 q, 3 k)
  kIvParam,    // [params[a], params[a]]
  kIvAny,      // any()
  kIvBoolAny,  // bool_any()
  kIvCopy,     // slot a
  kIvNeg, kIvNot, kIvAbs,
  kIvAdd, kIvSub, kIvMul, kIvMin, kIvMax, kIvFloorDiv, kIvMod,
  kIvLt, kIvLe, kIvGt, kIvGe, kIvEq, kIvNe, kIvAnd, kIvOr,
  kIvSelect,          // select(slot a, slot b, slot c)
  kIvSkipUnlessThen,  // unless then_needed(slot a): skip the next b steps
  kIvSkipUnlessElse,  // unless else_needed(slot a): skip the next b steps
};

struct IvStep {
  IvOp op;
  int32_t dst, a, b, c;
  double value;
};

struct iv {
  // --- leaves -----------------------------------------------------------------------------
  // An int constant, an int parameter's value, a point index: [x, x].
  KVF_HOST_DEVICE static Interval point(double x) { return Interval{x, x}; }
  // A float value, or anything unknown: (-inf, +inf).
  KVF_HOST_DEVICE static Interval any() { return Interval{-INFINITY, INFINITY}; }
  // A boolean that may be either: [0, 1].
  KVF_HOST_DEVICE static Interval bool_any() { return Interval{0.0, 1.0}; }

  // --- JavaScript's number operations the rules use ----------------------------------------
  // Math.min of two doubles: NaN if either is NaN; -0 is smaller than +0.
  KVF_HOST_DEVICE static double js_min(double x, double y) {
    if (x != x || y != y) return NAN;
    if (x == y) return std::signbit(x) ? x : y;
    return x < y ? x : y;
  }
  // Math.max of two doubles: NaN if either is NaN; +0 is larger than -0.
  KVF_HOST_DEVICE static double js_max(double x, double y) {
    if (x != x || y != y) return NAN;
    if (x == y) return std::signbit(x) ? y : x;
    return x > y ? x : y;
  }
  // mulB: a bound of an integer product; 0 * inf is 0 (NaN in IEEE).
  KVF_HOST_DEVICE static double mul_b(double x, double y) { return x == 0 || y == 0 ? 0.0 : x * y; }
  // Math.min / Math.max of four corner values.
  KVF_HOST_DEVICE static double min4(double a, double b, double c, double d) { return js_min(js_min(js_min(a, b), c), d); }
  KVF_HOST_DEVICE static double max4(double a, double b, double c, double d) { return js_max(js_max(js_max(a, b), c), d); }
  // isPoint: lo === hi.
  KVF_HOST_DEVICE static bool is_point(Interval a) { return a.lo == a.hi; }
  // tri(alwaysTrue, alwaysFalse): [1,1] when certainly true, else [0,0] when certainly false, else [0,1].
  KVF_HOST_DEVICE static Interval tri(bool always_true, bool always_false) {
    return always_true ? Interval{1.0, 1.0} : always_false ? Interval{0.0, 0.0} : Interval{0.0, 1.0};
  }
  // hull(a, b): [min(a.lo, b.lo), max(a.hi, b.hi)].
  KVF_HOST_DEVICE static Interval hull(Interval a, Interval b) { return Interval{js_min(a.lo, b.lo), js_max(a.hi, b.hi)}; }

  // --- unary (int and bool operands; a float-typed node is any(), printed without its operand)
  // neg: [-a.hi, -a.lo].
  KVF_HOST_DEVICE static Interval neg(Interval a) { return Interval{-a.hi, -a.lo}; }
  // not: [1 - a.hi, 1 - a.lo].
  KVF_HOST_DEVICE static Interval not_(Interval a) { return Interval{1.0 - a.hi, 1.0 - a.lo}; }
  // abs: a when a.lo >= 0; [-a.hi, -a.lo] when a.hi <= 0; else [0, max(-a.lo, a.hi)].
  KVF_HOST_DEVICE static Interval abs(Interval a) {
    if (a.lo >= 0) return a;
    if (a.hi <= 0) return Interval{-a.hi, -a.lo};
    return Interval{0.0, js_max(-a.lo, a.hi)};
  }

  // --- binary on int (or, for eq/ne/and/or, bool) operands; a float comparison is bool_any() ---
  // add: [a.lo + b.lo, a.hi + b.hi].
  KVF_HOST_DEVICE static Interval add(Interval a, Interval b) { return Interval{a.lo + b.lo, a.hi + b.hi}; }
  // sub: [a.lo - b.hi, a.hi - b.lo].
  KVF_HOST_DEVICE static Interval sub(Interval a, Interval b) { return Interval{a.lo - b.hi, a.hi - b.lo}; }
  // mul: min and max of the four corner products mulB(a.lo|a.hi, b.lo|b.hi).
  KVF_HOST_DEVICE static Interval mul(Interval a, Interval b) {
    const double c0 = mul_b(a.lo, b.lo), c1 = mul_b(a.lo, b.hi), c2 = mul_b(a.hi, b.lo), c3 = mul_b(a.hi, b.hi);
    return Interval{min4(c0, c1, c2, c3), max4(c0, c1, c2, c3)};
  }
  // min: [min(a.lo, b.lo), min(a.hi, b.hi)].
  KVF_HOST_DEVICE static Interval min(Interval a, Interval b) { return Interval{js_min(a.lo, b.lo), js_min(a.hi, b.hi)}; }
  // max: [max(a.lo, b.lo), max(a.hi, b.hi)].
  KVF_HOST_DEVICE static Interval max(Interval a, Interval b) { return Interval{js_max(a.lo, b.lo), js_max(a.hi, b.hi)}; }
  // floorDiv: a divisor range containing 0 (b.lo <= 0 <= b.hi) gives any(); else min and max over
  // the four corners x / y, each floored, a NaN corner (inf / inf) counting as 0.
  KVF_HOST_DEVICE static double floor_corner(double x, double y) {
    const double r = x / y;
    return r != r ? 0.0 : std::floor(r);
  }
  KVF_HOST_DEVICE static Interval floor_div(Interval a, Interval b) {
    if (b.lo <= 0 && b.hi >= 0) return any();
    const double c0 = floor_corner(a.lo, b.lo), c1 = floor_corner(a.lo, b.hi), c2 = floor_corner(a.hi, b.lo),
                 c3 = floor_corner(a.hi, b.hi);
    return Interval{min4(c0, c1, c2, c3), max4(c0, c1, c2, c3)};
  }
  // mod (x % m has the sign of x and |x % m| < |m|): a divisor range containing 0 gives any().
  // With m = max(|b.lo|, |b.hi|): when b is a point, a is finite, a.hi - a.lo < m, a lies on one
  // side of 0 and a.lo % m <= a.hi % m (no wrap), the result is [a.lo % m, a.hi % m] (a -0 bound
  // as +0). Else [0, min(m - 1, a.hi)] for a.lo >= 0, [max(-(m - 1), a.lo), 0] for a.hi <= 0,
  // [max(-(m - 1), a.lo), min(m - 1, a.hi)] otherwise. JavaScript's % on doubles is fmod.
  KVF_HOST_DEVICE static Interval mod(Interval a, Interval b) {
    if (b.lo <= 0 && b.hi >= 0) return any();
    const double m = js_max(std::fabs(b.lo), std::fabs(b.hi));
    if (is_point(b) && std::isfinite(a.lo) && std::isfinite(a.hi) && a.hi - a.lo < m && (a.lo >= 0 || a.hi <= 0)) {
      const double lo = std::fmod(a.lo, m);
      const double hi = std::fmod(a.hi, m);
      if (lo <= hi) return Interval{lo == 0 ? 0.0 : lo, hi == 0 ? 0.0 : hi};
    }
    if (a.lo >= 0) return Interval{0.0, js_min(m - 1, a.hi)};
    if (a.hi <= 0) return Interval{js_max(-(m - 1), a.lo), 0.0};
    return Interval{js_max(-(m - 1), a.lo), js_min(m - 1, a.hi)};
  }
  // lt: tri(a.hi < b.lo, a.lo >= b.hi).
  KVF_HOST_DEVICE static Interval lt(Interval a, Interval b) { return tri(a.hi < b.lo, a.lo >= b.hi); }
  // le: tri(a.hi <= b.lo, a.lo > b.hi).
  KVF_HOST_DEVICE static Interval le(Interval a, Interval b) { return tri(a.hi <= b.lo, a.lo > b.hi); }
  // gt: tri(a.lo > b.hi, a.hi <= b.lo).
  KVF_HOST_DEVICE static Interval gt(Interval a, Interval b) { return tri(a.lo > b.hi, a.hi <= b.lo); }
  // ge: tri(a.lo >= b.hi, a.hi < b.lo).
  KVF_HOST_DEVICE static Interval ge(Interval a, Interval b) { return tri(a.lo >= b.hi, a.hi < b.lo); }
  // eq: tri(both points and equal, disjoint).
  KVF_HOST_DEVICE static Interval eq(Interval a, Interval b) {
    return tri(is_point(a) && is_point(b) && a.lo == b.lo, a.hi < b.lo || b.hi < a.lo);
  }
  // ne: tri(disjoint, both points and equal).
  KVF_HOST_DEVICE static Interval ne(Interval a, Interval b) {
    return tri(a.hi < b.lo || b.hi < a.lo, is_point(a) && is_point(b) && a.lo == b.lo);
  }
  // and: [min(a.lo, b.lo), min(a.hi, b.hi)].
  KVF_HOST_DEVICE static Interval and_(Interval a, Interval b) { return Interval{js_min(a.lo, b.lo), js_min(a.hi, b.hi)}; }
  // or: [max(a.lo, b.lo), max(a.hi, b.hi)].
  KVF_HOST_DEVICE static Interval or_(Interval a, Interval b) { return Interval{js_max(a.lo, b.lo), js_max(a.hi, b.hi)}; }

  // --- select c ? t : e --------------------------------------------------------------------
  // Only the branch the condition leaves possible is bounded: the caller computes t only when
  // then_needed(c) and e only when else_needed(c) (a skipped one may hold anything). As in
  // boundIntervals: then when c.lo === 1 or c.hi !== 0, else when c.lo !== 1.
  KVF_HOST_DEVICE static bool then_needed(Interval c) { return c.lo == 1 || !(c.hi == 0); }
  KVF_HOST_DEVICE static bool else_needed(Interval c) { return !(c.lo == 1); }
  // t when c.lo === 1, e when c.hi === 0, else hull(t, e).
  KVF_HOST_DEVICE static Interval select(Interval c, Interval t, Interval e) {
    return c.lo == 1 ? t : c.hi == 0 ? e : hull(t, e);
  }

  // --- the compact form ------------------------------------------------------------------------
  // Run `n` steps over the scratch slots `s`; the result is the last step's slot.
  KVF_HOST_DEVICE static Interval run(const IvStep* steps, int32_t n, Interval* s, Interval b, Interval h, Interval q,
                                      Interval k, const double* params) {
    for (int32_t i = 0; i < n; i++) {
      const IvStep& st = steps[i];
      Interval& d = s[st.dst];
      switch (st.op) {
        case kIvPoint: d = point(st.value); break;
        case kIvIndex: d = st.a == 0 ? b : st.a == 1 ? h : st.a == 2 ? q : k; break;
        case kIvParam: d = point(params[st.a]); break;
        case kIvAny: d = any(); break;
        case kIvBoolAny: d = bool_any(); break;
        case kIvCopy: d = s[st.a]; break;
        case kIvNeg: d = neg(s[st.a]); break;
        case kIvNot: d = not_(s[st.a]); break;
        case kIvAbs: d = abs(s[st.a]); break;
        case kIvAdd: d = add(s[st.a], s[st.b]); break;
        case kIvSub: d = sub(s[st.a], s[st.b]); break;
        case kIvMul: d = mul(s[st.a], s[st.b]); break;
        case kIvMin: d = min(s[st.a], s[st.b]); break;
        case kIvMax: d = max(s[st.a], s[st.b]); break;
        case kIvFloorDiv: d = floor_div(s[st.a], s[st.b]); break;
        case kIvMod: d = mod(s[st.a], s[st.b]); break;
        case kIvLt: d = lt(s[st.a], s[st.b]); break;
        case kIvLe: d = le(s[st.a], s[st.b]); break;
        case kIvGt: d = gt(s[st.a], s[st.b]); break;
        case kIvGe: d = ge(s[st.a], s[st.b]); break;
        case kIvEq: d = eq(s[st.a], s[st.b]); break;
        case kIvNe: d = ne(s[st.a], s[st.b]); break;
        case kIvAnd: d = and_(s[st.a], s[st.b]); break;
        case kIvOr: d = or_(s[st.a], s[st.b]); break;
        case kIvSelect: d = select(s[st.a], s[st.b], s[st.c]); break;
        case kIvSkipUnlessThen: if (!then_needed(s[st.a])) i += st.b; break;
        case kIvSkipUnlessElse: if (!else_needed(s[st.a])) i += st.b; break;
      }
    }
    return s[steps[n - 1].dst];
  }

  // --- the tile class ----------------------------------------------------------------------
  // classifyTile: 0 = EMPTY (r.hi === 0: the mask is false on the whole box), 2 = FULL
  // (r.lo === 1: true on the whole box), else 1 = PARTIAL.
  KVF_HOST_DEVICE static uint8_t tile_class(Interval r) { return r.hi == 0 ? 0 : r.lo == 1 ? 2 : 1; }
};

}  // namespace kvf
