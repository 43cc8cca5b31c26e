// The KV cache of one layer as a JS object (runtime/cache/ wraps it): memory of one backend
// (kvforge/memory.hpp) laid out as kvforge/cache_ops.hpp describes, written only by the cache
// kernels (CacheOps) and read in place by attention calls (napi_attend.cpp).
//
//   new NativeCache(backend, B, Hkv, D, Dv, dtype, capacity, stats?)   stats: per-slot count, mass, bias
//   compact(keep, keepCount)                Int32 lists packed head after head, [B*Hkv]: per-head selection (cache_ops.hpp)
//   merge(start, count, dst, groupSize, pooling, pairOdd)   Int32 [B*Hkv] each: pooled merges (cache_ops.hpp)
//   pyramid(sinks, compressed, budget, groupSize, pooling)  Int32 [B*Hkv] each: the pyramid rule's loop
//   append(k, v, positions, start, count)   f32 rows [n][Hkv][D|Dv], Int32 positions [n], start/count [B]
//   truncate(keep)                          Int32 [B * Hkv]: keep the last keep[b*Hkv+h] slots of (b, h) (-1: untouched)
//   grow(capacity)                          a larger allocation, every slot kept
//   lengths()                               Int32Array [B * Hkv] (the host mirror)
//   read(b, h)                              { k, v: Float32Array (widened), pos: Int32Array, and with stats
//                                           count: Int32Array, mass, bias: Float32Array } of slots [0, len)
//   summary(b, h)                           { min, max: Int32Array } of the position summary
//   release()                               frees the memory now (a finaliser does it otherwise)
// Every method is synchronous and checks its arguments (TypeError / RangeError naming them); the
// TS layer checks the contract (positions increasing, released sequences) with coded errors
// first. A cache with attention calls in flight refuses every change (RangeError), so a kernel
// never reads slots that move under it.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <cstdint>
#include <string>
#include <vector>

#include "kvforge/cache_ops.hpp"
#include "kvforge/memory.hpp"
#include "kvforge/staging.hpp"

namespace kvf::napi {

class NativeCache : public Napi::ObjectWrap<NativeCache> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit NativeCache(const Napi::CallbackInfo& info);
  ~NativeCache() override;

  // For attention calls: the slots as kernels read them; throws ArgError when released.
  SlotView slots() const;
  const std::string& backend() const { return backend_; }
  const MemoryOps* memory() const { return mem_; }
  int64_t B() const { return view_.B; }
  int64_t Hkv() const { return view_.Hkv; }
  int64_t D() const { return view_.D; }
  // Slots held per (b, h), [B * Hkv] (what the target holds, mirrored on the host).
  const std::vector<int32_t>& hostLengths() const { return lenHost_; }
  int64_t Dv() const { return view_.Dv; }
  DType dtype() const { return view_.dtype; }
  bool released() const { return view_.k == nullptr; }
  bool hasStats() const { return stats_; }
  // The slot statistics as attention calls read (bias) and add to (mass) them (cache_ops.hpp).
  const float* biasData() const { return view_.bias; }
  float* massData() const { return view_.mass; }
  int64_t capacity() const { return view_.capacity; }
  // Append rows [start[b], start[b] + count[b]) of host arrays k [rows][Hkv][D], v [rows][Hkv][Dv],
  // positions [rows] to sequence b (what append() does once its arguments are read; the decode
  // step of src/napi_model_step.cpp calls it directly). The caller has checked start/count and
  // the positions (the TS KvCache does); capacity is checked here (ArgError: grow first).
  void appendRows(const float* k, const float* v, const int32_t* positions, const int32_t* start, const int32_t* count, int64_t rows);
  // Calls in flight (async attention): changes wait for none.
  void beginUse() { inUse_.fetch_add(1); }
  void endUse() { inUse_.fetch_sub(1); }

 private:
  Napi::Value append(const Napi::CallbackInfo& info);
  Napi::Value truncate(const Napi::CallbackInfo& info);
  Napi::Value grow(const Napi::CallbackInfo& info);
  Napi::Value lengths(const Napi::CallbackInfo& info);
  Napi::Value read(const Napi::CallbackInfo& info);
  Napi::Value summary(const Napi::CallbackInfo& info);
  Napi::Value release(const Napi::CallbackInfo& info);
  Napi::Value compact(const Napi::CallbackInfo& info);
  Napi::Value merge(const Napi::CallbackInfo& info);
  Napi::Value pyramid(const Napi::CallbackInfo& info);
  Napi::Value getHasStats(const Napi::CallbackInfo& info);
  Napi::Value getReleased(const Napi::CallbackInfo& info);
  Napi::Value getCapacity(const Napi::CallbackInfo& info);

  void allocate(CacheView& v, int64_t capacity);  // every array of v, initEmpty'd
  void freeView(CacheView& v) noexcept;
  void requireUsable(const char* fn) const;
  // A per-head Int32Array argument ([B*Hkv]): its host view, and the copy the ops read, staged
  // into target memory at staging slot `slot`.
  struct HeadInts {
    const int32_t* host;
    const int32_t* staged;
  };
  HeadInts headInts(const char* fn, const char* name, const Napi::Value& v, int slot);

  std::string backend_;
  const MemoryOps* mem_ = nullptr;
  const CacheOps* ops_ = nullptr;
  CacheView view_;
  bool stats_ = false;
  std::vector<int32_t> lenHost_;  // [B * Hkv], what the target holds
  std::atomic<int> inUse_{0};
  std::unique_ptr<Staging> staging_;  // the ops' argument arrays in target memory, reused per call
};

}  // namespace kvf::napi
