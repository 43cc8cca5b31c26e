// The kvforge Node addon: the exports table. Each export lives in its own napi_*.cpp file; the
// kernels themselves (C++ core and generated files) never see N-API.
//
// JS surface (all argument errors are TypeError / RangeError naming argument, expected, received):
//   listKernels(backend = 'cpu'): string[]
//   forward(kernelId: string, a: NativeForwardArgs (runtime/api/native.ts), backend = 'cpu'): Promise<{ out: Float32Array; lse: Float32Array }>
//   attend(kernelId, backend, cache, a): Promise<{ out; lse }>   attention over a KV cache (napi_attend.hpp)
//   AttendPlan, NativeCache, NativeBuffer: classes (napi_attend_plan.hpp, napi_cache.hpp, napi_buffer.hpp)
//   DenseMatrix, DecoderModel, DecodeStep: the model executor's dense layers and native decode step (napi_model*.hpp)
//   deviceReport(): { compiledBackends: string[]; cpu: { simd: 'avx512' | 'avx2+fma' | 'scalar'; threads: number };
//                     cuda: { compiled: boolean; emulated: boolean; available: boolean; devices: number; reason: string } }
//   probeFma(threads: number, seconds?: number): Promise<number>              GFLOP/s
//   probeRead(threads: number, bytes?: number | NativeBuffer, seconds?: number): Promise<number>   GB/s
#include <napi.h>

#include <thread>

#include "kvforge/cpu/simd.hpp"
#include "backends.hpp"
#include "cuda_device.hpp"
#include "napi_attend.hpp"
#include "napi_attend_plan.hpp"
#include "napi_buffer.hpp"
#include "napi_cache.hpp"
#include "napi_forward.hpp"
#include "napi_model.hpp"
#include "napi_model_step.hpp"
#include "napi_probes.hpp"

namespace {

Napi::Value listKernels(const Napi::CallbackInfo& info) {
  const std::string backend = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "cpu";
  const std::vector<std::string> ids = kvf::listKernels(backend);
  Napi::Array out = Napi::Array::New(info.Env(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), ids[i]));
  return out;
}

Napi::Value deviceReport(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<std::string> compiled = kvf::compiledBackends();
  Napi::Array backends = Napi::Array::New(env, compiled.size());
  for (size_t i = 0; i < compiled.size(); ++i) backends.Set(static_cast<uint32_t>(i), Napi::String::New(env, compiled[i]));
  const kvf::CudaDeviceStatus cs = kvf::cudaDeviceStatus();
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("compiled", Napi::Boolean::New(env, cs.compiled));
#if KVFORGE_HAVE_CUDA_EMU
  cuda.Set("emulated", Napi::Boolean::New(env, true));
#else
  cuda.Set("emulated", Napi::Boolean::New(env, false));
#endif
  cuda.Set("available", Napi::Boolean::New(env, cs.available));
  cuda.Set("devices", Napi::Number::New(env, cs.devices));
  cuda.Set("reason", Napi::String::New(env, cs.reason));
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("simd", Napi::String::New(env, kvf::cpu::simdName()));
  const unsigned hw = std::thread::hardware_concurrency();
  cpu.Set("threads", Napi::Number::New(env, hw == 0 ? 1 : hw));
  Napi::Object report = Napi::Object::New(env);
  report.Set("compiledBackends", backends);
  report.Set("cpu", cpu);
  report.Set("cuda", cuda);
  return report;
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("listKernels", Napi::Function::New(env, listKernels, "listKernels"));
  exports.Set("forward", Napi::Function::New(env, kvf::napi::forward, "forward"));
  exports.Set("attend", Napi::Function::New(env, kvf::napi::attend, "attend"));
  exports.Set("AttendPlan", kvf::napi::AttendPlan::define(env));
  exports.Set("NativeCache", kvf::napi::NativeCache::define(env));
  exports.Set("NativeBuffer", kvf::napi::NativeBuffer::define(env));
  exports.Set("DenseMatrix", kvf::napi::DenseMatrix::define(env));
  exports.Set("DecoderModel", kvf::napi::DecoderModel::define(env));
  exports.Set("DecodeStep", kvf::napi::DecodeStep::define(env));
  exports.Set("deviceReport", Napi::Function::New(env, deviceReport, "deviceReport"));
  exports.Set("probeFma", Napi::Function::New(env, kvf::napi::probeFma, "probeFma"));
  exports.Set("probeRead", Napi::Function::New(env, kvf::napi::probeRead, "probeRead"));
  return exports;
}

}  // namespace

NODE_API_MODULE(kvforge, init)
