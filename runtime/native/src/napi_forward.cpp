// forward(): the typed-array call (interface version 1: contiguous [B, H, L, D] arrays, one
// position map) turned into kernel interface v2 through kvforge/v1_call.hpp, run off the main
// thread.
//
// Everything is checked before the work is queued, so a kernel only ever sees consistent shapes:
// value kinds (typed-array kinds exactly), lengths against the shape products, Hq % Hkv. Tile
// classes are the kernel's own business now (its generated classify()).
//
// The call owns every byte the kernel touches (call_memory.hpp says why N-API leaves no other
// safe way): each input is copied into aligned memory the moment it has been read and checked,
// before any more JS can run (a later property getter may detach an earlier input; the copy is
// already taken); the outputs are ArrayBuffers created here, reachable from JS only once the
// promise resolves with { out, lse }. Detached inputs are rejected; views of a SharedArrayBuffer
// are copied like any other.
//
// Except decode-shaped calls (Lq <= kInlineMaxLq) of the cpu backend with f32 storage: they run
// on the calling thread before forward() returns, reading the caller's arrays in place. Such a
// call is bound by reading K and V once; copying them for a worker reads them once and writes
// them once more, and costs the JS thread more than the kernel itself (B=1, Hkv=4, Lk=4096 over
// inputs past L3: 4.4 ms per call copied, against ORT's 3.3 ms). In place is safe only while no
// JS runs, so that path first reads every argument value (getters run then), then allocates the
// outputs (which may collect garbage: off-heap backing stores never move), and takes the data
// pointers last, with no JS between them and the kernel.
#include "napi_forward.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "kvforge/cpu/thread_pool.hpp"
#include "kvforge/convert.hpp"
#include "kvforge/v1_call.hpp"
#include "kvforge/registry.hpp"
#include "backends.hpp"
#include "call_memory.hpp"
#include "napi_args.hpp"
#include "napi_call.hpp"

namespace kvf::napi {
namespace {

constexpr const char* kFn = "forward";
constexpr int64_t kMaxSafe = (int64_t(1) << 53) - 1;

struct Factor {
  const char* name;
  int64_t value;
};

// "B*Hkv*Lk*D = 1*2*256*64" and the product (RangeError if it exceeds 2^53).
int64_t shapeProduct(std::initializer_list<Factor> fs, std::string& formula) {
  std::string names, values;
  int64_t p = 1;
  bool overflow = false;
  for (const Factor& f : fs) {
    names += (names.empty() ? "" : "*") + std::string(f.name);
    values += (values.empty() ? "" : "*") + std::to_string(f.value);
    if (__builtin_mul_overflow(p, f.value, &p) || p > kMaxSafe) overflow = true;
  }
  formula = names + " = " + values;
  if (overflow) throw ArgError(ArgError::Range, std::string(kFn) + ": the array size " + formula + " is too large");
  return p;
}

DType dtypeOf(const std::string& storage) { return storage == "f16" ? DType::F16 : storage == "bf16" ? DType::BF16 : DType::F32; }

// A copy of f32 values in the kernel's storage dtype (16-bit ones rounded to nearest even, as
// runtime/dtype.ts rounds for the reference); f32 is the copy itself.
AlignedCopy storedAs(const std::string& storage, AlignedCopy f32) {
  const DType t = dtypeOf(storage);
  if (t == DType::F32) return f32;
  const size_t n = f32.bytes() / sizeof(float);
  std::vector<uint16_t> tmp(n);
  encodeAs(t, f32.as<float>(), n, tmp.data());
  return AlignedCopy(tmp.data(), n * sizeof(uint16_t));
}

// Everything one call needs, kept alive together until the worker is destroyed (main thread).
// Lq at most this: the call runs on the calling thread, in place (kvforge/cpu/decode.hpp's limit).
constexpr int64_t kInlineMaxLq = 8;

struct Call {
  static constexpr const char* kFn = "forward";
  bool runInline = false;
  CpuKernel kernel;  // a copy: CUDA backends' descriptors are converted into this shape
  const MemoryOps* memory = nullptr;  // the backend's: staging to device memory where needed
  std::unique_ptr<Staging> staging;
  std::string storage = "f32";  // the K/V dtype the kernel reads (CUDA kernels: their plan's)
  V1Layout args;     // every pointer points into memory below
  std::unique_ptr<V1Call> v2;  // built once the layout is complete
  AlignedCopy q, k, v, qpos, kpos;
  std::vector<int32_t> defaultQpos, defaultKpos;
  std::vector<double> params;
  Outputs results;

