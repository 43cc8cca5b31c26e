// The attention mass of a decode unit without a second pass over the keys (AttnArgs v3,
// attn_args.hpp; the pass it replaces is mass.hpp's).
//
// A slot's mass needs each row's FINAL lse, which the online softmax only knows after the last
// key. The decode unit already computes, per 64-key step, p~[r][s] = 2^(s2[r][s] - ref[r]) with
// ref[r] the row's running max after the step (online_softmax.hpp; s2 is the score in log2
// units). The tape keeps those p~ of the unit's rows (R floats per slot) and each step's refs;
// once the lse is known,
//   mass[s] += sum_r p~[r][s] * 2^(ref[r](step of s) - lse2[r])          (rows r in order g, i)
// which equals sum_r 2^(s2[r][s] - lse2[r]) up to two roundings. That is R multiply-adds per slot
// instead of re-reading the keys and recomputing Q*K^T (R*D multiply-adds per slot) and exp2.
//
// What the tape holds is the unit's R x len block of unnormalised probabilities: R = G * rows
// (8 floats per slot for one query row of a GQA group of 8, i.e. 32 bytes against 256 of a bf16
// K+V row at D = 64). It is scratch of the unit, never a matrix over the call's query rows
// (prefill keeps the recompute pass). It is capped at kMassTapeFloats; a larger unit or call
// falls back to the recompute pass, so memory stays bounded whatever the shape.
//
// Exactness: a row step whose max is still -inf holds only zeros and is skipped (its factor
// 2^(0 - lse2) could overflow, and inf * 0 is NaN). Otherwise ref <= final max <= lse2, so the
// factor is at most 1. A NaN score makes that row's lse NaN and so every slot it scored NaN, as
// in the recompute pass. The sum over rows is in a fixed order, so a call's result is
// deterministic; like the attention output, its last bits depend on whether the keys were split
// into chunks (a chunk's p~ are relative to the chunk's own running max).
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include "kvforge/attn_args.hpp"
#include "kvforge/cpu/exp2.hpp"
#include "kvforge/cpu/score_mask.hpp"
#include "kvforge/cpu/scratch.hpp"
#include "kvforge/cpu/vec8.hpp"

namespace kvf::cpu {

// Floats of p~ one tape may hold (16 MiB): above it, the recompute pass.
constexpr int64_t kMassTapeFloats = int64_t(1) << 22;

// The limit in force: kMassTapeFloats, which a test lowers (check_kernel sets 0) so the recompute
// pass runs on shapes whose tapes would fit. One instance per program (an inline function's static).
inline std::atomic<int64_t>& massTapeLimit() {
  static std::atomic<int64_t> limit{kMassTapeFloats};
  return limit;
}

struct MassTapeStep {
  int64_t k0;
  int n;
};

// One unit's view of a tape: p~ of its R rows, slot-indexed (row r, slot s at p[r * ldP + s]),
// and the steps it recorded with R refs each. Units over disjoint slot ranges of one (b, hk) may
// share p (split decode); each has its own steps and refs.
struct MassTape {
  float* p = nullptr;
  int64_t ldP = 0;
  float* refs = nullptr;  // [step][R]
  MassTapeStep* steps = nullptr;
  int64_t nSteps = 0, maxSteps = 0;
  int R = 0;

  // Slots [k0, k0 + nk) of a step, after softmaxUpdate: S holds p~ (rows 0..R-1, ldS apart) and
  // m the rows' running max, the reference of those p~ (-inf: nothing admissible yet).
  void record(const float* S, int64_t ldS, int64_t k0, int nk, const float* m) {
    if (nSteps >= maxSteps) fail("mass tape: more decode steps than the unit's tiles allow");
    for (int r = 0; r < R; ++r) std::copy_n(S + r * ldS, nk, p + r * ldP + k0);
    std::copy_n(m, R, refs + nSteps * R);
    steps[nSteps++] = MassTapeStep{k0, nk};
  }

  // Adds the recorded steps' mass into mass[k0 ...] (the slots of (b, hk)); lse2[r] is row r's
  // final lse in log2 units (-inf: the row saw no admissible key and adds nothing).
  void finish(const float* lse2, float* mass) const {
    float c[kMaxRows];
    const float* rowP[kMaxRows];
    for (int64_t t = 0; t < nSteps; ++t) {
      const MassTapeStep st = steps[t];
      const float* ref = refs + t * R;
      // The rows that add anything in this step, with their factors (rows in order g, i).
      int nA = 0;
      for (int r = 0; r < R; ++r) {
        if (lse2[r] == -INFINITY || ref[r] == -INFINITY) continue;
        const float f = exp2Scalar(ref[r] - lse2[r]);
        if (f == 0.0f) continue;
        c[nA] = f, rowP[nA] = p + r * ldP + st.k0, ++nA;
      }
      if (nA == 0) continue;
      float* out = mass + st.k0;
      int j = 0;
      for (; j + 16 <= st.n; j += 16) {
        Vec8 a0 = zero8(), a1 = zero8();
        for (int x = 0; x < nA; ++x) {
          const Vec8 f = set8(c[x]);
          a0 = fma(f, load8(rowP[x] + j), a0);
          a1 = fma(f, load8(rowP[x] + j + 8), a1);
        }
        store8(out + j, add(load8(out + j), a0));
        store8(out + j + 8, add(load8(out + j + 8), a1));
      }
      for (; j < st.n; ++j) {
        float acc = 0.0f;
        for (int x = 0; x < nA; ++x) acc = std::fma(c[x], rowP[x][j], acc);
        out[j] += acc;
      }
    }
  }

  // The most rows a tape serves (the factors live on the stack); units with more rows (a GQA group
  // above 256 / rows query heads) use the recompute pass.
  static constexpr int kMaxRows = 256;

  [[noreturn]] static void fail(const char* what) { throw std::logic_error(what); }
};

// The memory of tapes, kept by a thread across calls (a serving loop's steady state allocates
// nothing). view() hands out the tape of one unit: rows [0, R) of p at pOffset, and the steps and
// refs of unit slot `unit` (each unit slot has room for maxSteps steps of up to Rmax rows).
struct MassTapeMemory {
  ReusedScratch<float> p, refs;
  ReusedScratch<MassTapeStep> steps;

  void reserve(int64_t pFloats, int64_t unitSlots, int64_t maxSteps, int64_t Rmax) {
    p.reserve(size_t(pFloats), "attention-mass tape");
    refs.reserve(size_t(unitSlots * maxSteps * Rmax), "attention-mass tape");
    steps.reserve(size_t(unitSlots * maxSteps), "attention-mass tape");
  }
  MassTape view(int64_t pOffset, int64_t ldP, int64_t unit, int64_t maxSteps, int64_t Rmax, int R) {
    MassTape t;
    t.p = p.data() + pOffset, t.ldP = ldP;
    t.refs = refs.data() + unit * maxSteps * Rmax;
    t.steps = steps.data() + unit * maxSteps;
    t.maxSteps = maxSteps, t.R = R;
    return t;
  }
};

// Steps a unit over key tiles [kt0, kt1) of tileK slots records at most.
inline int64_t massTapeSteps(int64_t kt0, int64_t kt1, int64_t tileK, int step) {
  return std::max<int64_t>(kt1 - kt0, 0) * ((tileK + step - 1) / step);
}

}  // namespace kvf::cpu
