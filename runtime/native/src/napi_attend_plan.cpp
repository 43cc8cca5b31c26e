#include "napi_attend_plan.hpp"

#include "kvforge/memory.hpp"
#include "napi_args.hpp"
#include "napi_attend_bind.hpp"
#include "napi_buffer.hpp"
#include "napi_cache.hpp"
#include "napi_call.hpp"
#include "napi_type_tags.hpp"

namespace kvf::napi {
namespace {
constexpr const char* kFn = "AttendPlan.run";
}  // namespace

Napi::Function AttendPlan::define(Napi::Env env) {
  return DefineClass(env, "AttendPlan", {InstanceMethod<&AttendPlan::run>("run")});
}

AttendPlan::AttendPlan(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AttendPlan>(info) {
  constexpr const char* fn = "new AttendPlan";
  try {
    info.This().As<Napi::Object>().TypeTag(&kAttendPlanTag);  // what DecodeStep's unwrap checks
    const AttendBinding bind = bindAttend(fn, info);
    readAttendScalars(fn, info[3].As<Napi::Object>(), bind, base_, params_);
    setPackedStrides(base_);
    kernel_ = bind.kernel, backend_ = bind.backend, cache_ = bind.cache;
    countBias_ = bind.countBias, mass_ = bind.mass;
    cacheRef_ = Napi::Persistent(bind.cacheObject);
    values_ = bind.values;
    if (values_) valuesRef_ = Napi::Persistent(bind.valuesObject);
    staging_ = std::make_unique<Staging>(findMemoryOps(backend_));
  } catch (const ArgError& e) {
    throw toJsError(info.Env(), e);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw coreError(info.Env(), std::string(fn) + ": " + e.what(), e);
  }
}

void AttendPlan::runChecked(const Napi::CallbackInfo& info) {
  if (info.Length() != 6) throw ArgError(ArgError::Type, std::string(kFn) + ": expected (q, qpos, rowStart, rowCount, out, lse)");
  AttnArgs a = base_;
  a.kv = callSlots(kFn, cache_, values_);  // where the slots are now; a released cache throws
  bindSlotStats(kFn, a, cache_, values_, countBias_, mass_);
  const int64_t B = a.B, D = a.kv.D, Dv = a.kv.Dv, Hq = a.Hq;
  const auto bFormula = [&] { return "B = " + std::to_string(B); };
  const TypedArrayBytes rs = readTypedArrayExplained(kFn, "rowStart", info[2], napi_int32_array, B, bFormula);
  const TypedArrayBytes rc = readTypedArrayExplained(kFn, "rowCount", info[3], napi_int32_array, B, bFormula);
  const TypedArrayBytes qp = readTypedArray(kFn, "qpos", info[1], napi_int32_array, -1, std::string());
  const int64_t rows = int64_t(qp.length);
  bindRows(kFn, a, static_cast<const int32_t*>(rs.data), static_cast<const int32_t*>(rc.data), rows);
  const auto rowsFormula = [&](int64_t perRow) { return "rows*" + std::to_string(perRow) + ", rows = " + std::to_string(rows) + " (qpos)"; };
  // Each array: an f32 buffer of the plan's backend (already target memory), or a typed array.
  NativeBuffer* qBuf = f32Buffer(kFn, info[0], "q", backend_, rows * Hq * D, true);
  NativeBuffer* outBuf = f32Buffer(kFn, info[4], "out", backend_, rows * Hq * Dv, true);
  NativeBuffer* lseBuf = f32Buffer(kFn, info[5], "lse", backend_, rows * Hq, true);
  const void* q = qBuf ? qBuf->data() : readTypedArrayExplained(kFn, "q", info[0], napi_float32_array, rows * Hq * D, [&] { return rowsFormula(Hq * D); }).data;
  void* out = outBuf ? outBuf->data() : const_cast<void*>(readTypedArrayExplained(kFn, "out", info[4], napi_float32_array, rows * Hq * Dv, [&] { return rowsFormula(Hq * Dv); }).data);
  void* lse = lseBuf ? lseBuf->data() : const_cast<void*>(readTypedArrayExplained(kFn, "lse", info[5], napi_float32_array, rows * Hq, [&] { return rowsFormula(Hq); }).data);
  launch(a, rows, q, qBuf != nullptr, static_cast<const int32_t*>(qp.data), static_cast<const int32_t*>(rs.data), static_cast<const int32_t*>(rc.data),
         static_cast<float*>(out), outBuf != nullptr, static_cast<float*>(lse), lseBuf != nullptr);
}

void AttendPlan::launch(AttnArgs& a, int64_t rows, const void* q, bool qTarget, const int32_t* qpos, const int32_t* rowStart, const int32_t* rowCount,
                        float* out, bool outTarget, float* lse, bool lseTarget) {
  const int64_t D = a.kv.D, Dv = a.kv.Dv, Hq = a.Hq;
  // Every pointer in target memory: on "cuda" host arrays are staged (buffers already are).
  Staging& st = *staging_;
  st.discard();
  a.q = static_cast<const float*>(qTarget ? q : st.in(0, q, size_t(rows * Hq * D) * 4));
  a.qpos = static_cast<const int32_t*>(st.in(1, qpos, size_t(rows) * 4));
  a.rowStart = static_cast<const int32_t*>(st.in(2, rowStart, size_t(a.B) * 4));
  a.rowCount = static_cast<const int32_t*>(st.in(3, rowCount, size_t(a.B) * 4));
  a.out = static_cast<float*>(outTarget ? out : st.out(4, out, size_t(rows * Hq * Dv) * 4));
  a.lse = static_cast<float*>(lseTarget ? lse : st.out(5, lse, size_t(rows * Hq) * 4));
  kernel_.fn(a, params_.data());
  st.finish();
}

void AttendPlan::runHost(const float* q, const int32_t* qpos, int64_t rows, const int32_t* rowStart, const int32_t* rowCount, float* out, float* lse) {
  AttnArgs a = base_;
  a.kv = callSlots(kFn, cache_, values_);
  bindSlotStats(kFn, a, cache_, values_, countBias_, mass_);
  bindRows(kFn, a, rowStart, rowCount, rows);
  launch(a, rows, q, false, qpos, rowStart, rowCount, out, false, lse, false);
}

Napi::Value AttendPlan::run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    runChecked(info);
  } catch (const ArgError& e) {
    throw toJsError(env, e);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    const KernelFailure f = kernelFailure(kFn, kernel_.id);
    throw coreError(env, f.message, f.outOfMemory);
  }
  return env.Undefined();
}

}  // namespace kvf::napi
