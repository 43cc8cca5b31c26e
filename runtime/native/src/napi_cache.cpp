#include "napi_cache.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>

#include "kvforge/convert.hpp"
#include "kvforge/out_of_memory.hpp"
#include "napi_args.hpp"
#include "napi_guard.hpp"
#include "napi_type_tags.hpp"

namespace kvf::napi {
namespace {

constexpr int64_t kMaxSafe = (int64_t(1) << 53) - 1;

int64_t checkedProduct(std::initializer_list<int64_t> xs, const char* fn, const char* what) {
  int64_t p = 1;
  for (int64_t x : xs)
    if (__builtin_mul_overflow(p, x, &p) || p > kMaxSafe)  // more than any memory: refused as such
      throw OutOfMemory(std::string(fn) + ": " + what + " is too large (more than 2^53 elements or bytes)");
  return p;
}

}  // namespace

Napi::Function NativeCache::define(Napi::Env env) {
  return DefineClass(env, "NativeCache",
                     {InstanceMethod("append", &NativeCache::append), InstanceMethod("truncate", &NativeCache::truncate),
                      InstanceMethod("grow", &NativeCache::grow), InstanceMethod("lengths", &NativeCache::lengths),
                      InstanceMethod("read", &NativeCache::read), InstanceMethod("summary", &NativeCache::summary),
                      InstanceMethod("release", &NativeCache::release), InstanceMethod("compact", &NativeCache::compact),
                      InstanceMethod("merge", &NativeCache::merge), InstanceMethod("pyramid", &NativeCache::pyramid),
                      InstanceAccessor("hasStats", &NativeCache::getHasStats, nullptr),
                      InstanceAccessor("released", &NativeCache::getReleased, nullptr),
                      InstanceAccessor("capacity", &NativeCache::getCapacity, nullptr)});
}

NativeCache::NativeCache(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeCache>(info) {
  constexpr const char* fn = "NativeCache";
  try {
    info.This().As<Napi::Object>().TypeTag(&kNativeCacheTag);  // what unwrapTagged checks
    if (info.Length() < 7 || !info[0].IsString())
      throw ArgError(ArgError::Type, std::string(fn) + ": expected (backend, B, Hkv, D, Dv, dtype, capacity)");
    backend_ = info[0].As<Napi::String>().Utf8Value();
    mem_ = findMemoryOps(backend_);
    ops_ = findCacheOps(backend_);
    if (!mem_ || !ops_)
      throw ArgError(ArgError::Range, argName(fn, "backend") + " must be a backend compiled into this addon, received '" + backend_ + "'");
    staging_ = std::make_unique<Staging>(mem_);
    view_.B = readInteger(fn, "B", info[1], 1, "a positive integer");
    view_.Hkv = readInteger(fn, "Hkv", info[2], 1, "a positive integer");
    view_.D = readInteger(fn, "D", info[3], 1, "a positive integer");
    view_.Dv = readInteger(fn, "Dv", info[4], 1, "a positive integer");
    const int64_t dt = readInteger(fn, "dtype", info[5], 0, "a dtype number (0 f32, 1 f16, 2 bf16)");
    if (!validDType(int32_t(dt))) throw ArgError(ArgError::Range, argName(fn, "dtype") + " must be 0 (f32), 1 (f16) or 2 (bf16), received " + std::to_string(dt));
    view_.dtype = DType(dt);
    const int64_t capacity = readInteger(fn, "capacity", info[6], 0, "a non-negative integer");
    if (capacity > INT32_MAX) throw ArgError(ArgError::Range, argName(fn, "capacity") + " must be at most 2^31 - 1 slots");
    stats_ = info.Length() > 7 && info[7].ToBoolean().Value();
    lenHost_.assign(size_t(checkedProduct({view_.B, view_.Hkv}, fn, "B * Hkv")), 0);
    allocate(view_, capacity);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    freeView(view_);
    rethrowAsJs(info.Env(), e);
  }
}

NativeCache::~NativeCache() { freeView(view_); }

void NativeCache::allocate(CacheView& v, int64_t capacity) {
  v.capacity = (capacity + kSummaryTile - 1) / kSummaryTile * kSummaryTile;
  const int64_t heads = v.B * v.Hkv, es = dtypeBytes(v.dtype);
  const size_t kBytes = size_t(checkedProduct({heads, v.capacity, v.D, es}, "NativeCache", "the key storage"));
  const size_t vBytes = size_t(checkedProduct({heads, v.capacity, v.Dv, es}, "NativeCache", "the value storage"));
  const size_t pBytes = size_t(heads * v.capacity) * 4, sBytes = size_t(heads * (v.capacity / kSummaryTile)) * 4;
  try {
    v.k = mem_->alloc(kBytes);
    v.v = mem_->alloc(vBytes);
    v.pos = static_cast<int32_t*>(mem_->alloc(pBytes));
    v.len = static_cast<int32_t*>(mem_->alloc(size_t(heads) * 4));
    v.sumMin = static_cast<int32_t*>(mem_->alloc(sBytes));
    v.sumMax = static_cast<int32_t*>(mem_->alloc(sBytes));
    if (stats_) {
      v.count = static_cast<int32_t*>(mem_->alloc(pBytes));
      v.mass = static_cast<float*>(mem_->alloc(pBytes));
      v.bias = static_cast<float*>(mem_->alloc(pBytes));
    }
    ops_->initEmpty(v);
  } catch (...) {
    freeView(v);
    throw;
  }
}

void NativeCache::freeView(CacheView& v) noexcept {
  if (!mem_) return;
  for (void* p : {v.k, v.v, static_cast<void*>(v.pos), static_cast<void*>(v.len), static_cast<void*>(v.sumMin),
                  static_cast<void*>(v.sumMax), static_cast<void*>(v.count), static_cast<void*>(v.mass), static_cast<void*>(v.bias)})
    if (p) mem_->release(p);
  v.k = v.v = nullptr;
  v.pos = v.len = v.sumMin = v.sumMax = v.count = nullptr;
  v.mass = v.bias = nullptr;
}

void NativeCache::requireUsable(const char* fn) const {
  if (released()) throw ArgError(ArgError::Range, std::string(fn) + ": the cache was released");
  if (inUse_.load() != 0)
    throw ArgError(ArgError::Range, std::string(fn) + ": the cache is read by " + std::to_string(inUse_.load()) +
                                        " attention call(s) still in flight; await them first");
}

SlotView NativeCache::slots() const {
  if (released()) throw ArgError(ArgError::Range, "attend: the cache was released");
  int64_t maxLen = 0;
  for (int32_t l : lenHost_) maxLen = std::max<int64_t>(maxLen, l);
  return view_.slots(maxLen);
}

Napi::Value NativeCache::append(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "NativeCache.append";
    requireUsable(fn);
    const int64_t B = view_.B, H = view_.Hkv;
    const TypedArrayBytes start = readTypedArray(fn, "start", info[3], napi_int32_array, B, "B = " + std::to_string(B));
    const TypedArrayBytes count = readTypedArray(fn, "count", info[4], napi_int32_array, B, "B = " + std::to_string(B));
    const int32_t* st = static_cast<const int32_t*>(start.data);
    const int32_t* ct = static_cast<const int32_t*>(count.data);
    int64_t rows = 0;
    for (int64_t b = 0; b < B; ++b) {
      if (ct[b] < 0 || st[b] < 0)
        throw ArgError(ArgError::Range, argName(fn, "count") + " and 'start' must be non-negative (sequence " + std::to_string(b) + ")");
      rows = std::max<int64_t>(rows, int64_t(st[b]) + ct[b]);
    }
    const auto rowsFormula = [&] { return "rows = " + std::to_string(rows) + " (max of start + count)"; };  // messages only
    const TypedArrayBytes k = readTypedArray(fn, "k", info[0], napi_float32_array, -1, "");
    const TypedArrayBytes v = readTypedArray(fn, "v", info[1], napi_float32_array, -1, "");
    const TypedArrayBytes pos = readTypedArray(fn, "positions", info[2], napi_int32_array, -1, "");
    if (int64_t(k.length) < rows * H * view_.D)
      throw ArgError(ArgError::Range, argName(fn, "k") + " must hold rows*Hkv*D = " + std::to_string(rows * H * view_.D) + " floats (" + rowsFormula() + "), received " + describeValue(info[0]));
    if (int64_t(v.length) < rows * H * view_.Dv)
      throw ArgError(ArgError::Range, argName(fn, "v") + " must hold rows*Hkv*Dv = " + std::to_string(rows * H * view_.Dv) + " floats (" + rowsFormula() + "), received " + describeValue(info[1]));
    if (int64_t(pos.length) < rows)
      throw ArgError(ArgError::Range, argName(fn, "positions") + " must hold " + std::to_string(rows) + " positions (" + rowsFormula() + "), received " + describeValue(info[2]));
    appendRows(static_cast<const float*>(k.data), static_cast<const float*>(v.data), static_cast<const int32_t*>(pos.data), st, ct, rows);
    return info.Env().Undefined();
  });
}

