// forward(kernelId, a): validation of every argument on the main thread, then the kernel on a
// libuv worker thread (napi_forward.cpp).
#pragma once
#include <napi.h>

namespace kvf::napi {

// JS: forward(kernelId: string, a: NativeForwardArgs (runtime/api/native.ts), backend?): Promise<{ out: Float32Array; lse: Float32Array }>.
// Never throws synchronously: argument errors (a detached input among them) reject with
// TypeError/RangeError, run-time failures with Error. `out` and `lse` are new arrays the addon
// allocated; the inputs are copied, so the caller may do anything with them once this returns.
Napi::Value forward(const Napi::CallbackInfo& info);

}  // namespace kvf::napi
