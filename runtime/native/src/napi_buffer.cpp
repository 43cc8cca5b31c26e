#include "napi_buffer.hpp"

#include <cstring>
#include <stdexcept>
#include <vector>

#include "kvforge/convert.hpp"
#include "napi_args.hpp"
#include "napi_guard.hpp"
#include "napi_type_tags.hpp"

namespace kvf::napi {
namespace {

// [offset, offset + n) within [0, length), or a RangeError naming what was asked.
void checkRange(const char* fn, int64_t offset, int64_t n, int64_t length) {
  if (offset < 0 || n < 0 || offset > length || n > length - offset)
    throw ArgError(ArgError::Range, std::string(fn) + ": values [" + std::to_string(offset) + ", " + std::to_string(offset + n) +
                                        ") are outside the buffer's " + std::to_string(length));
}

}  // namespace

Napi::Function NativeBuffer::define(Napi::Env env) {
  return DefineClass(env, "NativeBuffer",
                     {InstanceMethod("upload", &NativeBuffer::upload), InstanceMethod("download", &NativeBuffer::download),
                      InstanceMethod("release", &NativeBuffer::release),
                      InstanceAccessor("released", &NativeBuffer::getReleased, nullptr)});
}

NativeBuffer::NativeBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeBuffer>(info) {
  constexpr const char* fn = "NativeBuffer";
  try {
    info.This().As<Napi::Object>().TypeTag(&kNativeBufferTag);  // what unwrapTagged checks
    if (info.Length() < 3 || !info[0].IsString()) throw ArgError(ArgError::Type, std::string(fn) + ": expected (backend, dtype, length)");
    backend_ = info[0].As<Napi::String>().Utf8Value();
    mem_ = findMemoryOps(backend_);
    if (!mem_) throw ArgError(ArgError::Range, argName(fn, "backend") + " must be a backend compiled into this addon, received '" + backend_ + "'");
    const int64_t dt = readInteger(fn, "dtype", info[1], 0, "a dtype number (0 f32, 1 f16, 2 bf16)");
    if (!validDType(int32_t(dt))) throw ArgError(ArgError::Range, argName(fn, "dtype") + " must be 0 (f32), 1 (f16) or 2 (bf16)");
    dtype_ = DType(dt);
    length_ = readInteger(fn, "length", info[2], 0, "a non-negative integer");
    if (length_ > (int64_t(1) << 40)) throw ArgError(ArgError::Range, argName(fn, "length") + " must be at most 2^40 values");
    data_ = mem_->alloc(size_t(length_ * dtypeBytes(dtype_)));
  } catch (const Napi::Error&) {
    throw;
  } catch (const ArgError& e) {
    throw toJsError(info.Env(), e);
  } catch (const std::exception& e) {
    throw coreError(info.Env(), e.what(), e);
  }
}

NativeBuffer::~NativeBuffer() {
  if (data_) mem_->release(data_);
}

Napi::Value NativeBuffer::upload(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "NativeBuffer.upload";
    if (released()) throw ArgError(ArgError::Range, std::string(fn) + ": the buffer was released");
    if (inUse_.load()) throw ArgError(ArgError::Range, std::string(fn) + ": an attention call in flight uses the buffer; await it first");
    const TypedArrayBytes src = readTypedArray(fn, "src", info[0], napi_float32_array, -1, "");
    const int64_t offset = info.Length() > 1 && !info[1].IsUndefined() ? readInteger(fn, "offset", info[1], 0, "a non-negative integer") : 0;
    checkRange(fn, offset, int64_t(src.length), length_);
    const float* f = static_cast<const float*>(src.data);
    const int64_t es = dtypeBytes(dtype_);
    char* dst = static_cast<char*>(data_) + offset * es;
    if (dtype_ == DType::F32) {
      mem_->upload(dst, f, src.bytes);
    } else {
      std::vector<uint16_t> tmp(src.length);
      encodeAs(dtype_, f, src.length, tmp.data());
      mem_->upload(dst, tmp.data(), tmp.size() * 2);
    }
    return info.Env().Undefined();
  });
}

Napi::Value NativeBuffer::download(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "NativeBuffer.download";
    if (released()) throw ArgError(ArgError::Range, std::string(fn) + ": the buffer was released");
    const TypedArrayBytes dst = readTypedArray(fn, "dst", info[0], napi_float32_array, -1, "");
    const int64_t offset = info.Length() > 1 && !info[1].IsUndefined() ? readInteger(fn, "offset", info[1], 0, "a non-negative integer") : 0;
    checkRange(fn, offset, int64_t(dst.length), length_);
    float* f = static_cast<float*>(const_cast<void*>(dst.data));
    const int64_t es = dtypeBytes(dtype_);
    const char* src = static_cast<const char*>(data_) + offset * es;
    if (dtype_ == DType::F32) {
      mem_->download(f, src, dst.bytes);
    } else {
      std::vector<uint16_t> tmp(dst.length);
      mem_->download(tmp.data(), src, tmp.size() * 2);
      decodeFrom(dtype_, tmp.data(), dst.length, f);
    }
    return info.Env().Undefined();
  });
}

Napi::Value NativeBuffer::release(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (inUse_.load()) throw ArgError(ArgError::Range, "NativeBuffer.release: an attention call in flight uses the buffer; await it first");
    if (data_) mem_->release(data_);
    data_ = nullptr;
    return info.Env().Undefined();
  });
}

Napi::Value NativeBuffer::getReleased(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), released()); }

}  // namespace kvf::napi
