// DecodeStep: one decode step of the whole model in native code, no JS between layers (issue 8):
// a DecoderModel (napi_model.hpp) strung together with, per layer, the KV cache it appends to
// (its own, when it computes KV) and the AttendPlan (napi_attend_plan.hpp) of its variant over
// the cache it reads.
//
//   new DecodeStep(model, B, layers: [{ append: NativeCache | null, plan: AttendPlan, literal: boolean }])
//   run(tokens: Int32Array [B], positions: Int32Array [B], logits: Float32Array [B*vocab],
//       threads, profile: Float64Array [2])
//
// Per step, every one of the B sequences takes one token at its own position (the TS executor
// checked them, reserved the caches' capacity and updated their mirrors first): h = embed(tokens);
// per layer in order: project; when the layer owns a cache, append its K/V at `positions`; attend
// with the layer's plan at `positions` (literal: positions - 1, then the zero-slot factor,
// semantics.md section 2); finish. Then the logits. profile[0] += nanoseconds in attention calls,
// profile[1] += nanoseconds of the whole step. A step that throws part-way leaves the caches it
// appended to changed (the TS executor marks the batch unusable).
#pragma once
#include <napi.h>

#include <vector>

namespace kvf::napi {

class AttendPlan;
class DecoderModel;
class NativeCache;

class DecodeStep : public Napi::ObjectWrap<DecodeStep> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit DecodeStep(const Napi::CallbackInfo& info);

 private:
  Napi::Value run(const Napi::CallbackInfo& info);

  struct Layer {
    NativeCache* append = nullptr;
    AttendPlan* plan = nullptr;
    bool literal = false;
  };
  DecoderModel* model_ = nullptr;
  int64_t B_ = 0;
  std::vector<Layer> layers_;
  std::vector<Napi::ObjectReference> refs_;  // the model, caches and plans stay alive with the step
  std::vector<float> h_, q_, k_, v_, out_, lse_;
  std::vector<int32_t> rowStart_, rowCount_, shifted_;
};

}  // namespace kvf::napi
