#include "napi_attend.hpp"

#include <memory>
#include <string>
#include <vector>

#include "kvforge/attn_args.hpp"
#include "kvforge/staging.hpp"
#include "call_memory.hpp"
#include "napi_args.hpp"
#include "napi_attend_bind.hpp"
#include "napi_call.hpp"
#include "napi_cache.hpp"

namespace kvf::napi {
namespace {

constexpr const char* kFn = "attend";

// One asynchronous call: it owns copies of its inputs and the arrays it resolves with, and keeps
// the cache alive and marked as in use (the cache refuses changes) until it is destroyed.
struct AttendCall {
  static constexpr const char* kFn = "attend";
  bool runInline = false;  // always queued: its inputs are small copies, the cache is native memory
  CpuKernel kernel;
  AttnArgs args;
  std::vector<double> params;
  NativeCache* cache = nullptr;
  std::unique_ptr<Staging> staging;  // q, positions, rows and outputs in target memory
  AlignedCopy q, qpos, rowStart, rowCount;
  Napi::Reference<Napi::Object> cacheRef;
  NativeCache* values = nullptr;  // the cache of the value rows, when not `cache`
  Napi::Reference<Napi::Object> valuesRef;
  Outputs results;

  ~AttendCall() {
    if (cacheRef) cache->endUse();
    if (valuesRef) values->endUse();
  }
  std::string kernelId() const { return kernel.id; }
  void execute() {
    kernel.fn(args, params.data());
    staging->finish();
  }
  void done() noexcept {}
};

std::unique_ptr<AttendCall> parse(const Napi::CallbackInfo& info) {
  auto call = std::make_unique<AttendCall>();
  const AttendBinding bind = bindAttend(kFn, info);
  call->kernel = bind.kernel, call->cache = bind.cache;
  AttnArgs& a = call->args;
  const Napi::Object o = info[3].As<Napi::Object>();
  readAttendScalars(kFn, o, bind, a, call->params);
  const int64_t B = a.B, D = a.kv.D, Dv = a.kv.Dv;
  const std::string bFormula = "B = " + std::to_string(B);
  const TypedArrayBytes rs = readTypedArray(kFn, "rowStart", o.Get("rowStart"), napi_int32_array, B, bFormula);
  const TypedArrayBytes rc = readTypedArray(kFn, "rowCount", o.Get("rowCount"), napi_int32_array, B, bFormula);
  const TypedArrayBytes qp = readTypedArray(kFn, "qpos", o.Get("qpos"), napi_int32_array, -1, "");
  const int64_t rows = int64_t(qp.length);
  bindRows(kFn, a, static_cast<const int32_t*>(rs.data), static_cast<const int32_t*>(rc.data), rows);
  (void)f32Buffer(kFn, o.Get("q"), "q", bind.backend, 0, false);  // a buffer is refused, with where buffers go
  const TypedArrayBytes q = readTypedArray(kFn, "q", o.Get("q"), napi_float32_array, rows * a.Hq * D,
                                           "rows*Hq*D, rows = " + std::to_string(rows) + " (qpos), Hq*D = " + std::to_string(a.Hq * D));
  setPackedStrides(a);
  const int64_t nOut = rows * a.Hq * Dv, nLse = rows * a.Hq;
  // The call owns its inputs (JS may change or detach them once it runs again) and its outputs.
  call->q = AlignedCopy(q.data, q.bytes), call->qpos = AlignedCopy(qp.data, qp.bytes);
  call->rowStart = AlignedCopy(rs.data, rs.bytes), call->rowCount = AlignedCopy(rc.data, rc.bytes);
  Napi::ArrayBuffer ob = Napi::ArrayBuffer::New(info.Env(), size_t(nOut) * 4), lb = Napi::ArrayBuffer::New(info.Env(), size_t(nLse) * 4);
  call->results.out = Napi::Persistent(ob), call->results.lse = Napi::Persistent(lb);
  call->results.outLength = size_t(nOut), call->results.lseLength = size_t(nLse);
  call->cacheRef = Napi::Persistent(bind.cacheObject);
  bind.cache->beginUse();  // until the call is destroyed: the cache refuses changes meanwhile
  if (bind.values) {
    call->values = bind.values;
    call->valuesRef = Napi::Persistent(bind.valuesObject);
    bind.values->beginUse();
  }
  // Every pointer in target memory: on "cuda" the host arrays are staged.
  call->staging = std::make_unique<Staging>(findMemoryOps(bind.backend));
  Staging& st = *call->staging;
  a.q = static_cast<const float*>(st.in(0, call->q.as<float>(), q.bytes));
  a.qpos = static_cast<const int32_t*>(st.in(1, call->qpos.as<int32_t>(), qp.bytes));
  a.rowStart = static_cast<const int32_t*>(st.in(2, call->rowStart.as<int32_t>(), rs.bytes));
  a.rowCount = static_cast<const int32_t*>(st.in(3, call->rowCount.as<int32_t>(), rc.bytes));
  a.out = static_cast<float*>(st.out(4, ob.Data(), size_t(nOut) * 4));
  a.lse = static_cast<float*>(st.out(5, lb.Data(), size_t(nLse) * 4));
  return call;
}

}  // namespace

Napi::Value attend(const Napi::CallbackInfo& info) {
  return queueCall<AttendCall>(info, [](const Napi::CallbackInfo& i) { return parse(i); });
}

}  // namespace kvf::napi
