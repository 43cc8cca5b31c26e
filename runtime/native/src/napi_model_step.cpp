#include "napi_model_step.hpp"

#include <algorithm>

#include <chrono>
#include <string>

#include "kvforge/model/decoder.hpp"
#include "napi_args.hpp"
#include "napi_attend_plan.hpp"
#include "napi_cache.hpp"
#include "napi_guard.hpp"
#include "napi_model.hpp"
#include "napi_type_tags.hpp"

namespace kvf::napi {
namespace {
constexpr const char* kRun = "DecodeStep.run";
using Clock = std::chrono::steady_clock;
double nsSince(Clock::time_point t) { return double(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count()); }
}  // namespace

Napi::Function DecodeStep::define(Napi::Env env) {
  return DefineClass(env, "DecodeStep", {InstanceMethod<&DecodeStep::run>("run")});
}

DecodeStep::DecodeStep(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DecodeStep>(info) {
  constexpr const char* fn = "new DecodeStep";
  try {
    if (info.Length() != 3) throw ArgError(ArgError::Type, std::string(fn) + ": expected (model, B, layers)");
    model_ = unwrapTagged<DecoderModel>(info[0], kDecoderModelTag);
    if (!model_) throw ArgError(ArgError::Type, argName(fn, "model") + " must be a DecoderModel, received " + describeValue(info[0]));
    const model::Decoder& d = model_->decoder(fn);
    refs_.push_back(Napi::Persistent(info[0].As<Napi::Object>()));
    B_ = readInteger(fn, "B", info[1], 1, "a positive integer");
    if (!info[2].IsArray() || info[2].As<Napi::Array>().Length() != d.layers.size())
      throw ArgError(ArgError::Type, argName(fn, "layers") + " must be an array of one entry per model layer (" + std::to_string(d.layers.size()) + "), received " + describeValue(info[2]));
    const Napi::Array ls = info[2].As<Napi::Array>();
    const uint32_t n = ls.Length();  // once: a getter below may change the array
    const auto shape = [](int64_t b, int64_t hq, int64_t hkv, int64_t dd, int64_t dv) {
      return "B " + std::to_string(b) + ", Hq " + std::to_string(hq) + ", Hkv " + std::to_string(hkv) + ", D " + std::to_string(dd) + ", Dv " + std::to_string(dv);
    };
    const std::string want = shape(B_, d.s.Hq, d.s.Hkv, d.s.D, d.s.Dv);
    for (uint32_t i = 0; i < n; ++i) {
      const std::string at = "layers[" + std::to_string(i) + "]";
      const Napi::Value e = ls.Get(i);
      if (!e.IsObject()) throw ArgError(ArgError::Type, argName(fn, at) + " must be an object, received " + describeValue(e));
      const Napi::Object o = e.As<Napi::Object>();
      Layer L;
      // Each property read once: the object unwrapped is the object kept alive.
      const Napi::Value pv = o.Get("plan"), a = o.Get("append"), lit = o.Get("literal");
      L.plan = unwrapTagged<AttendPlan>(pv, kAttendPlanTag);
      if (!L.plan) throw ArgError(ArgError::Type, argName(fn, at + ".plan") + " must be an AttendPlan, received " + describeValue(pv));
      const NativeCache* read = L.plan->cache();
      if (read->B() != B_ || read->Hkv() != d.s.Hkv || L.plan->Hq() != d.s.Hq || read->D() != d.s.D || read->Dv() != d.s.Dv)
        throw ArgError(ArgError::Range, argName(fn, at + ".plan") + " reads " + shape(read->B(), L.plan->Hq(), read->Hkv(), read->D(), read->Dv()) + "; the model and batch are " + want);
      refs_.push_back(Napi::Persistent(pv.As<Napi::Object>()));
      if (!a.IsNull() && !a.IsUndefined()) {
        L.append = unwrapTagged<NativeCache>(a, kNativeCacheTag);
        if (!L.append) throw ArgError(ArgError::Type, argName(fn, at + ".append") + " must be a NativeCache or null, received " + describeValue(a));
        if (L.append->B() != B_ || L.append->Hkv() != d.s.Hkv || L.append->D() != d.s.D || L.append->Dv() != d.s.Dv)
          throw ArgError(ArgError::Range, argName(fn, at + ".append") + " holds " + shape(L.append->B(), d.s.Hq, L.append->Hkv(), L.append->D(), L.append->Dv()) + "; the model and batch are " + want);
        refs_.push_back(Napi::Persistent(a.As<Napi::Object>()));
      }
      if (!lit.IsBoolean()) throw ArgError(ArgError::Type, argName(fn, at + ".literal") + " must be a boolean, received " + describeValue(lit));
      L.literal = lit.As<Napi::Boolean>().Value();
      layers_.push_back(L);
    }
    if (layers_.size() != d.layers.size())
      throw ArgError(ArgError::Type, argName(fn, "layers") + " must hold one entry per model layer (" + std::to_string(d.layers.size()) + "), it held " + std::to_string(layers_.size()));
    const model::DecoderShape& s = d.s;
    if (B_ > (int64_t(1) << 20)) throw ArgError(ArgError::Range, argName(fn, "B") + " must be at most 2^20 sequences, received " + std::to_string(B_));
    h_.resize(size_t(B_ * s.hidden)), q_.resize(size_t(B_ * s.Hq * s.D));
    k_.resize(size_t(B_ * s.Hkv * s.D)), v_.resize(size_t(B_ * s.Hkv * s.Dv));
    out_.resize(size_t(B_ * s.Hq * s.Dv)), lse_.resize(size_t(B_ * s.Hq));
    rowStart_.resize(size_t(B_)), rowCount_.assign(size_t(B_), 1), shifted_.resize(size_t(B_));
    for (int64_t b = 0; b < B_; ++b) rowStart_[size_t(b)] = int32_t(b);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    rethrowAsJs(info.Env(), e);
  }
}

Napi::Value DecodeStep::run(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() != 5 && info.Length() != 6)
      throw ArgError(ArgError::Type, std::string(kRun) + ": expected (tokens, positions, logits, threads, profile, attention?)");
    const Clock::time_point t0 = Clock::now();
    const model::Decoder& d = model_->decoder(kRun);
    const model::DecoderShape& s = d.s;
    const std::string b = "B = " + std::to_string(B_);
    const auto* tok = static_cast<const int32_t*>(readTypedArray(kRun, "tokens", info[0], napi_int32_array, B_, b).data);
    const auto* pos = static_cast<const int32_t*>(readTypedArray(kRun, "positions", info[1], napi_int32_array, B_, b).data);
    auto* logits = static_cast<float*>(const_cast<void*>(readTypedArray(kRun, "logits", info[2], napi_float32_array, B_ * s.vocab, "B*vocab").data));
    const int threads = readThreads(kRun, info[3]);
    auto* profile = static_cast<double*>(const_cast<void*>(readTypedArray(kRun, "profile", info[4], napi_float64_array, 2, "2").data));
    // Optional: every layer's attention output [layers][B][Hq][Dv] (what a compression report compares).
    float* attnOut = nullptr;
    const int64_t perLayer = B_ * s.Hq * s.Dv;
    if (info.Length() == 6 && !info[5].IsUndefined())
      attnOut = static_cast<float*>(const_cast<void*>(readTypedArray(kRun, "attention", info[5], napi_float32_array, int64_t(layers_.size()) * perLayer, "layers*B*Hq*Dv").data));
    for (int64_t r = 0; r < B_; ++r) {
      if (tok[r] < 0 || tok[r] >= s.vocab) throw ArgError(ArgError::Range, argName(kRun, "tokens") + "[" + std::to_string(r) + "] = " + std::to_string(tok[r]) + " is not a token id in 0.." + std::to_string(s.vocab - 1));
      if (pos[r] < 0) throw ArgError(ArgError::Range, argName(kRun, "positions") + "[" + std::to_string(r) + "] must be non-negative");
      shifted_[size_t(r)] = pos[r] - 1;
    }
    model::DecoderScratch& scratch = model_->scratch();
    model::embedRows(d, tok, B_, h_.data());
    double attention = 0;
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& L = layers_[l];
      const bool own = L.append != nullptr;
      model::projectLayer(d, int64_t(l), h_.data(), B_, pos, q_.data(), own ? k_.data() : nullptr, own ? v_.data() : nullptr, scratch, threads);
      const Clock::time_point a0 = Clock::now();
      try {
        if (own) L.append->appendRows(k_.data(), v_.data(), pos, rowStart_.data(), rowCount_.data(), B_);
        L.plan->runHost(q_.data(), L.literal ? shifted_.data() : pos, B_, rowStart_.data(), rowCount_.data(), out_.data(), lse_.data());
      } catch (const ArgError& e) {
        // Which layer's cache or plan refused (a released cache, one that needs growing first).
        throw ArgError(e.kind, std::string(kRun) + ": layer " + std::to_string(l) + ": " + e.what());
      }
      if (L.literal) model::zeroFillScale(out_.data(), lse_.data(), B_ * s.Hq, s.Dv);
      if (attnOut) std::copy(out_.data(), out_.data() + perLayer, attnOut + int64_t(l) * perLayer);
      attention += nsSince(a0);
      model::finishLayer(d, int64_t(l), h_.data(), out_.data(), B_, scratch, threads);
    }
    model::logitsRows(d, h_.data(), B_, logits, scratch, threads);
    profile[0] += attention;
    profile[1] += nsSince(t0);
    return info.Env().Undefined();
  });
}

}  // namespace kvf::napi
