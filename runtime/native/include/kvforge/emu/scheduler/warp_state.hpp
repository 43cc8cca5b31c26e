// Per-warp state of warp collectives (shuffles, votes, __syncwarp) and their lane arithmetic.
//
// A collective is a rendezvous of the lanes named in its mask: every lane stores its operand in
// its slot and waits; the last lane to arrive computes every lane's result into the result
// slots and releases the others. Slots are per lane, and a lane takes part in at most one
// pending rendezvous (it is blocked in it), so rendezvous with disjoint or nested masks may be
// pending at once without clobbering each other.
//
// Lanes that do not exist (a partial last warp, e.g. lanes 16..31 of warp 1 in a 48-thread
// block) are dropped from every mask, as on a GPU where they are inactive from the start.
#pragma once
#include <array>
#include <cstdint>
#include "kvforge/emu/scheduler/thread_state.hpp"

namespace kvf::emu::detail {

enum class WarpOp : uint8_t { ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, Any, All, SyncWarp };

inline const char* warpOpName(WarpOp op) {
  switch (op) {
    case WarpOp::ShflIdx: return "__shfl_sync";
    case WarpOp::ShflUp: return "__shfl_up_sync";
    case WarpOp::ShflDown: return "__shfl_down_sync";
    case WarpOp::ShflXor: return "__shfl_xor_sync";
    case WarpOp::Ballot: return "__ballot_sync";
    case WarpOp::Any: return "__any_sync";
    case WarpOp::All: return "__all_sync";
    case WarpOp::SyncWarp: return "__syncwarp";
  }
  return "?";
}

inline bool isShuffle(WarpOp op) { return op <= WarpOp::ShflXor; }

// What a shuffle returns for a source lane that is not in the mask (or does not exist): all bits
// set, i.e. NaN for float and double, -1 for signed integers. Undefined on a GPU; a kernel that
// discards such values (the usual guarded tree reduction) is unaffected, one that uses them gets
// NaN instead of a plausible number.
constexpr uint64_t kShufflePoison = ~uint64_t(0);

struct Rendezvous {
  unsigned mask = 0;     // lanes taking part (existing lanes of the caller's mask)
  unsigned arrived = 0;  // lanes that reached it
  WarpOp op = WarpOp::SyncWarp;
  int width = 32;
  Site site;             // the first arriving lane's call
};

struct WarpState {
  unsigned existing = 0;  // lanes present in the block
  unsigned exited = 0;    // lanes whose thread returned from the kernel
  unsigned pendingUsed = 0;  // bit i: pending[i] in use
  std::array<uint64_t, 32> value{};
  std::array<int, 32> param{};
  std::array<uint64_t, 32> result{};
  std::array<Rendezvous, 32> pending{};

  int findPending(unsigned mask) const {
    for (unsigned u = pendingUsed; u != 0; u &= u - 1) {
      const int i = __builtin_ctz(u);
      if (pending[i].mask == mask) return i;
    }
    return -1;
  }
  // The pending rendezvous that waits for `lane`, or -1.
  int pendingNaming(unsigned lane) const {
    for (unsigned u = pendingUsed; u != 0; u &= u - 1) {
      const int i = __builtin_ctz(u);
      if ((pending[i].mask >> lane) & 1u) return i;
    }
    return -1;
  }
  int open(unsigned mask, WarpOp op, int width, const Site& site) {
    const int i = __builtin_ctz(~pendingUsed);  // at most 32 pending: each holds a blocked lane
    pendingUsed |= 1u << i;
    pending[i] = Rendezvous{mask, 0u, op, width, site};
    return i;
  }

  // Every lane's result once all lanes of r have arrived. Shuffles follow PTX shfl.sync exactly:
  // c = ((32 - width) << 8) | clamp, clamp = 0 for up and 31 otherwise; a source lane outside
  // the lane's segment (or beyond it, for up/down/xor) yields the lane's own value.
  void complete(const Rendezvous& r) {
    if (isShuffle(r.op)) {
      const int segmask = (32 - r.width) & 31;
      const int clamp = r.op == WarpOp::ShflUp ? 0 : 31;
      for (unsigned u = r.mask; u != 0; u &= u - 1) {
        const int lane = __builtin_ctz(u);
        const int b = param[lane] & 31;
        const int maxLane = (lane & segmask) | (clamp & ~segmask);
        const int minLane = lane & segmask;
        int j = lane;
        bool inRange = true;
        switch (r.op) {
          case WarpOp::ShflUp: j = lane - b, inRange = j >= maxLane; break;
          case WarpOp::ShflDown: j = lane + b, inRange = j <= maxLane; break;
          case WarpOp::ShflXor: j = lane ^ b, inRange = j <= maxLane; break;
          default: j = minLane | (b & ~segmask), inRange = j <= maxLane; break;
        }
        if (!inRange) j = lane;
        result[lane] = ((r.mask >> j) & 1u) ? value[j] : kShufflePoison;
      }
    } else if (r.op != WarpOp::SyncWarp) {
      unsigned ballot = 0;
      for (unsigned u = r.mask; u != 0; u &= u - 1) {
        const int lane = __builtin_ctz(u);
        if (value[lane] != 0) ballot |= 1u << lane;
      }
      const uint64_t out = r.op == WarpOp::Ballot ? ballot : r.op == WarpOp::Any ? (ballot != 0) : (ballot == r.mask);
      for (unsigned u = r.mask; u != 0; u &= u - 1) result[__builtin_ctz(u)] = out;
    }
  }
};

}  // namespace kvf::emu::detail
