// forward(kernelId, a): validation of every argument on the main thread, then the kernel on a
// libuv worker thread (napi_forward.cpp).
#pragma once
#include <napi.h>

namespace kvf::napi {

// JS: forward(kernelId: string, a: ForwardArgs): Promise<void>. Never throws synchronously:
// argument errors reject with TypeError/RangeError, run-time failures with Error.
Napi::Value forward(const Napi::CallbackInfo& info);

}  // namespace kvf::napi
