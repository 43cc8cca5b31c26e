#include "napi_attend.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kvforge/attn_args.hpp"
#include "kvforge/staging.hpp"
#include "kvforge/cpu/thread_pool.hpp"
#include "backends.hpp"
#include "call_memory.hpp"
#include "napi_args.hpp"
#include "napi_call.hpp"
#include "napi_buffer.hpp"
#include "napi_cache.hpp"

namespace kvf::napi {
namespace {

constexpr const char* kFn = "attend";

// One call, parsed: pointers into JS memory (sync) or into the copies below (async).
struct AttendCall {
  static constexpr const char* kFn = "attend";
  CpuKernel kernel;
  std::string storage;
  AttnArgs args;
  std::vector<double> params;
  NativeCache* cache = nullptr;
  std::unique_ptr<Staging> staging;  // q, positions, rows and outputs in target memory
  // async only: the copies the call owns, the cache kept alive, the results
  AlignedCopy q, qpos, rowStart, rowCount;
  Napi::Reference<Napi::Object> cacheRef;
  Outputs results;

  ~AttendCall() {
    if (cacheRef) cache->endUse();
  }
  std::string kernelId() const { return kernel.id; }
  void execute() {
    kernel.fn(args, params.data());
    staging->finish();
  }
  void done() noexcept {}
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
  if (!findMemoryOps(backend) || !findKernel(backend, id, call->kernel, &call->storage))
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
  call->params = readParams(kFn, prop(o, "params"), call->kernel.numParams, id);
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
    call->results.out = Napi::Persistent(ob), call->results.lse = Napi::Persistent(lb);
    call->results.outLength = size_t(nOut), call->results.lseLength = size_t(nLse);
    out = static_cast<float*>(ob.Data()), lse = static_cast<float*>(lb.Data());
    call->cacheRef = Napi::Persistent(cobj);
    cache->beginUse();  // until the call is destroyed: the cache refuses changes meanwhile
    a.q = call->q.as<float>(), a.qpos = call->qpos.as<int32_t>();
    a.rowStart = call->rowStart.as<int32_t>(), a.rowCount = call->rowCount.as<int32_t>();
  } else {
    a.q = static_cast<const float*>(q.data), a.qpos = static_cast<const int32_t*>(qp.data);
    a.rowStart = start, a.rowCount = count;
  }
  a.out = out, a.lse = lse;
  // Every pointer in target memory: on "cuda" the host arrays are staged (buffers already are).
  call->staging = std::make_unique<Staging>(findMemoryOps(backend));
  Staging& st = *call->staging;
  if (!qBuf) a.q = static_cast<const float*>(st.in(0, a.q, size_t(rows * a.Hq * D) * 4));
  a.qpos = static_cast<const int32_t*>(st.in(1, a.qpos, size_t(rows) * 4));
  a.rowStart = static_cast<const int32_t*>(st.in(2, a.rowStart, size_t(B) * 4));
  a.rowCount = static_cast<const int32_t*>(st.in(3, a.rowCount, size_t(B) * 4));
  if (!outBuf) a.out = static_cast<float*>(st.out(4, a.out, size_t(nOut) * 4));
  if (!lseBuf) a.lse = static_cast<float*>(st.out(5, a.lse, size_t(nLse) * 4));
  return call;
}

}  // namespace

Napi::Value attend(const Napi::CallbackInfo& info) {
  const bool sync = info.Length() > 4 && info[4].ToBoolean().Value();
  if (!sync) return queueCall<AttendCall>(info, [](const Napi::CallbackInfo& i) { return parse(i, false); });
  // Synchronous: argument errors throw (TypeError / RangeError), the kernel runs here.
  Napi::Env env = info.Env();
  std::unique_ptr<AttendCall> call;
  try {
    call = parse(info, true);
    call->execute();
  } catch (const ArgError& e) {
    throw toJsError(env, e);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw Napi::Error::New(env, kernelFailure(kFn, call ? call->kernel.id : std::string("?")));
  }
  return env.Undefined();
}

}  // namespace kvf::napi