void NativeCache::appendRows(const float* k, const float* v, const int32_t* positions, const int32_t* st, const int32_t* ct, int64_t rows) {
  constexpr const char* fn = "NativeCache.append";
  requireUsable(fn);
  const int64_t B = view_.B, H = view_.Hkv;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      if (int64_t(lenHost_[size_t(b * H + h)]) + ct[b] > view_.capacity)
        throw ArgError(ArgError::Range, std::string(fn) + ": sequence " + std::to_string(b) + " would hold " +
                                            std::to_string(int64_t(lenHost_[size_t(b * H + h)]) + ct[b]) +
                                            " slots, more than the capacity " + std::to_string(view_.capacity) + " (grow first)");
  AppendArgs a;
  a.cache = view_;
  a.k = static_cast<const float*>(staging_->in(0, k, size_t(rows * H * view_.D) * 4));
  a.v = static_cast<const float*>(staging_->in(1, v, size_t(rows * H * view_.Dv) * 4));
  a.positions = static_cast<const int32_t*>(staging_->in(2, positions, size_t(rows) * 4));
  a.start = static_cast<const int32_t*>(staging_->in(3, st, size_t(B) * 4));
  a.count = static_cast<const int32_t*>(staging_->in(4, ct, size_t(B) * 4));
  int64_t maxCount = 0;
  for (int64_t b = 0; b < B; ++b) maxCount = std::max<int64_t>(maxCount, ct[b]);
  a.maxCount = maxCount;
  a.threads = 1;  // one token per sequence is microseconds of work: a parallel region costs more
  ops_->append(a);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) lenHost_[size_t(b * H + h)] += ct[b];
}