  std::string kernelId() const { return kernel.id; }
  void execute() {
    staging = std::make_unique<Staging>(memory);
    v2->stage(*staging);
    kernel.fn(v2->args(), params.data());
    staging->finish();
  }
  // Give the input copies back as soon as the kernel is done (worker thread), so they are in the
  // pool before JS runs the caller's next call: the worker itself is destroyed only after that.
  void done() noexcept {
    staging.reset();
    v2.reset();
    q = AlignedCopy(), k = AlignedCopy(), v = AlignedCopy();
    qpos = AlignedCopy(), kpos = AlignedCopy();
    args.q = args.k = args.v = nullptr;
    args.qpos = args.kpos = nullptr;
  }
};

// A new ArrayBuffer of `length` floats for result `name`; a failed allocation names it.
Napi::ArrayBuffer newOutput(Napi::Env env, const char* name, int64_t length, const std::string& formula) {
  const size_t bytes = size_t(length) * sizeof(float);
  try {
    return Napi::ArrayBuffer::New(env, bytes);
  } catch (const Napi::Error&) {  // V8's RangeError "Array buffer allocation failed", now cleared
    throw ArgError(ArgError::Range, std::string(kFn) + ": could not allocate the result '" + name + "': " +
                                        std::to_string(length) + " floats (" + formula + ")");
  }
}

Napi::Value prop(const Napi::Object& a, const char* name) { return a.Get(name); }

std::unique_ptr<Call> parse(const Napi::CallbackInfo& info) {
  auto call = std::make_unique<Call>();
  // kernelId
  const Napi::Value idv = info.Length() > 0 ? info[0] : info.Env().Undefined();
  if (!idv.IsString())
    throw ArgError(ArgError::Type, argName(kFn, "kernelId") + " must be a string, received " + describeValue(idv));
  const std::string id = idv.As<Napi::String>().Utf8Value();
  // backend (optional third argument)
  std::string backend = "cpu";
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsString())
      throw ArgError(ArgError::Type, argName(kFn, "backend") + " must be a string, received " + describeValue(info[2]));
    backend = info[2].As<Napi::String>().Utf8Value();
    const std::vector<std::string> compiled = compiledBackends();
    if (std::find(compiled.begin(), compiled.end(), backend) == compiled.end()) {
      std::string names;
      for (const std::string& b : compiled) names += (names.empty() ? "" : ", ") + b;
      throw ArgError(ArgError::Range, argName(kFn, "backend") + " must be one of the compiled backends (" + names +
                                          "), received '" + backend + "'");
    }
  }
  call->memory = findMemoryOps(backend);
  if (!call->memory || !findKernel(backend, id, call->kernel, &call->storage)) {
    std::string known;
    const std::vector<std::string> ids = listKernels(backend);
    for (size_t i = 0; i < ids.size() && i < 12; ++i) known += (i ? ", " : "") + ids[i];
    if (ids.size() > 12) known += ", ...";
    throw ArgError(ArgError::Range, argName(kFn, "kernelId") + " must be the id of a kernel compiled for backend '" + backend + "' (" +
                                        (known.empty() ? std::string("none are compiled") : "one of: " + known) +
                                        "), received " + describeValue(idv));
  }
  const CpuKernel& kern = call->kernel;

