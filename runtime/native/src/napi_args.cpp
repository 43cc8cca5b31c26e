// Argument readers of the addon (napi_args.hpp).
#include "napi_args.hpp"

#include <cmath>
#include <cstdio>
#include <new>

#include "kvforge/out_of_memory.hpp"

namespace kvf::napi {

namespace {
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

std::string numberText(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}
}  // namespace

Napi::Error toJsError(Napi::Env env, const ArgError& e) {
  return e.kind == ArgError::Type ? Napi::Error(Napi::TypeError::New(env, e.what()))
                                  : Napi::Error(Napi::RangeError::New(env, e.what()));
}

bool isOutOfMemory(const std::exception& e) {
  return dynamic_cast<const OutOfMemory*>(&e) != nullptr || dynamic_cast<const std::bad_alloc*>(&e) != nullptr;
}

Napi::Error coreError(Napi::Env env, const std::string& message, bool outOfMemory) {
  Napi::Error err = Napi::Error::New(env, message);
  if (outOfMemory) err.Value().Set("code", Napi::String::New(env, kOutOfMemoryCode));
  return err;
}

Napi::Error coreError(Napi::Env env, const std::string& message, const std::exception& e) {
  return coreError(env, message, isOutOfMemory(e));
}

const char* typedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";  // e.g. Float16Array on newer runtimes
  }
}

std::string describeValue(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return std::string("boolean ") + (v.As<Napi::Boolean>().Value() ? "true" : "false");
  if (v.IsNumber()) return "number " + numberText(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    return "string '" + s + "'";
  }
  if (v.IsBigInt()) return "a bigint";
  if (v.IsSymbol()) return "a symbol";
  if (v.IsFunction()) return "a function";
  if (v.IsTypedArray()) {
    const Napi::TypedArray a = v.As<Napi::TypedArray>();
    if (isDetached(a)) return std::string("a detached ") + typedArrayName(a.TypedArrayType());
    return std::string(typedArrayName(a.TypedArrayType())) + " of length " + std::to_string(a.ElementLength());
  }
  if (v.IsArrayBuffer()) return "an ArrayBuffer";
  if (v.IsArray()) return "an array of length " + std::to_string(v.As<Napi::Array>().Length());
  return "an object";
}

std::string argName(const char* fn, const std::string& name) {
  return std::string(fn) + ": argument '" + name + "'";
}

int64_t readInteger(const char* fn, const std::string& name, const Napi::Value& v, int64_t min, const char* what) {
  if (!v.IsNumber()) throw ArgError(ArgError::Type, argName(fn, name) + " must be " + what + ", received " + describeValue(v));
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!(std::floor(x) == x) || std::fabs(x) > kMaxSafeInteger || x < double(min))
    throw ArgError(ArgError::Range, argName(fn, name) + " must be " + what + ", received " + describeValue(v));
  return static_cast<int64_t>(x);
}

double readFiniteNumber(const char* fn, const std::string& name, const Napi::Value& v) {
  if (!v.IsNumber()) throw ArgError(ArgError::Type, argName(fn, name) + " must be a finite number, received " + describeValue(v));
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x)) throw ArgError(ArgError::Range, argName(fn, name) + " must be a finite number, received " + describeValue(v));
  return x;
}

bool isDetached(const Napi::TypedArray& a) {
  napi_value buffer = nullptr;
  if (napi_get_typedarray_info(a.Env(), a, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok) return false;
  bool detached = false;
  return napi_is_detached_arraybuffer(a.Env(), buffer, &detached) == napi_ok && detached;
}

size_t elementBytes(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: case napi_uint8_array: case napi_uint8_clamped_array: return 1;
    case napi_int16_array: case napi_uint16_array: return 2;
#ifdef NODE_API_HAS_FLOAT16_ARRAY
    case napi_float16_array: return 2;
#endif
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: return 4;
    default: return 8;  // float64, bigint64, biguint64
  }
}

TypedArrayBytes readTypedArray(const char* fn, const std::string& name, const Napi::Value& v,
                               napi_typedarray_type type, int64_t expectedLength, const std::string& formula) {
  // The accepted case allocates nothing (decode loops call this several times per step); the
  // message is built only on the way to an error.
  napi_typedarray_type t = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  const bool typed = v.IsTypedArray();
  const bool read = typed && napi_get_typedarray_info(v.Env(), v, &t, &length, &data, nullptr, nullptr) == napi_ok;
  const bool rightKind = read && t == type;
  const bool rightLength = expectedLength < 0 || static_cast<int64_t>(length) == expectedLength;
  // A detached buffer reads as length 0: a non-empty array of the right length is not detached.
  if (rightKind && rightLength && (length > 0 || !isDetached(v.As<Napi::TypedArray>())))
    return TypedArrayBytes{data, length, length * elementBytes(t)};
  const char* kind = typedArrayName(type);
  std::string expected = std::string(kind[0] == 'I' ? "an " : "a ") + kind;
  if (expectedLength >= 0) {
    expected += " of length " + std::to_string(expectedLength);
    if (!formula.empty()) expected += " (" + formula + ")";
  }
  if (!typed || (read && t != type))
    throw ArgError(ArgError::Type, argName(fn, name) + " must be " + expected + ", received " + describeValue(v));
  if (!read) throw ArgError(ArgError::Type, argName(fn, name) + " must be " + expected + ", received a typed array N-API cannot read");
  if (isDetached(v.As<Napi::TypedArray>()))
    throw ArgError(ArgError::Type, argName(fn, name) + " is a " + kind + " whose ArrayBuffer is detached (transferred or " +
                                       "detached before the call); pass " + expected + " that is not detached");
  throw ArgError(ArgError::Range, argName(fn, name) + " must be " + expected + ", received " + describeValue(v));
}

}  // namespace kvf::napi