Napi::Value NativeCache::truncate(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "NativeCache.truncate";
    requireUsable(fn);
    const int64_t B = view_.B, H = view_.Hkv;
    const TypedArrayBytes keep = readTypedArray(fn, "keep", info[0], napi_int32_array, B * H, "B*Hkv = " + std::to_string(B * H));
    const int32_t* kp = static_cast<const int32_t*>(keep.data);
    TruncateArgs a;
    a.cache = view_;
    a.keep = static_cast<const int32_t*>(staging_->in(3, kp, size_t(B * H) * 4));
    ops_->truncate(a);
    for (int64_t hd = 0; hd < B * H; ++hd)
      if (kp[hd] >= 0) lenHost_[size_t(hd)] = std::min(lenHost_[size_t(hd)], kp[hd]);
    return info.Env().Undefined();
  });
}

Napi::Value NativeCache::grow(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "NativeCache.grow";
    requireUsable(fn);
    const int64_t capacity = readInteger(fn, "capacity", info[0], 0, "a non-negative integer");
    if (capacity > INT32_MAX) throw ArgError(ArgError::Range, argName(fn, "capacity") + " must be at most 2^31 - 1 slots");
    if (capacity <= view_.capacity) return info.Env().Undefined();
    CacheView bigger = view_;
    bigger.k = bigger.v = nullptr;
    bigger.pos = bigger.len = bigger.sumMin = bigger.sumMax = bigger.count = nullptr;
    bigger.mass = bigger.bias = nullptr;
    allocate(bigger, capacity);  // throws before anything of the old cache changes
    try {
      ops_->copyCache(CopyCacheArgs{view_, bigger});
    } catch (...) {
      freeView(bigger);
      throw;
    }
    freeView(view_);
    view_ = bigger;
    return info.Env().Undefined();
  });
}

Napi::Value NativeCache::lengths(const Napi::CallbackInfo& info) {
  Napi::Int32Array out = Napi::Int32Array::New(info.Env(), lenHost_.size());
  std::copy(lenHost_.begin(), lenHost_.end(), out.Data());
  return out;
}