  // a
  const Napi::Value av = info.Length() > 1 ? info[1] : info.Env().Undefined();
  if (!av.IsObject() || av.IsArray() || av.IsTypedArray() || av.IsFunction())
    throw ArgError(ArgError::Type, argName(kFn, "a") + " must be an object of arguments, received " + describeValue(av));
  const Napi::Object a = av.As<Napi::Object>();
  V1Layout& f = call->args;

  // Shapes.
  auto positive = [&](const char* n) { return readInteger(kFn, n, prop(a, n), 1, "a positive integer"); };
  auto nonNegative = [&](const char* n) { return readInteger(kFn, n, prop(a, n), 0, "a non-negative integer"); };
  f.B = positive("B");
  f.Hq = positive("Hq");
  f.Hkv = positive("Hkv");
  f.Lq = nonNegative("Lq");
  f.Lk = nonNegative("Lk");
  f.D = positive("D");
  f.Dv = positive("Dv");
  if (f.Hq % f.Hkv != 0)
    throw ArgError(ArgError::Range, argName(kFn, "Hkv") + " must divide Hq (= " + std::to_string(f.Hq) +
                                        ") so query heads share kv heads evenly, received number " + std::to_string(f.Hkv));
  f.scale = readFiniteNumber(kFn, "scale", prop(a, "scale"));

  const int64_t threads = positive("threads");
  if (threads > cpu::kMaxThreads)
    throw ArgError(ArgError::Range, argName(kFn, "threads") + " must be an integer from 1 to " +
                                        std::to_string(cpu::kMaxThreads) + ", received number " + std::to_string(threads));
  f.threads = static_cast<int>(threads);

  call->runInline = backend == "cpu" && call->storage == "f32" && f.Lq <= kInlineMaxLq;
  std::string qFormula, kFormula, vFormula;
  const int64_t nQ = shapeProduct({{"B", f.B}, {"Hq", f.Hq}, {"Lq", f.Lq}, {"D", f.D}}, qFormula);
  const int64_t nK = shapeProduct({{"B", f.B}, {"Hkv", f.Hkv}, {"Lk", f.Lk}, {"D", f.D}}, kFormula);
  const int64_t nV = shapeProduct({{"B", f.B}, {"Hkv", f.Hkv}, {"Lk", f.Lk}, {"Dv", f.Dv}}, vFormula);
  const std::string lqFormula = "Lq = " + std::to_string(f.Lq), lkFormula = "Lk = " + std::to_string(f.Lk);
  auto copyOf = [](const TypedArrayBytes& t) { return AlignedCopy(t.data, t.bytes); };
  Napi::Value qv, kv, vv, qp, kp;
  if (call->runInline) {
    // Every value first (getters run now); their data only below, after the outputs exist.
    qv = prop(a, "q"), kv = prop(a, "k"), vv = prop(a, "v"), qp = prop(a, "qpos"), kp = prop(a, "kpos");
  } else {
    // Input tensors: read, checked and copied in one step each.
    call->q = copyOf(readTypedArray(kFn, "q", prop(a, "q"), napi_float32_array, nQ, qFormula));
    call->k = storedAs(call->storage, copyOf(readTypedArray(kFn, "k", prop(a, "k"), napi_float32_array, nK, kFormula)));
    call->v = storedAs(call->storage, copyOf(readTypedArray(kFn, "v", prop(a, "v"), napi_float32_array, nV, vFormula)));
    f.q = call->q.as<float>();
    f.k = call->k.as<float>();
    f.v = call->v.as<float>();
    qp = prop(a, "qpos");
    if (!qp.IsNull() && !qp.IsUndefined()) call->qpos = copyOf(readTypedArray(kFn, "qpos", qp, napi_int32_array, f.Lq, lqFormula));
    kp = prop(a, "kpos");
    if (!kp.IsNull() && !kp.IsUndefined()) call->kpos = copyOf(readTypedArray(kFn, "kpos", kp, napi_int32_array, f.Lk, lkFormula));
  }
  // Positions: null/undefined = the defaults of semantics.md 1 (bottom-right aligned queries).
  const bool defaultQ = qp.IsNull() || qp.IsUndefined(), defaultK = kp.IsNull() || kp.IsUndefined();
  if (defaultQ && (f.Lk > INT32_MAX || f.Lq > INT32_MAX))
    throw ArgError(ArgError::Range, argName(kFn, "qpos") + " is needed: default positions exceed the int32 range");
  if (defaultQ) {
    call->defaultQpos.resize(static_cast<size_t>(f.Lq));
    for (int64_t i = 0; i < f.Lq; ++i) call->defaultQpos[size_t(i)] = static_cast<int32_t>(f.Lk - f.Lq + i);
    f.qpos = call->defaultQpos.data();
  } else if (!call->runInline) {
    f.qpos = call->qpos.as<int32_t>();
  }
  if (defaultK) {
    call->defaultKpos.resize(static_cast<size_t>(f.Lk));
    for (int64_t j = 0; j < f.Lk; ++j) call->defaultKpos[size_t(j)] = static_cast<int32_t>(j);
    f.kpos = call->defaultKpos.data();
  } else if (!call->runInline) {
    f.kpos = call->kpos.as<int32_t>();
  }

