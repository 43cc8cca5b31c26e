// Warp collectives on the block scheduler: every lane named in the mask must reach the same
// call (same intrinsic, width and call site; __syncwarp calls may differ in site, as CUDA allows
// on sm_70+). The last lane to arrive computes all results and runs on; the others wait.
//
// Errors (the calling fiber throws; block.hpp abandons the block):
// - KernelError: the mask leaves out the calling lane; a shuffle width that is not a power of
//   two in [1, 32]. Both undefined behaviour on a GPU.
// - DeadlockError: a lane of the mask has exited (when the call is reached, or later while the
//   others wait); lanes of one mask at different calls; nothing runnable while lanes wait.
#pragma once
#include <cstdint>
#include "kvforge/emu/scheduler/block.hpp"

namespace kvf::emu::detail {

inline uint64_t BlockRunner::warpCollective(WarpOp op, unsigned mask, uint64_t bits, int param, int width,
                                            const Site& site) {
  if (aborting_) {
    abandonedCall();
    return kShufflePoison;
  }
  Fiber& self = *current_;
  WarpState& w = warps_[self.warp];
  const unsigned bit = 1u << self.lane;
  if (!(mask & bit))
    throw KernelError(misuse(site, "mask " + maskText(mask) + " does not include the calling lane " +
                                       std::to_string(self.lane) + " of warp " + std::to_string(self.warp)));
  if (isShuffle(op) && (width < 1 || width > 32 || (width & (width - 1)) != 0))
    throw KernelError(misuse(site, "width " + std::to_string(width) + " is not a power of two in [1, 32]"));

  const unsigned eff = mask & w.existing;
  int slot = w.findPending(eff);
  if (slot >= 0) {
    const Rendezvous& r = w.pending[slot];
    if (r.op != op || r.width != width || (op != WarpOp::SyncWarp && !r.site.sameCall(site)))
      throw DeadlockError(where() + ": " + warpMismatchReport(self, r, site, width));
  }
  if (eff & w.exited) {
    const Rendezvous fresh{eff, 0u, op, width, site};
    throw DeadlockError(where() + ": " + warpReport(self.warp, slot >= 0 ? w.pending[slot] : fresh, &self));
  }
  if (slot < 0) slot = w.open(eff, op, width, site);
  Rendezvous& r = w.pending[slot];
  w.value[self.lane] = bits;
  w.param[self.lane] = param;
  r.arrived |= bit;
  if (r.arrived != eff) {
    self.wait = Wait::Warp;
    self.rendezvous = slot;
    self.site = site;
    suspend();
    return w.result[self.lane];
  }
  w.complete(r);
  const unsigned base = self.warp * 32;
  for (unsigned u = eff & ~bit; u != 0; u &= u - 1) {
    const unsigned i = base + unsigned(__builtin_ctz(u));
    fibers_[i].wait = Wait::Ready;
    fibers_[i].rendezvous = -1;
    push(i);
  }
  w.pendingUsed &= ~(1u << slot);
  return w.result[self.lane];
}

}  // namespace kvf::emu::detail