Napi::Value NativeCache::read(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "NativeCache.read";
    if (released()) throw ArgError(ArgError::Range, std::string(fn) + ": the cache was released");
    const int64_t b = readInteger(fn, "b", info[0], 0, "a sequence index"), h = readInteger(fn, "h", info[1], 0, "a KV head index");
    if (b >= view_.B || h >= view_.Hkv) throw ArgError(ArgError::Range, std::string(fn) + ": (b, h) out of range");
    const int64_t n = lenHost_[size_t(b * view_.Hkv + h)], es = dtypeBytes(view_.dtype);
    const int64_t head = b * view_.Hkv + h;
    // read(b, h, true): positions and statistics only (what a policy decides on), no K/V copy.
    const bool statsOnly = info.Length() > 2 && info[2].ToBoolean().Value();
    std::vector<uint8_t> kRaw(statsOnly ? 0 : size_t(n * view_.D * es)), vRaw(statsOnly ? 0 : size_t(n * view_.Dv * es));
    Napi::Env env = info.Env();
    Napi::Int32Array pos = Napi::Int32Array::New(env, size_t(n));
    if (n > 0 && statsOnly) mem_->download(pos.Data(), view_.pos + head * view_.capacity, size_t(n) * 4);
    if (n > 0 && !statsOnly) {
      mem_->download(kRaw.data(), static_cast<uint8_t*>(view_.k) + size_t(head * view_.capacity * view_.D * es), kRaw.size());
      mem_->download(vRaw.data(), static_cast<uint8_t*>(view_.v) + size_t(head * view_.capacity * view_.Dv * es), vRaw.size());
      mem_->download(pos.Data(), view_.pos + head * view_.capacity, size_t(n) * 4);
    }
    const auto widen = [&](const std::vector<uint8_t>& raw, size_t count) {
      Napi::Float32Array f = Napi::Float32Array::New(env, count);
      decodeFrom(view_.dtype, raw.data(), count, f.Data());
      return f;
    };
    Napi::Object out = Napi::Object::New(env);
    if (!statsOnly) {
      out.Set("k", widen(kRaw, size_t(n * view_.D)));
      out.Set("v", widen(vRaw, size_t(n * view_.Dv)));
    }
    out.Set("pos", pos);
    if (stats_) {
      Napi::Int32Array count = Napi::Int32Array::New(env, size_t(n));
      Napi::Float32Array mass = Napi::Float32Array::New(env, size_t(n)), bias = Napi::Float32Array::New(env, size_t(n));
      if (n > 0) {
        mem_->download(count.Data(), view_.count + head * view_.capacity, size_t(n) * 4);
        mem_->download(mass.Data(), view_.mass + head * view_.capacity, size_t(n) * 4);
        mem_->download(bias.Data(), view_.bias + head * view_.capacity, size_t(n) * 4);
      }
      out.Set("count", count);
      out.Set("mass", mass);
      out.Set("bias", bias);
    }
    return out;
  });
}

Napi::Value NativeCache::summary(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "NativeCache.summary";
    if (released()) throw ArgError(ArgError::Range, std::string(fn) + ": the cache was released");
    const int64_t b = readInteger(fn, "b", info[0], 0, "a sequence index"), h = readInteger(fn, "h", info[1], 0, "a KV head index");
    if (b >= view_.B || h >= view_.Hkv) throw ArgError(ArgError::Range, std::string(fn) + ": (b, h) out of range");
    const int64_t nSum = view_.capacity / kSummaryTile, head = b * view_.Hkv + h;
    Napi::Env env = info.Env();
    Napi::Int32Array mn = Napi::Int32Array::New(env, size_t(nSum)), mx = Napi::Int32Array::New(env, size_t(nSum));
    if (nSum > 0) {
      mem_->download(mn.Data(), view_.sumMin + head * nSum, size_t(nSum) * 4);
      mem_->download(mx.Data(), view_.sumMax + head * nSum, size_t(nSum) * 4);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("min", mn);
    out.Set("max", mx);
    return out;
  });
}

Napi::Value NativeCache::release(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (inUse_.load() != 0)
      throw ArgError(ArgError::Range, "NativeCache.release: the cache is read by attention calls still in flight; await them first");
    freeView(view_);
    std::fill(lenHost_.begin(), lenHost_.end(), 0);
    return info.Env().Undefined();
  });
}

NativeCache::HeadInts NativeCache::headInts(const char* fn, const char* name, const Napi::Value& v, int slot) {
  const int64_t H = view_.B * view_.Hkv;
  const TypedArrayBytes t = readTypedArray(fn, name, v, napi_int32_array, H, "B*Hkv = " + std::to_string(H));
  const int32_t* host = static_cast<const int32_t*>(t.data);
  return HeadInts{host, static_cast<const int32_t*>(staging_->in(slot, host, size_t(H) * 4))};
}

