// A block of one backend's memory as a JS object (runtime/api/buffer.ts wraps it): host memory on
// "cpu" and "cuda-emu", device memory on "cuda" (kvforge/memory.hpp), holding `length` values of
// one dtype (f32, f16, bf16). Kernels read and write it in place (attend: q, out, lse).
//
//   new NativeBuffer(backend, dtype, length)
//   upload(src: Float32Array, offset)     values [offset, offset + src.length) <- src, rounded to
//                                         the dtype (nearest even) on the host first
//   download(dst: Float32Array, offset)   dst <- values [offset, offset + dst.length), widened
//   release()                             frees the memory now (the destructor does otherwise)
// Every method is synchronous. A buffer used by an attention call in flight refuses release and
// upload (RangeError), so a kernel never reads memory that changes or vanishes under it.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "kvforge/dtype.hpp"
#include "kvforge/memory.hpp"

namespace kvf::napi {

class NativeBuffer : public Napi::ObjectWrap<NativeBuffer> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit NativeBuffer(const Napi::CallbackInfo& info);
  ~NativeBuffer() override;

  void* data() const { return data_; }
  const std::string& backend() const { return backend_; }
  DType dtype() const { return dtype_; }
  int64_t length() const { return length_; }
  bool released() const { return data_ == nullptr; }
  void beginUse() { inUse_.fetch_add(1); }
  void endUse() { inUse_.fetch_sub(1); }

 private:
  Napi::Value upload(const Napi::CallbackInfo& info);
  Napi::Value download(const Napi::CallbackInfo& info);
  Napi::Value release(const Napi::CallbackInfo& info);
  Napi::Value getReleased(const Napi::CallbackInfo& info);

  std::string backend_;
  const MemoryOps* mem_ = nullptr;
  DType dtype_ = DType::F32;
  int64_t length_ = 0;
  void* data_ = nullptr;
  std::atomic<int> inUse_{0};
};

}  // namespace kvf::napi
