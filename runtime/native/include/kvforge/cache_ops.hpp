// The KV cache's own kernels (append, keep-last-W truncation, reset, copy into a larger cache),
// one implementation per backend behind CacheOps, the per-slot logic shared by all of them in
// cache_slots.hpp (KVF_HOST_DEVICE functions: the CPU loops and the CUDA threads call the same
// code).
//
// A cache of one layer is a CacheView: the SlotView the attention kernels read (slot_view.hpp)
// with writable storage, laid out [B][Hkv][capacity] for K (D values per slot), V (Dv), positions;
// lengths [B][Hkv]; summaries [B][Hkv][capacity / kSummaryTile] (capacity is a multiple of
// kSummaryTile). All pointers are in the target's memory, including the arguments' arrays below
// (the caller uploads them first).
//
// Invariants every op keeps (the TS model in runtime/cache checks the same): 0 <= len <= capacity;
// summary entry t of (b, h) is [min, max] of pos over slots [16t, 16t + 16) ∩ [0, len) and is
// (INT32_MAX, INT32_MIN) when that range is empty; slots at or past len are never read.
#pragma once
#include <cstdint>
#include <string>
#include "kvforge/slot_view.hpp"

namespace kvf {

struct CacheView {
  void* k = nullptr;  // [B][Hkv][capacity][D] of dtype
  void* v = nullptr;  // [B][Hkv][capacity][Dv] of dtype
  int32_t* pos = nullptr;     // [B][Hkv][capacity]
  int32_t* len = nullptr;     // [B][Hkv]
  int32_t* sumMin = nullptr;  // [B][Hkv][capacity / kSummaryTile]
  int32_t* sumMax = nullptr;
  DType dtype = DType::F32;
  int64_t B = 0, Hkv = 0, D = 0, Dv = 0, capacity = 0;
  // Slot statistics of a cache under a compression policy (semantics.md section 3), all three or
  // none, each [B][Hkv][capacity]: the tokens a slot stands for (1 for a raw token), the attention
  // mass it has received (attention calls with the mass output add to it), and its logit bias
  // ln(count) (what countBias adds). Every op moves them with their slot; append sets 1, 0, 0.
  int32_t* count = nullptr;
  float* mass = nullptr;
  float* bias = nullptr;
  bool hasStats() const { return count != nullptr; }

