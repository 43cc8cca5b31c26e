// Probe exports (napi_probes.hpp).
#include "napi_probes.hpp"

#include <functional>
#include <memory>
#include <new>
#include <string>

#include "kvforge/cpu/thread_pool.hpp"
#include "kvforge/probes.hpp"
#include "napi_args.hpp"
#include "napi_attend_bind.hpp"
#include "napi_buffer.hpp"

namespace kvf::napi {
namespace {

constexpr double kMaxSeconds = 60.0;

// Runs a measurement returning a number on a worker thread; resolves with it.
class ProbeWorker : public Napi::AsyncWorker {
 public:
  // `done` runs on the JS thread once the measurement has finished, success or not.
  ProbeWorker(Napi::Env env, const char* name, std::function<double()> run, std::function<void()> done = {})
      : Napi::AsyncWorker(env, name), name_(name), deferred_(Napi::Promise::Deferred::New(env)), run_(std::move(run)),
        done_(std::move(done)) {}
  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = run_();
    } catch (const std::bad_alloc&) {
      outOfMemory_ = true;
      SetError(name_ + ": out of memory");
    } catch (const std::exception& e) {
      outOfMemory_ = isOutOfMemory(e);
      SetError(e.what());
    }
  }
  void OnOK() override {
    if (done_) done_();
    deferred_.Resolve(Napi::Number::New(Env(), result_));
  }
  void OnError(const Napi::Error& e) override {
    if (done_) done_();
    deferred_.Reject(coreError(Env(), e.Message(), outOfMemory_).Value());
  }

 private:
  std::string name_;
  Napi::Promise::Deferred deferred_;
  std::function<double()> run_;
  std::function<void()> done_;
  double result_ = 0;
  bool outOfMemory_ = false;
};

Napi::Value rejected(Napi::Env env, const Napi::Error& e) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(e.Value());
  return d.Promise();
}

Napi::Value arg(const Napi::CallbackInfo& info, size_t i) { return info.Length() > i ? info[i] : info.Env().Undefined(); }

int readThreads(const char* fn, const Napi::Value& v) {
  const int64_t t = readInteger(fn, "threads", v, 1, "a positive integer");
  if (t > cpu::kMaxThreads)
    throw ArgError(ArgError::Range, argName(fn, "threads") + " must be an integer from 1 to " +
                                        std::to_string(cpu::kMaxThreads) + ", received " + describeValue(v));
  return static_cast<int>(t);
}

double readSeconds(const char* fn, const Napi::Value& v, double dflt) {
  if (v.IsUndefined()) return dflt;
  const double s = readFiniteNumber(fn, "seconds", v);
  if (!(s > 0 && s <= kMaxSeconds))
    throw ArgError(ArgError::Range, argName(fn, "seconds") + " must be a number of seconds in (0, 60], received " + describeValue(v));
  return s;
}

}  // namespace

Napi::Value probeFma(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    const int threads = readThreads("probeFma", arg(info, 0));
    const double seconds = readSeconds("probeFma", arg(info, 1), 0.5);
    auto* w = new ProbeWorker(env, "probeFma", [=] { return probeFmaGflops(threads, seconds); });
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  } catch (const ArgError& e) {
    return rejected(env, toJsError(env, e));
  }
}

Napi::Value probeRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    const int threads = readThreads("probeRead", arg(info, 0));
    const Napi::Value bv = arg(info, 1);
    if (bv.IsObject()) {
      // A cpu f32 NativeBuffer the caller has written: read in place, no allocation. It is
      // pinned (release refused) and referenced (not collected) until the probe is done.
      NativeBuffer* b = f32Buffer("probeRead", bv, "buffer", "cpu", 64 * threads, true);
      if (!b) throw ArgError(ArgError::Type, argName("probeRead", "bytes") + " must be a byte count or a cpu f32 NativeBuffer, received " + describeValue(bv));
      const double seconds = readSeconds("probeRead", arg(info, 2), 0.5);
      const float* data = static_cast<const float*>(b->data());
      const size_t n = size_t(b->length());
      b->beginUse();
      auto keep = std::make_shared<Napi::ObjectReference>(Napi::Persistent(bv.As<Napi::Object>()));
      auto* w = new ProbeWorker(env, "probeRead", [=] { return probeReadGBsOn(threads, data, n, seconds); },
                                [b, keep] { b->endUse(), keep->Reset(); });
      Napi::Promise p = w->promise();
      w->Queue();
      return p;
    }
    const size_t bytes = bv.IsUndefined() ? kDefaultProbeReadBytes
                                          : static_cast<size_t>(readInteger("probeRead", "bytes", bv, 1024, "an integer number of bytes >= 1024"));
    const double seconds = readSeconds("probeRead", arg(info, 2), 0.5);
    auto* w = new ProbeWorker(env, "probeRead", [=] { return probeReadGBs(threads, bytes, seconds); });
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  } catch (const ArgError& e) {
    return rejected(env, toJsError(env, e));
  }
}

}  // namespace kvf::napi
