// What the two ways of calling attention over a KV cache share (napi_attend.cpp: one asynchronous
// call; napi_attend_plan.cpp: a plan bound once, run synchronously per decode step): resolving a
// kernel against a cache, the call's scalars, the ragged rows, and f32 buffers in place of arrays.
// Layouts are kvforge/attn_args.hpp's packed ragged rows: q [rows][Hq][D], qpos [rows],
// out [rows][Hq][Dv], lse [rows][Hq], where sequence b owns rows [rowStart[b], rowStart[b] + rowCount[b]).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kvforge/attn_args.hpp"
#include "kvforge/registry.hpp"

namespace kvf::napi {

class NativeCache;
class NativeBuffer;

// A kernel and the cache it reads: checked to belong together (same backend; on CUDA the slots'
// dtype the kernel was generated for).
struct AttendBinding {
  CpuKernel kernel;
  std::string storage;  // the slot dtype the kernel reads ("f32" for CPU kernels: any)
  std::string backend;
  NativeCache* cache = nullptr;
  Napi::Object cacheObject;
  // The cache whose values are read, when not `cache` (args.values: a layer taking keys and
  // values from different layers); keys, positions and lengths are `cache`'s.
  NativeCache* values = nullptr;
  Napi::Object valuesObject;
  // args.countBias / args.mass: the call adds the cache's per-slot bias (ln(count)) to its scores
  // and its attention mass to the cache's per-slot mass (AttnArgs v3; the cache needs statistics).
  bool countBias = false, mass = false;
};

// info[0..2] = (kernelId, backend, cache) of the call named `fn`.
AttendBinding bindAttend(const char* fn, const Napi::CallbackInfo& info);

// The slots a call reads: `keys`'s, with the value rows of `values` when given (same backend,
// B, Hkv, D, Dv and dtype). Slot s of both must hold the same token (the executor's cache plan
// guarantees it); one may hold more slots than the other (a decode step has appended to one
// source and not yet to the other, a top-attending one): the call then reads the slots both hold,
// with the shorter one's positions, lengths and summaries. ArgError when each is longer somewhere.
SlotView callSlots(const char* fn, const NativeCache* keys, const NativeCache* values);

// The cache's slot statistics as the call's bias and mass (AttnArgs v3), as the flags ask; where
// they are now (a grown cache moved them). ArgError when asked of a cache without statistics or
// with a separate values cache.
void bindSlotStats(const char* fn, AttnArgs& a, const NativeCache* cache, const NativeCache* values, bool countBias, bool mass);

// Hq, scale, threads of the object `o` into `a` (a.kv, B set from the cache), and its params.
void readAttendScalars(const char* fn, const Napi::Object& o, const AttendBinding& bind, AttnArgs& a, std::vector<double>& params);

// The packed strides of q/out/lse for a.Hq, a.kv.D, a.kv.Dv.
void setPackedStrides(AttnArgs& a);

// The packed rows of a call are those of qpos ([rows]); q, out and lse hold as many. Checks that
// rowStart/rowCount [B] give every sequence rows inside them, and sets a.rowStart / a.rowCount /
// a.maxRows / a.totalRows. (Rows no sequence owns, e.g. a released sequence's in a decode step,
// are neither read nor written.)
void bindRows(const char* fn, AttnArgs& a, const int32_t* start, const int32_t* count, int64_t rows);

// `v` as an f32 NativeBuffer of `backend` holding at least `need` values; nullptr when `v` is not
// a NativeBuffer (it must then be a typed array). Buffers are refused unless `allowed`.
NativeBuffer* f32Buffer(const char* fn, const Napi::Value& v, const char* name, const std::string& backend, int64_t need, bool allowed);

}  // namespace kvf::napi