  // What attention kernels read (maxLen: the caller's host mirror of the lengths knows it).
  SlotView slots(int64_t maxLen) const {
    SlotView s;
    s.k = k;
    s.v = v;
    s.dtype = dtype;
    s.B = B;
    s.Hkv = Hkv;
    s.D = D;
    s.Dv = Dv;
    s.capacity = capacity;
    s.maxLen = maxLen;
    s.kStrideS = D;
    s.kStrideH = capacity * D;
    s.kStrideB = Hkv * capacity * D;
    s.vStrideS = Dv;
    s.vStrideH = capacity * Dv;
    s.vStrideB = Hkv * capacity * Dv;
    s.pos = pos;
    s.posStrideH = capacity;
    s.posStrideB = Hkv * capacity;
    s.len = len;
    s.lenStrideH = 1;
    s.lenStrideB = Hkv;
    s.sumMin = sumMin;
    s.sumMax = sumMax;
    s.sumStrideH = capacity / kSummaryTile;
    s.sumStrideB = Hkv * (capacity / kSummaryTile);
    return s;
  }
};

// Append rows to sequences: sequence b takes count[b] new tokens (0: untouched), its rows at
// src = start[b] .. start[b] + count[b] - 1 of
//   k [src][Hkv][D], v [src][Hkv][Dv]  (f32; rounded to the cache dtype, nearest even),
//   positions [src]  (the same position for every KV head).
// Token r of b goes to slot len(b, h) + r of every head h; then len(b, h) += count[b]. The caller
// has checked len(b, h) + count[b] <= capacity for every h (the CPU backend checks it again and
// throws before writing anything; a GPU cannot report it without a sync, so the CUDA backends
// drop the tokens that would land at or past capacity and clamp len to capacity).
struct AppendArgs {
  CacheView cache;
  const float* k = nullptr;
  const float* v = nullptr;
  const int32_t* positions = nullptr;
  const int32_t* start = nullptr;  // [B]
  const int32_t* count = nullptr;  // [B]
  // Host-side: max over b of count[b] (CUDA sizes its grid by it; the CPU checks count[b] <= it
  // and throws otherwise). -1: unknown; the CUDA backends then download count (a sync point).
  int64_t maxCount = -1;
  int threads = 1;  // CPU backend: threads for kvf::cpu::parallelFor (others ignore it)
};

// Keep the last keep[b * Hkv + h] slots of head (b, h) (< 0: untouched; >= len(b, h): untouched):
// slots [len - keep, len) move to [0, keep) in order, with their positions; len = keep; the
// summaries of (b, h) are recomputed. Keep 0 empties the head. Per head, so that a per-head policy
// (and a test) can make the heads of one sequence ragged.
struct TruncateArgs {
  CacheView cache;
  const int32_t* keep = nullptr;  // [B * Hkv]
  int threads = 1;  // CPU backend: threads for kvf::cpu::parallelFor (others ignore it)
};

// Copy every valid slot (K, V, position), the lengths and the summaries of `from` into `to`, a
// cache of the same B, Hkv, D, Dv and dtype with capacity >= every length (growth). Every head of
// `to` is written (len and all its summary entries), so `to` needs no initEmpty first; slots of
// `to` at or past its new lengths keep whatever they held. (CPU: a length above to.capacity
// throws before anything is written; CUDA: such slots are dropped, len clamped to to.capacity.)
struct CopyCacheArgs {
  CacheView from, to;
  int threads = 1;  // CPU backend: threads for kvf::cpu::parallelFor (others ignore it)
};

// Compaction (per-head selection: sink and window eviction, adaptive policies): head hd keeps
// keepCount[hd] slots, listed in `keep` packed head after head (head hd's list starts after the
// lists of the heads before it; a head with keepCount < 0 lists none and is left untouched). The
// listed slots must increase and lie below len; they move to [0, keepCount[hd]) in that order
// with every column, and len = keepCount[hd]. Summaries of changed heads are recomputed.
struct CompactArgs {
  CacheView cache;
  const int32_t* keep = nullptr;       // [sum of max(0, keepCount)]
  const int32_t* keepCount = nullptr;  // [B * Hkv]
  int threads = 1;
};

// How a group of slots becomes one (semantics.md 3.3; runtime/verify/policy/pyramid.ts is the
// reference): Mean / Max per channel (mean summed in double in member order, divided by the
// member count, rounded once to the cache dtype; max propagates NaN), Best* keep the whole slot
// of the member with the strictly largest importance (ties to the older member; a NaN importance
// loses to any number), by mass or by the key's L2 norm; BestVote takes, per channel, the first
// member of every pair when first > second holds in strictly more than half of the region's pairs.
enum class Pooling : int32_t { Mean = 0, Max = 1, BestMass = 2, BestKeyNorm = 3, BestVote = 4 };

// Merge of head hd's region [start[hd], start[hd] + count[hd]) in adjacent groups of groupSize
// (pairOdd: groups of 2, an odd last slot paired with itself, standing for its own tokens once;
// otherwise an incomplete last group merges on its own) into slots from dst[hd] on, then slots
// [start + count, len) move to follow them. dst may lie past start (the literal decode writes its
// pooled slots behind a raw copy of the sinks) as long as, with slots following the region, the
// merged ones end before them, and everything fits the capacity. A merged slot takes its newest member's
// position, the sum of the members' counts and masses, and bias ln(count). count[hd] <= 0 leaves
// the head untouched. Needs slot statistics (count, mass, bias). Summaries are recomputed.
struct MergeArgs {
  CacheView cache;
  const int32_t* start = nullptr;  // [B * Hkv]
  const int32_t* count = nullptr;  // [B * Hkv]
  const int32_t* dst = nullptr;    // [B * Hkv]
  int32_t groupSize = 2;
  Pooling pooling = Pooling::Mean;
  bool pairOdd = false;
  int threads = 1;
};

// The pyramid rule of semantics.md 3.3 on every head with compressed[hd] >= 0: its slots are
// sinks[hd] raw sinks, then compressed[hd] merged slots, then raw recent ones; while more than
// `budget` recent slots remain, the merged slots plus the oldest `budget` recent ones are merged
// (as MergeArgs with start = the merged region, groups of groupSize) into the new merged region.
// The caller knows the resulting counts from the sizes alone (merged = ceil((merged + W) / g) per
// round). Needs slot statistics; summaries of changed heads are recomputed.
struct PyramidArgs {
  CacheView cache;
  const int32_t* sinks = nullptr;       // [B * Hkv]
  const int32_t* compressed = nullptr;  // [B * Hkv]; < 0: head untouched
  int32_t budget = 1;
  int32_t groupSize = 2;
  Pooling pooling = Pooling::Mean;
  int threads = 1;
};

// Implementations: "cpu" (src/cache_cpu.cpp, src/cache_policy_cpu.cpp), "cuda" and "cuda-emu" (src/cuda/cache_cuda.cu,
// compiled by nvcc and against the emulator), each registered at static initialisation
// (src/cache_registry.cpp). Every op throws std::runtime_error ("kvforge <backend>: cache <op>:
// ...") on a bad shape (capacity not a multiple of 16, unknown dtype, null pointers); the CPU also
// validates lengths, counts and capacities and throws before writing anything.
// Threads and ordering: ops on different caches may run concurrently from any threads; ops on one
// cache, and attention calls reading it, must be serialised by the caller. On "cpu" an op has
// finished when it returns. On "cuda" an op only queues kernels on the legacy default stream (no
// sync, no host copy, except append with maxCount < 0, which downloads count): the argument
// arrays (k, v, positions, start, count, keep; uploaded by the caller) are read when the kernels
// run, so they may be overwritten only by later stream-ordered work; releasing them with
// MemoryOps::release right after the op is fine (cudaFree waits for the device). Launch errors
// throw at once; execution errors surface at the next synchronising call (a download,
// MemoryOps::synchronize). On "cuda-emu" ops are synchronous.
struct CacheOps {
  const char* backend;
  void (*append)(const AppendArgs&);
  void (*truncate)(const TruncateArgs&);
  void (*copyCache)(const CopyCacheArgs&);
  void (*initEmpty)(const CacheView&);  // len = 0 and every summary entry empty (a new cache)
  void (*compact)(const CompactArgs&);
  void (*merge)(const MergeArgs&);
  void (*pyramid)(const PyramidArgs&);
};

const CacheOps* findCacheOps(const std::string& backend);
void registerCacheOps(const CacheOps* ops);

}  // namespace kvf
