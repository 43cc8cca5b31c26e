#include "napi_attend.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kvforge/attn_args.hpp"
#include "kvforge/cpu/thread_pool.hpp"
#include "backends.hpp"
#include "call_memory.hpp"
#include "napi_args.hpp"
#include "napi_buffer.hpp"
#include "napi_cache.hpp"

namespace kvf::napi {
namespace {

constexpr const char* kFn = "attend";
constexpr size_t kMinParamSlots = 16;

// One call, parsed: pointers into JS memory (sync) or into the copies below (async).
struct AttendCall {
  CpuKernel kernel;
  std::string storage;
  AttnArgs args;
  std::vector<double> params;
  NativeCache* cache = nullptr;
  // async only
  AlignedCopy q, qpos, rowStart, rowCount;
  Napi::Reference<Napi::Object> cacheRef;
  Napi::Reference<Napi::ArrayBuffer> out, lse;
  size_t outLength = 0, lseLength = 0;
  // device staging (backend "cuda"): released by the destructor
  const MemoryOps* mem = nullptr;
  std::vector<void*> device;
  float* hostOut = nullptr;
  float* hostLse = nullptr;
  size_t outBytes = 0, lseBytes = 0;

  ~AttendCall() {
    for (void* p : device) mem->release(p);
  }
  void* deviceAlloc(size_t bytes) {
    device.reserve(device.size() + 1);  // push_back cannot throw after the allocation
    void* p = mem->alloc(bytes);
    device.push_back(p);
    return p;
  }
  void* toDevice(const void* host, size_t bytes) {
    void* p = deviceAlloc(bytes);
    if (bytes) mem->upload(p, host, bytes);
    return p;
  }
};

Napi::Value prop(const Napi::Object& a, const char* name) { return a.Get(name); }

// `v` as a NativeBuffer of f32 values on `backend` holding at least `need` values, or nullptr when
// it is not a NativeBuffer at all (then it must be a typed array).
NativeBuffer* f32Buffer(const Napi::Value& v, const char* name, const std::string& backend, int64_t need, bool sync) {
  if (!v.IsObject() || v.IsTypedArray()) return nullptr;
  NativeBuffer* b = nullptr;
  try {
    b = NativeBuffer::Unwrap(v.As<Napi::Object>());
  } catch (const Napi::Error&) {
    return nullptr;
  }
  if (!b) return nullptr;
  if (!sync) throw ArgError(ArgError::Type, argName(kFn, name) + " is a NativeBuffer: buffers are read and written in place by the synchronous call only (decodeSync)");
  if (b->released()) throw ArgError(ArgError::Range, argName(kFn, name) + " is a released buffer");
  if (b->backend() != backend) throw ArgError(ArgError::Range, argName(kFn, name) + " lives on backend '" + b->backend() + "', the kernel runs on '" + backend + "'");
  if (b->dtype() != DType::F32) throw ArgError(ArgError::Range, argName(kFn, name) + " must hold f32 values, it holds " + dtypeName(b->dtype()));
  if (b->length() < need) throw ArgError(ArgError::Range, argName(kFn, name) + " holds " + std::to_string(b->length()) + " values, the call needs " + std::to_string(need));
  return b;
}

std::unique_ptr<AttendCall> parse(const Napi::CallbackInfo& info, bool sync) {
  auto call = std::make_unique<AttendCall>();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsObject() || !info[3].IsObject())
    throw ArgError(ArgError::Type, std::string(kFn) + ": expected (kernelId, backend, cache, args, sync)");
  const std::string id = info[0].As<Napi::String>().Utf8Value();
  const std::string backend = info[1].As<Napi::String>().Utf8Value();
  if (!findKernel(backend, id, call->kernel, &call->storage))
    throw ArgError(ArgError::Range, argName(kFn, "kernelId") + " must be a kernel compiled for backend '" + backend + "', received '" + id + "'");
  const Napi::Object cobj = info[2].As<Napi::Object>();
  NativeCache* cache = nullptr;
  try {
    cache = NativeCache::Unwrap(cobj);
  } catch (const Napi::Error&) {
    cache = nullptr;
  }
  if (!cache) throw ArgError(ArgError::Type, argName(kFn, "cache") + " must be a NativeCache, received " + describeValue(cobj));
  if (cache->backend() != backend)
    throw ArgError(ArgError::Range, std::string(kFn) + ": the cache lives on backend '" + cache->backend() + "' and kernel '" + id +
                                        "' runs on '" + backend + "': a cache serves kernels of its own target");
  if (backend != "cpu" && dtypeName(cache->dtype()) != call->storage)
    throw ArgError(ArgError::Range, std::string(kFn) + ": kernel '" + id + "' reads " + call->storage + " slots, the cache holds " +
                                        dtypeName(cache->dtype()));
  call->cache = cache;
  AttnArgs& a = call->args;
  a.kv = cache->slots();
  const Napi::Object o = info[3].As<Napi::Object>();
  const int64_t B = cache->B(), Hkv = cache->Hkv(), D = a.kv.D, Dv = a.kv.Dv;
  a.B = B;
  a.Hq = readInteger(kFn, "Hq", prop(o, "Hq"), 1, "a positive integer");
  if (a.Hq % Hkv != 0)
    throw ArgError(ArgError::Range, argName(kFn, "Hq") + " must be a multiple of the cache's Hkv = " + std::to_string(Hkv));
  a.scale = readFiniteNumber(kFn, "scale", prop(o, "scale"));
  const int64_t threads = readInteger(kFn, "threads", prop(o, "threads"), 1, "a positive integer");
  if (threads > cpu::kMaxThreads) throw ArgError(ArgError::Range, argName(kFn, "threads") + " must be at most " + std::to_string(cpu::kMaxThreads));
  a.threads = int(threads);
  const std::string bFormula = "B = " + std::to_string(B);
  const TypedArrayBytes rs = readTypedArray(kFn, "rowStart", prop(o, "rowStart"), napi_int32_array, B, bFormula);
  const TypedArrayBytes rc = readTypedArray(kFn, "rowCount", prop(o, "rowCount"), napi_int32_array, B, bFormula);
  const int32_t* start = static_cast<const int32_t*>(rs.data);
  const int32_t* count = static_cast<const int32_t*>(rc.data);
  int64_t rows = 0, maxRows = 0, total = 0;
  for (int64_t b = 0; b < B; ++b) {
    if (start[b] < 0 || count[b] < 0)
      throw ArgError(ArgError::Range, argName(kFn, "rowStart") + " and 'rowCount' must be non-negative (sequence " + std::to_string(b) + ")");
    rows = std::max<int64_t>(rows, int64_t(start[b]) + count[b]);
    maxRows = std::max<int64_t>(maxRows, count[b]);
    total += count[b];
  }
  a.maxRows = maxRows, a.totalRows = total;
  const std::string rowsFormula = "rows = " + std::to_string(rows);
  NativeBuffer* qBuf = f32Buffer(prop(o, "q"), "q", backend, rows * a.Hq * D, sync);
  const TypedArrayBytes q = qBuf ? TypedArrayBytes{qBuf->data(), size_t(rows * a.Hq * D), size_t(rows * a.Hq * D) * 4}
                                 : readTypedArray(kFn, "q", prop(o, "q"), napi_float32_array, rows * a.Hq * D, rowsFormula + ", Hq*D = " + std::to_string(a.Hq * D));
  const TypedArrayBytes qp = readTypedArray(kFn, "qpos", prop(o, "qpos"), napi_int32_array, rows, rowsFormula);
  {
    const TypedArrayBytes p = readTypedArray(kFn, "params", prop(o, "params"), napi_float64_array, -1, "");
    if (call->kernel.numParams >= 0 && int64_t(p.length) != call->kernel.numParams)
      throw ArgError(ArgError::Range, argName(kFn, "params") + " must have length " + std::to_string(call->kernel.numParams));
    call->params.assign(std::max(p.length, kMinParamSlots), 0.0);
    if (p.length) std::memcpy(call->params.data(), p.data, p.bytes);
  }
  a.qStrideB = 0, a.qStrideH = D, a.qStrideRow = a.Hq * D, a.qposStrideB = 0;
  a.oStrideB = 0, a.oStrideH = Dv, a.oStrideRow = a.Hq * Dv;
  a.lseStrideB = 0, a.lseStrideH = 1, a.lseStrideRow = a.Hq;
  const int64_t nOut = rows * a.Hq * Dv, nLse = rows * a.Hq;
  float* out = nullptr;
  float* lse = nullptr;
  const Napi::Value ov = prop(o, "out"), lv = prop(o, "lse");
  NativeBuffer* outBuf = f32Buffer(ov, "out", backend, nOut, sync);
  NativeBuffer* lseBuf = f32Buffer(lv, "lse", backend, nLse, sync);
  if (outBuf) out = static_cast<float*>(outBuf->data());
  else if (sync) out = static_cast<float*>(const_cast<void*>(readTypedArray(kFn, "out", ov, napi_float32_array, nOut, rowsFormula + ", Hq*Dv").data));
  if (lseBuf) lse = static_cast<float*>(lseBuf->data());
  else if (sync) lse = static_cast<float*>(const_cast<void*>(readTypedArray(kFn, "lse", lv, napi_float32_array, nLse, rowsFormula + ", Hq").data));
  if (!sync) {  // the call owns its inputs and outputs
    call->q = AlignedCopy(q.data, q.bytes), call->qpos = AlignedCopy(qp.data, qp.bytes);
    call->rowStart = AlignedCopy(rs.data, rs.bytes), call->rowCount = AlignedCopy(rc.data, rc.bytes);
    Napi::ArrayBuffer ob = Napi::ArrayBuffer::New(info.Env(), size_t(nOut) * 4), lb = Napi::ArrayBuffer::New(info.Env(), size_t(nLse) * 4);
    call->out = Napi::Persistent(ob), call->lse = Napi::Persistent(lb);
    call->outLength = size_t(nOut), call->lseLength = size_t(nLse);
    out = static_cast<float*>(ob.Data()), lse = static_cast<float*>(lb.Data());
    call->cacheRef = Napi::Persistent(cobj);
    a.q = call->q.as<float>(), a.qpos = call->qpos.as<int32_t>();
    a.rowStart = call->rowStart.as<int32_t>(), a.rowCount = call->rowCount.as<int32_t>();
  } else {
    a.q = static_cast<const float*>(q.data), a.qpos = static_cast<const int32_t*>(qp.data);
    a.rowStart = start, a.rowCount = count;
  }
  a.out = out, a.lse = lse;
  if (backend == "cuda") {  // every pointer must be device memory (buffers already are)
    call->mem = findMemoryOps(backend);
    if (!qBuf) a.q = static_cast<const float*>(call->toDevice(a.q, size_t(rows * a.Hq * D) * 4));
    a.qpos = static_cast<const int32_t*>(call->toDevice(a.qpos, size_t(rows) * 4));
    a.rowStart = static_cast<const int32_t*>(call->toDevice(a.rowStart, size_t(B) * 4));
    a.rowCount = static_cast<const int32_t*>(call->toDevice(a.rowCount, size_t(B) * 4));
    if (!outBuf) {
      call->hostOut = out, call->outBytes = size_t(nOut) * 4;
      a.out = static_cast<float*>(call->deviceAlloc(call->outBytes));
    }
    if (!lseBuf) {
      call->hostLse = lse, call->lseBytes = size_t(nLse) * 4;
      a.lse = static_cast<float*>(call->deviceAlloc(call->lseBytes));
    }
  }
  return call;
}

// Runs the kernel; for "cuda", downloads the results into the host arrays.
void execute(AttendCall& c) {
  c.kernel.fn(c.args, c.params.data());
  if (c.mem) {
    if (c.outBytes) c.mem->download(c.hostOut, c.args.out, c.outBytes);
    if (c.lseBytes) c.mem->download(c.hostLse, c.args.lse, c.lseBytes);
  }
}

std::string failureMessage(const std::string& id) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return "attend: kernel '" + id + "' ran out of memory";
  } catch (const std::exception& e) {
    return std::string(e.what());
  } catch (...) {
    return "attend: kernel '" + id + "' failed with an unknown exception (this is a bug in kvforge)";
  }
}

