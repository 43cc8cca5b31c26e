// Reading JS arguments for the addon, with messages that name the argument, what was expected
// and what was received (style.md "Errors a user can act on"). N-API only; the C++ core never
// includes this.
//
// Validation failures are thrown as ArgError (a plain C++ exception, so these helpers stay
// simple to compose); the exported functions turn it into a rejected promise carrying a JS
// TypeError (wrong kind of value) or RangeError (right kind, wrong value).
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace kvf::napi {

struct ArgError : std::runtime_error {
  enum Kind { Type, Range } kind;
  ArgError(Kind k, const std::string& msg) : std::runtime_error(msg), kind(k) {}
};

// The JS error object for an ArgError.
Napi::Error toJsError(Napi::Env env, const ArgError& e);

// Whether `e` says the system refused memory: kvf::OutOfMemory (kvforge/out_of_memory.hpp) or
// std::bad_alloc.
bool isOutOfMemory(const std::exception& e);

// The JS Error for an exception of the core (not an ArgError): `message`, and the code
// kOutOfMemoryCode when isOutOfMemory(e), so the TS side maps it to KVF3005 by the code.
Napi::Error coreError(Napi::Env env, const std::string& message, const std::exception& e);
// The same from a message and the flag (for errors carried across threads as text).
Napi::Error coreError(Napi::Env env, const std::string& message, bool outOfMemory);

// "Float64Array of length 12", "a string", "number 1.5", "null", "undefined", ...
std::string describeValue(const Napi::Value& v);

// "Float32Array", "Int32Array", ...
const char* typedArrayName(napi_typedarray_type t);

// The prefix of every message of one exported function, e.g. "forward: argument 'k'".
std::string argName(const char* fn, const std::string& name);

// An integer number in [min, 2^53]; `what` says what it is, e.g. "a positive integer".
int64_t readInteger(const char* fn, const std::string& name, const Napi::Value& v, int64_t min, const char* what);

// A finite number (any sign).
double readFiniteNumber(const char* fn, const std::string& name, const Napi::Value& v);

// What a typed array argument refers to, read with napi_get_typedarray_info (which, unlike
// napi_get_arraybuffer_info, also serves views of a SharedArrayBuffer). `data` points into memory
// JS owns and may detach, transfer or (SharedArrayBuffer) write at any time once JS runs again:
// callers copy what they need before returning to JS (napi_forward.cpp).
struct TypedArrayBytes {
  const void* data;
  size_t length;  // elements
  size_t bytes;
};

// A typed array of exactly kind `type`, not detached; `expectedLength` < 0 skips the length check.
// `formula` explains the length in messages, e.g. "B*Hkv*Lk*D = 1*2*256*64". A detached one is a
// TypeError that says so (it would otherwise look like a wrong length 0).
TypedArrayBytes readTypedArray(const char* fn, const std::string& name, const Napi::Value& v,
                               napi_typedarray_type type, int64_t expectedLength, const std::string& formula);

// The same, where building `formula` costs something: it is built only when the array is refused.
template <class Formula>
TypedArrayBytes readTypedArrayExplained(const char* fn, const std::string& name, const Napi::Value& v,
                                        napi_typedarray_type type, int64_t expectedLength, Formula&& formula) {
  try {
    return readTypedArray(fn, name, v, type, expectedLength, std::string());
  } catch (const ArgError&) {
    return readTypedArray(fn, name, v, type, expectedLength, formula());
  }
}

// Bytes per element of a typed array kind.
size_t elementBytes(napi_typedarray_type t);

// Whether `a`'s buffer was detached (transferred). napi 7; false for a SharedArrayBuffer's views.
bool isDetached(const Napi::TypedArray& a);

}  // namespace kvf::napi
