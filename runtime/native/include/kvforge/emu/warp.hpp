// Warp shuffles and votes, with CUDA's (PTX shfl.sync's) semantics:
// - every lane named in `mask` must reach the same call, else DeadlockError (scheduler/warp_sync.hpp);
// - the calling lane must be in `mask` and width a power of two in [1, 32], else KernelError;
// - __shfl_sync: value of lane (srcLane mod width) of the caller's width-segment;
//   __shfl_up_sync: lane - delta, own value if that leaves the segment at the bottom;
//   __shfl_down_sync: lane + delta, own value if that leaves the segment at the top;
//   __shfl_xor_sync: lane ^ laneMask, own value if that lies in a LATER segment (earlier ones
//   are read, as on hardware);
// - reading a lane outside the mask, or one that does not exist (partial warp), yields all bits
//   set (NaN / -1), undefined on a GPU;
// - lanes that do not exist (beyond blockDim in the last warp) are dropped from masks.
// Any trivially copyable type up to 8 bytes may be shuffled (float, double, int, unsigned,
// long long, __half, __nv_bfloat16, __half2 ...).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>
#include "kvforge/emu/builtins.hpp"
#include "kvforge/emu/scheduler/block.hpp"

namespace kvf::emu::detail {

template <class T>
uint64_t toBits(const T& v) {
  static_assert(sizeof(T) <= 8, "warp shuffles move values of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, static_cast<const void*>(&v), sizeof(T));
  return bits;
}

template <class T>
T fromBits(uint64_t bits) {
  T v;
  std::memcpy(static_cast<void*>(&v), &bits, sizeof(T));
  return v;
}

inline uint64_t warpCall(WarpOp op, unsigned mask, uint64_t bits, int param, int width, const char* file,
                         int line) {
  return kernelRunner(warpOpName(op)).warpCollective(op, mask, bits, param, width, Site{warpOpName(op), file, line});
}

}  // namespace kvf::emu::detail

template <class T>
T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
  using namespace kvf::emu::detail;
  return fromBits<T>(warpCall(WarpOp::ShflIdx, mask, toBits(var), srcLane, width, file, line));
}

template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                 int line = __builtin_LINE()) {
  using namespace kvf::emu::detail;
  return fromBits<T>(warpCall(WarpOp::ShflUp, mask, toBits(var), int(delta & 31u), width, file, line));
}

template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                   int line = __builtin_LINE()) {
  using namespace kvf::emu::detail;
  return fromBits<T>(warpCall(WarpOp::ShflDown, mask, toBits(var), int(delta & 31u), width, file, line));
}

template <class T>
T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
  using namespace kvf::emu::detail;
  return fromBits<T>(warpCall(WarpOp::ShflXor, mask, toBits(var), laneMask, width, file, line));
}

// Bit i set when lane i is in mask and its predicate is non-zero.
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  using namespace kvf::emu::detail;
  return unsigned(warpCall(WarpOp::Ballot, mask, pred != 0, 0, 32, file, line));
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using namespace kvf::emu::detail;
  return int(warpCall(WarpOp::Any, mask, pred != 0, 0, 32, file, line));
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using namespace kvf::emu::detail;
  return int(warpCall(WarpOp::All, mask, pred != 0, 0, 32, file, line));
}

// Rendezvous of the lanes in mask (nothing is exchanged).
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  using namespace kvf::emu::detail;
  warpCall(WarpOp::SyncWarp, mask, 0, 0, 32, file, line);
}

// The lanes of the caller's warp that exist and have not exited. (The emulator does not track
// divergence: on a GPU, lanes on the other side of a branch would be missing too.)
inline unsigned __activemask() { return kvf::emu::detail::kernelRunner("__activemask()").activeMask(); }