class AttendWorker : public Napi::AsyncWorker {
 public:
  AttendWorker(Napi::Env env, std::unique_ptr<AttendCall> call)
      : Napi::AsyncWorker(env, "kvforge.attend"), deferred_(Napi::Promise::Deferred::New(env)), call_(std::move(call)) {
    call_->cache->beginUse();
  }
  ~AttendWorker() override { call_->cache->endUse(); }
  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      execute(*call_);
    } catch (...) {
      SetError(failureMessage(call_->kernel.id));
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object result = Napi::Object::New(env);
    result.Set("out", Napi::Float32Array::New(env, call_->outLength, call_->out.Value(), 0));
    result.Set("lse", Napi::Float32Array::New(env, call_->lseLength, call_->lse.Value(), 0));
    deferred_.Resolve(result);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<AttendCall> call_;
};

}  // namespace

Napi::Value attend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool sync = info.Length() > 4 && info[4].ToBoolean().Value();
  std::unique_ptr<AttendCall> call;
  std::string error;
  try {
    call = parse(info, sync);
  } catch (const ArgError& e) {
    if (sync) throw toJsError(env, e);
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(toJsError(env, e).Value());
    return d.Promise();
  } catch (const Napi::Error& e) {
    if (sync) throw;
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
  } catch (const std::exception& e) {
    error = std::string("attend: ") + e.what();
  }
  if (!error.empty()) {
    if (sync) throw Napi::Error::New(env, error);
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(Napi::Error::New(env, error).Value());
    return d.Promise();
  }
  if (sync) {
    try {
      execute(*call);
    } catch (...) {
      throw Napi::Error::New(env, failureMessage(call->kernel.id));
    }
    return env.Undefined();
  }
  auto* worker = new AttendWorker(env, std::move(call));  // deletes itself after OnOK/OnError
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

}  // namespace kvf::napi
