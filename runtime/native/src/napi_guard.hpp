// The exception boundary of a synchronous method of the addon's classes: an ArgError becomes the
// JS TypeError / RangeError it names, any other exception of the core a JS Error (with the
// out-of-memory code when the system refused memory, napi_args.hpp), a JS error passes through.
#pragma once
#include <napi.h>

#include <exception>

#include "napi_args.hpp"

namespace kvf::napi {

[[noreturn]] inline void rethrowAsJs(Napi::Env env, const std::exception& e) {
  if (const auto* a = dynamic_cast<const ArgError*>(&e)) throw toJsError(env, *a);
  throw coreError(env, e.what(), e);
}

template <class F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    rethrowAsJs(info.Env(), e);
  }
}

}  // namespace kvf::napi