namespace {
Pooling readPooling(const char* fn, const Napi::Value& v) {
  return Pooling(readInteger(fn, "pooling", v, 0, "a pooling number (0 mean, 1 max, 2 best by mass, 3 best by key norm, 4 bestVote)"));
}
}  // namespace

Napi::Value NativeCache::compact(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "NativeCache.compact";
    requireUsable(fn);
    const int64_t H = view_.B * view_.Hkv;
    const HeadInts kc = headInts(fn, "keepCount", info[1], 1);
    int64_t listed = 0;
    for (int64_t hd = 0; hd < H; ++hd) listed += std::max<int32_t>(0, kc.host[hd]);
    const TypedArrayBytes keep = readTypedArray(fn, "keep", info[0], napi_int32_array, listed, "the sum of keepCount's non-negative entries = " + std::to_string(listed));
    CompactArgs a;
    a.cache = view_;
    a.keep = static_cast<const int32_t*>(staging_->in(0, keep.data, size_t(listed) * 4));
    a.keepCount = kc.staged;
    ops_->compact(a);
    for (int64_t hd = 0; hd < H; ++hd)
      if (kc.host[hd] >= 0) lenHost_[size_t(hd)] = kc.host[hd];
    return info.Env().Undefined();
  });
}

Napi::Value NativeCache::merge(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "NativeCache.merge";
    requireUsable(fn);
    if (!stats_) throw ArgError(ArgError::Range, std::string(fn) + ": the cache was created without slot statistics");
    const int64_t H = view_.B * view_.Hkv;
    const HeadInts st = headInts(fn, "start", info[0], 0), ct = headInts(fn, "count", info[1], 1), ds = headInts(fn, "dst", info[2], 2);
    MergeArgs a;
    a.cache = view_;
    a.groupSize = int32_t(readInteger(fn, "groupSize", info[3], 2, "an integer >= 2"));
    a.pooling = readPooling(fn, info[4]);
    a.pairOdd = info[5].ToBoolean().Value();
    a.start = st.staged, a.count = ct.staged, a.dst = ds.staged;
    const int32_t *s0 = st.host, *n0 = ct.host, *d0 = ds.host;
    ops_->merge(a);  // validates every head first
    const int64_t g = a.pairOdd ? 2 : a.groupSize;
    for (int64_t hd = 0; hd < H; ++hd)
      if (n0[hd] > 0) lenHost_[size_t(hd)] = int32_t(d0[hd] + (n0[hd] + g - 1) / g + (lenHost_[size_t(hd)] - s0[hd] - n0[hd]));
    return info.Env().Undefined();
  });
}

Napi::Value NativeCache::pyramid(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "NativeCache.pyramid";
    requireUsable(fn);
    if (!stats_) throw ArgError(ArgError::Range, std::string(fn) + ": the cache was created without slot statistics");
    const int64_t H = view_.B * view_.Hkv;
    const HeadInts sk = headInts(fn, "sinks", info[0], 0), cp = headInts(fn, "compressed", info[1], 1);
    PyramidArgs a;
    a.cache = view_;
    a.budget = int32_t(readInteger(fn, "budget", info[2], 1, "an integer >= 1"));
    a.groupSize = int32_t(readInteger(fn, "groupSize", info[3], 2, "an integer >= 2"));
    a.pooling = readPooling(fn, info[4]);
    a.sinks = sk.staged, a.compressed = cp.staged;
    const int32_t *sinks = sk.host, *merged = cp.host;
    ops_->pyramid(a);  // validates every head first
    // The lengths follow from the sizes alone (the rule's rounds).
    for (int64_t hd = 0; hd < H; ++hd) {
      if (merged[hd] < 0) continue;
      int64_t m = merged[hd], recent = lenHost_[size_t(hd)] - sinks[hd] - m;
      while (recent > a.budget) m = (m + a.budget + a.groupSize - 1) / a.groupSize, recent -= a.budget;
      lenHost_[size_t(hd)] = int32_t(sinks[hd] + m + recent);
    }
    return info.Env().Undefined();
  });
}

Napi::Value NativeCache::getHasStats(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), stats_); }

Napi::Value NativeCache::getReleased(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), released()); }
Napi::Value NativeCache::getCapacity(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(view_.capacity)); }

}  // namespace kvf::napi