  // Params: copied (zero-padded), so the variant's constructor reads a stable snapshot.
  call->params = readParams(kFn, prop(a, "params"), kern.numParams, id);

  // Outputs, last: every argument is valid, and no JS runs between here and the worker.
  {
    std::string outFormula, lseFormula;
    const int64_t nOut = shapeProduct({{"B", f.B}, {"Hq", f.Hq}, {"Lq", f.Lq}, {"Dv", f.Dv}}, outFormula);
    const int64_t nLse = shapeProduct({{"B", f.B}, {"Hq", f.Hq}, {"Lq", f.Lq}}, lseFormula);
    Napi::ArrayBuffer out = newOutput(info.Env(), "out", nOut, outFormula);
    Napi::ArrayBuffer lse = newOutput(info.Env(), "lse", nLse, lseFormula);
    f.out = static_cast<float*>(out.Data());
    f.lse = static_cast<float*>(lse.Data());
    call->results.out = Napi::Persistent(out);
    call->results.lse = Napi::Persistent(lse);
    call->results.outLength = size_t(nOut);
    call->results.lseLength = size_t(nLse);
  }
  if (call->runInline) {
    // In place: no JS runs from here to the end of the kernel, so nothing can detach these. An
    // empty array may have no data pointer: the kernel gets a valid one, as from the copies.
    alignas(64) static const int32_t kNothing[16] = {};
    auto data = [&](const char* name, const Napi::Value& v, napi_typedarray_type t, int64_t n, const std::string& formula) {
      const void* p = readTypedArray(kFn, name, v, t, n, formula).data;
      return p ? p : static_cast<const void*>(kNothing);
    };
    f.q = static_cast<const float*>(data("q", qv, napi_float32_array, nQ, qFormula));
    f.k = static_cast<const float*>(data("k", kv, napi_float32_array, nK, kFormula));
    f.v = static_cast<const float*>(data("v", vv, napi_float32_array, nV, vFormula));
    if (!defaultQ) f.qpos = static_cast<const int32_t*>(data("qpos", qp, napi_int32_array, f.Lq, lqFormula));
    if (!defaultK) f.kpos = static_cast<const int32_t*>(data("kpos", kp, napi_int32_array, f.Lk, lkFormula));
  }
  call->v2 = std::make_unique<V1Call>(f);
  call->v2->setStorage(dtypeOf(call->storage));
  return call;
}

}  // namespace

Napi::Value forward(const Napi::CallbackInfo& info) { return queueCall<Call>(info, parse); }

}  // namespace kvf::napi
