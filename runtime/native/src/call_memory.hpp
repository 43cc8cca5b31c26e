// Memory one forward() call owns for its whole life, so nothing JS does while the kernel runs
// (transfer or detach an input's ArrayBuffer, let it be collected, write a SharedArrayBuffer
// from another thread) can reach what the kernel reads.
//
// Why copies: N-API (all the addon builds against) has no way to pin an ArrayBuffer's backing
// store. A reference keeps the ArrayBuffer object alive, not its memory: structuredClone(buf,
// { transfer: [buf] }) or a worker transfer moves the memory to another object, which may then be
// collected and its memory freed while a kernel still reads it. So inputs are copied on the main
// thread in parse(), before JS can run again.
//
// The copies' memory is recycled (call_memory.cpp): a fresh multi-MiB allocation is mmap'ed and
// page-faulted in on every call, which costs more than the copy itself (decode's K/V caches).
#pragma once
#include <cstddef>
#include <cstring>
#include <new>

namespace kvf::napi {

// 64-byte aligned memory of at least `bytes` bytes; `capacity` receives what was allocated.
// Large blocks come from a small pool of released ones when one fits.
std::byte* acquireBlock(size_t bytes, size_t& capacity);
// Give a block back (to the pool, or to the system when the pool is full).
void releaseBlock(std::byte* block, size_t capacity) noexcept;

// A 64-byte aligned heap copy of `bytes` bytes (at least one cache line is allocated, so even an
// empty input has a valid, non-null pointer). Move-only.
class AlignedCopy {
 public:
  static constexpr size_t kAlign = 64;

  AlignedCopy() = default;
  AlignedCopy(const void* src, size_t bytes) : data_(acquireBlock(bytes, capacity_)), bytes_(bytes) {
    if (bytes > 0) std::memcpy(data_, src, bytes);
  }
  AlignedCopy(AlignedCopy&& o) noexcept : data_(o.data_), bytes_(o.bytes_), capacity_(o.capacity_) {
    o.data_ = nullptr, o.bytes_ = o.capacity_ = 0;
  }
  AlignedCopy& operator=(AlignedCopy&& o) noexcept {
    if (this != &o) {
      release();
      data_ = o.data_, bytes_ = o.bytes_, capacity_ = o.capacity_;
      o.data_ = nullptr, o.bytes_ = o.capacity_ = 0;
    }
    return *this;
  }
  AlignedCopy(const AlignedCopy&) = delete;
  AlignedCopy& operator=(const AlignedCopy&) = delete;
  ~AlignedCopy() { release(); }

  template <class T>
  const T* as() const { return reinterpret_cast<const T*>(data_); }
  size_t bytes() const { return bytes_; }

 private:
  void release() {
    if (data_) releaseBlock(data_, capacity_);
    data_ = nullptr;
  }
  std::byte* data_ = nullptr;
  size_t bytes_ = 0;
  size_t capacity_ = 0;
};

}  // namespace kvf::napi
