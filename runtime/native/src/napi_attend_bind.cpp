#include "napi_attend_bind.hpp"

#include <algorithm>

#include "kvforge/cpu/thread_pool.hpp"
#include "kvforge/dtype.hpp"
#include "backends.hpp"
#include "call_memory.hpp"
#include "napi_args.hpp"
#include "napi_buffer.hpp"
#include "napi_cache.hpp"
#include "napi_call.hpp"
#include "napi_type_tags.hpp"

namespace kvf::napi {

AttendBinding bindAttend(const char* fn, const Napi::CallbackInfo& info) {
  AttendBinding b;
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsObject() || !info[3].IsObject())
    throw ArgError(ArgError::Type, std::string(fn) + ": expected (kernelId, backend, cache, args)");
  const std::string id = info[0].As<Napi::String>().Utf8Value();
  b.backend = info[1].As<Napi::String>().Utf8Value();
  if (!findMemoryOps(b.backend) || !findKernel(b.backend, id, b.kernel, &b.storage))
    throw ArgError(ArgError::Range, argName(fn, "kernelId") + " must be a kernel compiled for backend '" + b.backend + "', received '" + id + "'");
  b.cacheObject = info[2].As<Napi::Object>();
  b.cache = unwrapTagged<NativeCache>(b.cacheObject, kNativeCacheTag);
  if (!b.cache) throw ArgError(ArgError::Type, argName(fn, "cache") + " must be a NativeCache, received " + describeValue(b.cacheObject));
  if (b.cache->backend() != b.backend)
    throw ArgError(ArgError::Range, std::string(fn) + ": the cache lives on backend '" + b.cache->backend() + "' and kernel '" + id +
                                        "' runs on '" + b.backend + "': a cache serves kernels of its own target");
  if (b.backend != "cpu" && dtypeName(b.cache->dtype()) != b.storage)
    throw ArgError(ArgError::Range, std::string(fn) + ": kernel '" + id + "' reads " + b.storage + " slots, the cache holds " +
                                        dtypeName(b.cache->dtype()));
  b.countBias = info[3].As<Napi::Object>().Get("countBias").ToBoolean().Value();
  b.mass = info[3].As<Napi::Object>().Get("mass").ToBoolean().Value();
  const Napi::Value values = info[3].As<Napi::Object>().Get("values");
  if (!values.IsUndefined() && !values.IsNull()) {
    b.values = unwrapTagged<NativeCache>(values, kNativeCacheTag);
    if (!b.values) throw ArgError(ArgError::Type, argName(fn, "values") + " must be a NativeCache, null or undefined, received " + describeValue(values));
    b.valuesObject = values.As<Napi::Object>();
    if (b.values == b.cache) b.values = nullptr, b.valuesObject = Napi::Object();
  }
  return b;
}

SlotView callSlots(const char* fn, const NativeCache* keys, const NativeCache* values) {
  if (!values) return keys->slots();
  const SlotView ks = keys->slots(), vs = values->slots();
  if (values->backend() != keys->backend() || vs.B != ks.B || vs.Hkv != ks.Hkv || vs.D != ks.D || vs.Dv != ks.Dv || vs.dtype != ks.dtype)
    throw ArgError(ArgError::Range, argName(fn, "values") + " must be a cache of the keys cache's backend, B, Hkv, D, Dv and dtype");
  const std::vector<int32_t>& lk = keys->hostLengths();
  const std::vector<int32_t>& lv = values->hostLengths();
  bool valuesShorter = false, keysShorter = false;
  for (size_t i = 0; i < lk.size(); ++i) valuesShorter |= lv[i] < lk[i], keysShorter |= lk[i] < lv[i];
  if (valuesShorter && keysShorter)
    throw ArgError(ArgError::Range, argName(fn, "values") + ": the keys and values caches must hold the same tokens from slot 0 (one may run one step ahead, for every sequence), but each is longer somewhere");
  // Positions, lengths and summaries of the shorter one (the slots both hold: the same tokens).
  SlotView kv = valuesShorter ? vs : ks;
  kv.k = ks.k, kv.kStrideB = ks.kStrideB, kv.kStrideH = ks.kStrideH, kv.kStrideS = ks.kStrideS;
  kv.v = vs.v, kv.vStrideB = vs.vStrideB, kv.vStrideH = vs.vStrideH, kv.vStrideS = vs.vStrideS;
  kv.capacity = std::min(ks.capacity, vs.capacity);
  return kv;
}

