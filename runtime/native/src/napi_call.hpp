// What every asynchronous kernel call of the addon shares (forward, attend): reading the
// parameter array, the worker that runs a parsed call off the main thread and resolves with the
// { out, lse } arrays it allocated, the message of a failed kernel, and turning parse errors into
// a rejected promise (the promise-returning exports never throw synchronously).
#pragma once
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "napi_args.hpp"

namespace kvf::napi {

// Params are copied into at least this many zero-padded slots, so a variant whose parameter count
// the registry does not know can never read outside the copy.
constexpr size_t kMinParamSlots = 16;

// The Float64Array `v` of a call's run-time parameters, checked against the kernel's declared
// count (numParams < 0: not declared), copied and padded.
inline std::vector<double> readParams(const char* fn, const Napi::Value& v, int numParams, const std::string& kernelId) {
  const TypedArrayBytes t = readTypedArray(fn, "params", v, napi_float64_array, -1, "");
  if (numParams >= 0 && static_cast<int64_t>(t.length) != numParams)
    throw ArgError(ArgError::Range, argName(fn, "params") + " must be a Float64Array of length " + std::to_string(numParams) +
                                        " (the parameters of kernel '" + kernelId + "'), received " + describeValue(v));
  std::vector<double> p(std::max(t.length, kMinParamSlots), 0.0);
  if (t.length > 0) std::memcpy(p.data(), t.data, t.bytes);
  return p;
}

// Inside a catch block: the message of the exception in flight, for a kernel call that failed,
// and whether the system refused memory (isOutOfMemory).
struct KernelFailure {
  std::string message;
  bool outOfMemory = false;
};
inline KernelFailure kernelFailure(const char* fn, const std::string& kernelId) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return {std::string(fn) + ": kernel '" + kernelId + "' ran out of memory", true};
  } catch (const std::exception& e) {
    return {e.what(), isOutOfMemory(e)};
  } catch (...) {
    return {std::string(fn) + ": kernel '" + kernelId + "' failed with an unknown exception (this is a bug in kvforge)", false};
  }
}

// The results a call allocated in parse(), unreachable from JS until the promise resolves.
struct Outputs {
  Napi::Reference<Napi::ArrayBuffer> out, lse;
  size_t outLength = 0, lseLength = 0;
};

// Runs `call->execute()` on a libuv worker thread and resolves with { out, lse } (Float32Arrays
// over call->results), or rejects with kernelFailure's message. Call provides
//   static constexpr const char* kFn;  std::string kernelId() const;  Outputs results;
//   void execute();          // the kernel (worker thread)
//   void done() noexcept;    // after execute, success or not (worker thread): drop what it can
// { out, lse }: Float32Arrays over a call's results.
inline Napi::Object resultObject(Napi::Env env, const Outputs& r) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("out", Napi::Float32Array::New(env, r.outLength, r.out.Value(), 0));
  result.Set("lse", Napi::Float32Array::New(env, r.lseLength, r.lse.Value(), 0));
  return result;
}

template <class Call>
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, std::unique_ptr<Call> call)
      : Napi::AsyncWorker(env, Call::kFn), deferred_(Napi::Promise::Deferred::New(env)), call_(std::move(call)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      call_->execute();
    } catch (...) {
      const KernelFailure f = kernelFailure(Call::kFn, call_->kernelId());
      outOfMemory_ = f.outOfMemory;
      SetError(f.message);
    }
    call_->done();
  }
  void OnOK() override { deferred_.Resolve(resultObject(Env(), call_->results)); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(coreError(Env(), e.Message(), outOfMemory_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Call> call_;
  bool outOfMemory_ = false;
};

// A promise rejected with the exception in flight (inside a catch block): an ArgError as its JS
// TypeError/RangeError, a JS exception as itself, anything else as an Error prefixed with `fn`.
inline Napi::Promise rejectedWithCurrent(Napi::Env env, const char* fn) {
  auto d = Napi::Promise::Deferred::New(env);
  try {
    throw;
  } catch (const ArgError& e) {
    d.Reject(toJsError(env, e).Value());
  } catch (const Napi::Error& e) {  // a throwing getter on an argument object
    d.Reject(e.Value());
  } catch (const std::exception& e) {
    d.Reject(coreError(env, std::string(fn) + ": " + e.what(), e).Value());
  } catch (...) {
    d.Reject(Napi::Error::New(env, std::string(fn) + ": an unknown exception (this is a bug in kvforge)").Value());
  }
  return d.Promise();
}

// A call parse() marked runInline, run on the JS thread now: a promise already settled.
template <class Call>
Napi::Promise runNow(Napi::Env env, std::unique_ptr<Call> call) {
  auto d = Napi::Promise::Deferred::New(env);
  KernelFailure failure;
  bool ok = true;
  try {
    call->execute();
  } catch (...) {
    failure = kernelFailure(Call::kFn, call->kernelId());
    ok = false;
  }
  call->done();
  if (ok) d.Resolve(resultObject(env, call->results));
  else d.Reject(coreError(env, failure.message, failure.outOfMemory).Value());
  return d.Promise();
}

// parse(info) -> unique_ptr<Call>, then the call queued on a KernelWorker (or, when parse set
// call->runInline, run at once on this thread); parse errors reject.
template <class Call, class Parse>
Napi::Value queueCall(const Napi::CallbackInfo& info, Parse&& parse) {
  Napi::Env env = info.Env();
  std::unique_ptr<Call> call;
  try {
    call = parse(info);
  } catch (...) {
    return rejectedWithCurrent(env, Call::kFn);
  }
  if (call->runInline) return runNow(env, std::move(call));
  auto* worker = new KernelWorker<Call>(env, std::move(call));  // deletes itself after OnOK/OnError
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

}  // namespace kvf::napi
