// Reading JS arguments for the addon, with messages that name the argument, what was expected
// and what was received (style.md "Errors a user can act on"). N-API only; the C++ core never
// includes this.
//
// Validation failures are thrown as ArgError (a plain C++ exception, so these helpers stay
// simple to compose); the exported functions turn it into a rejected promise carrying a JS
// TypeError (wrong kind of value) or RangeError (right kind, wrong value).
#pragma once
#include <napi.h>

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

// A typed array of exactly kind `type`; `expectedLength` < 0 skips the length check. `formula`
// explains the length in messages, e.g. "B*Hkv*Lk*D = 1*2*256*64".
Napi::TypedArray readTypedArray(const char* fn, const std::string& name, const Napi::Value& v,
                                napi_typedarray_type type, int64_t expectedLength, const std::string& formula);

// Raw element pointer of a typed array (nullptr for length 0 is fine: kernels never read it).
template <class T>
T* typedArrayData(const Napi::TypedArray& a) {
  Napi::ArrayBuffer buf = a.ArrayBuffer();
  return reinterpret_cast<T*>(static_cast<uint8_t*>(buf.Data()) + a.ByteOffset());
}

}  // namespace kvf::napi