void bindSlotStats(const char* fn, AttnArgs& a, const NativeCache* cache, const NativeCache* values, bool countBias, bool mass) {
  a.bias = nullptr, a.mass = nullptr;
  if (!countBias && !mass) return;
  if (!cache->hasStats())
    throw ArgError(ArgError::Range, std::string(fn) + ": countBias and mass read the cache's slot statistics; this cache was created without them");
  if (values) throw ArgError(ArgError::Range, std::string(fn) + ": countBias and mass need keys and values from one cache");
  const int64_t cap = cache->capacity();
  if (countBias) a.bias = cache->biasData(), a.biasStrideB = cache->Hkv() * cap, a.biasStrideH = cap;
  if (mass) a.mass = cache->massData(), a.massStrideB = cache->Hkv() * cap, a.massStrideH = cap;
}

void readAttendScalars(const char* fn, const Napi::Object& o, const AttendBinding& bind, AttnArgs& a, std::vector<double>& params) {
  a.kv = callSlots(fn, bind.cache, bind.values);
  bindSlotStats(fn, a, bind.cache, bind.values, bind.countBias, bind.mass);
  a.B = bind.cache->B();
  a.Hq = readInteger(fn, "Hq", o.Get("Hq"), 1, "a positive integer");
  if (a.Hq % bind.cache->Hkv() != 0)
    throw ArgError(ArgError::Range, argName(fn, "Hq") + " must be a multiple of the cache's Hkv = " + std::to_string(bind.cache->Hkv()));
  a.scale = readFiniteNumber(fn, "scale", o.Get("scale"));
  const int64_t threads = readInteger(fn, "threads", o.Get("threads"), 1, "a positive integer");
  if (threads > cpu::kMaxThreads) throw ArgError(ArgError::Range, argName(fn, "threads") + " must be at most " + std::to_string(cpu::kMaxThreads));
  a.threads = int(threads);
  params = readParams(fn, o.Get("params"), bind.kernel.numParams, bind.kernel.id);
}

void setPackedStrides(AttnArgs& a) {
  const int64_t D = a.kv.D, Dv = a.kv.Dv;
  a.qStrideB = 0, a.qStrideH = D, a.qStrideRow = a.Hq * D, a.qposStrideB = 0;
  a.oStrideB = 0, a.oStrideH = Dv, a.oStrideRow = a.Hq * Dv;
  a.lseStrideB = 0, a.lseStrideH = 1, a.lseStrideRow = a.Hq;
}

void bindRows(const char* fn, AttnArgs& a, const int32_t* start, const int32_t* count, int64_t rows) {
  int64_t maxRows = 0, total = 0;
  for (int64_t b = 0; b < a.B; ++b) {
    if (start[b] < 0 || count[b] < 0 || int64_t(start[b]) + count[b] > rows)
      throw ArgError(ArgError::Range, argName(fn, "rowStart") + " and 'rowCount' must give sequence " + std::to_string(b) +
                                          " rows inside the " + std::to_string(rows) + " of 'qpos', received start " +
                                          std::to_string(start[b]) + ", count " + std::to_string(count[b]));
    maxRows = std::max<int64_t>(maxRows, count[b]);
    total += count[b];
  }
  a.rowStart = start, a.rowCount = count;
  a.maxRows = maxRows, a.totalRows = total;
}

NativeBuffer* f32Buffer(const char* fn, const Napi::Value& v, const char* name, const std::string& backend, int64_t need, bool allowed) {
  if (!v.IsObject() || v.IsTypedArray()) return nullptr;
  NativeBuffer* b = unwrapTagged<NativeBuffer>(v, kNativeBufferTag);
  if (!b) return nullptr;
  if (!allowed) throw ArgError(ArgError::Type, argName(fn, name) + " is a NativeBuffer: buffers are read and written in place by a plan's run() only (decodeSync)");
  if (b->released()) throw ArgError(ArgError::Range, argName(fn, name) + " is a released buffer");
  if (b->backend() != backend) throw ArgError(ArgError::Range, argName(fn, name) + " lives on backend '" + b->backend() + "', the kernel runs on '" + backend + "'");
  if (b->dtype() != DType::F32) throw ArgError(ArgError::Range, argName(fn, name) + " must hold f32 values, it holds " + dtypeName(b->dtype()));
  if (b->length() < need) throw ArgError(ArgError::Range, argName(fn, name) + " holds " + std::to_string(b->length()) + " values, the call needs " + std::to_string(need));
  return b;
}

}  // namespace kvf::napi
