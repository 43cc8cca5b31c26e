// AttendPlan: attention over one KV cache bound once (kernel, cache, Hq, scale, params, threads)
// and run synchronously per step: the decode path of a serving loop (decodeSync in TS).
//
//   new AttendPlan(kernelId, backend, cache, { Hq, scale, params, threads, values? })
//     values: a NativeCache whose value rows are read instead of the cache's own (callSlots)
//   run(q, qpos, rowStart, rowCount, out, lse): undefined
//     q [rows][Hq][D], out [rows][Hq][Dv], lse [rows][Hq]: Float32Arrays or f32 NativeBuffers of
//     the plan's backend; qpos [rows], rowStart / rowCount [B]: Int32Arrays (napi_attend_bind.hpp).
//
// run() reads its arrays in place, runs the kernel on the calling thread and writes out / lse
// before it returns. It allocates nothing on a host-addressable target ("cpu", "cuda-emu"); on
// "cuda" host arrays go through the plan's own staging memory, allocated on the first call that
// needs more than before. The cache's slots are looked up on every run (append and grow move
// them), so a plan stays valid across cache changes; a released cache is a RangeError. The plan
// keeps its cache alive. Argument errors are TypeError / RangeError naming the argument.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "kvforge/attn_args.hpp"
#include "kvforge/registry.hpp"
#include "kvforge/staging.hpp"

namespace kvf::napi {

class NativeCache;

class AttendPlan : public Napi::ObjectWrap<AttendPlan> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit AttendPlan(const Napi::CallbackInfo& info);

 public:
  // run() on host arrays (q [rows][Hq][D], qpos [rows], rowStart / rowCount [B], out, lse), from
  // C++: the decode step of src/napi_model_step.cpp. Throws ArgError for rows the cache does not
  // have; kernel failures propagate as run()'s do.
  void runHost(const float* q, const int32_t* qpos, int64_t rows, const int32_t* rowStart, const int32_t* rowCount, float* out, float* lse);
  const CpuKernel& kernel() const { return kernel_; }
  NativeCache* cache() const { return cache_; }
  int64_t Hq() const { return base_.Hq; }

 private:
  Napi::Value run(const Napi::CallbackInfo& info);
  void runChecked(const Napi::CallbackInfo& info);
  // Stage what is not target memory yet, run the kernel, download the outputs (a.kv and rows bound).
  void launch(AttnArgs& a, int64_t rows, const void* q, bool qTarget, const int32_t* qpos, const int32_t* rowStart, const int32_t* rowCount,
              float* out, bool outTarget, float* lse, bool lseTarget);

  CpuKernel kernel_;
  std::string backend_;
  AttnArgs base_;  // the scalars and strides; per run: slots, rows, arrays
  std::vector<double> params_;
  NativeCache* cache_ = nullptr;
  Napi::ObjectReference cacheRef_;
  NativeCache* values_ = nullptr;  // the cache of the value rows, when not cache_
  bool countBias_ = false, mass_ = false;  // bindSlotStats per run
  Napi::ObjectReference valuesRef_;
  std::unique_ptr<Staging> staging_;
};

}  // namespace kvf::napi
