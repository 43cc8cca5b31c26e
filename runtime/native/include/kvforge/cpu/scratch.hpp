// Scratch<T>: an uninitialised, 64-byte aligned array owned by one kernel call.
//
// Allocation failures become kvf::OutOfMemory (a std::runtime_error) with a message a user can act on, e.g.
// "forward: could not allocate 12.0 GiB of scratch for packed keys"; the N-API glue turns it into
// a rejected promise, so a too-large call never aborts the process.
// Large requests are also checked against the memory the OS reports as available: with
// overcommit, malloc of more than that succeeds and the process is killed later, on first touch.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include "kvforge/host_memory.hpp"
#include "kvforge/out_of_memory.hpp"

namespace kvf::cpu {

// "12.0 GiB", "3.5 MiB", "512 bytes".
inline std::string formatBytes(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f TiB", bytes / (1024.0 * 1024 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
  else if (bytes >= 1024.0) std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.0f bytes", bytes);
  return buf;
}

// `context` prefixes the message: the exported function the failure will be reported from.
[[noreturn]] inline void throwAllocFailure(double bytes, const char* what, const char* context = "forward") {
  throw OutOfMemory(std::string(context) + ": could not allocate " + formatBytes(bytes) + " of scratch for " + what);
}

// availableMemoryBytes, kCheckedAllocationBytes: kvforge/host_memory.hpp.
using kvf::availableMemoryBytes;
using kvf::kCheckedAllocationBytes;
using kvf::exceedsAvailableMemory;

template <class T>
class Scratch {
 public:
  Scratch() = default;
  // count elements; `what` names the buffer in the error message ("packed keys").
  Scratch(size_t count, const char* what, const char* context = "forward") { allocate(count, what, context); }
  ~Scratch() { std::free(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  Scratch(Scratch&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }

  void allocate(size_t count, const char* what, const char* context = "forward") {
    std::free(p_);
    p_ = nullptr;
    n_ = 0;
    if (count == 0) return;
    constexpr size_t kAlign = 64;
    if (count > (SIZE_MAX - kAlign) / sizeof(T)) throwAllocFailure(double(count) * sizeof(T), what, context);
    const size_t bytes = (count * sizeof(T) + kAlign - 1) / kAlign * kAlign;  // aligned_alloc wants a multiple
    if (exceedsAvailableMemory(bytes)) throwAllocFailure(double(bytes), what, context);
    p_ = static_cast<T*>(std::aligned_alloc(kAlign, bytes));
    if (!p_) throwAllocFailure(double(bytes), what, context);
    n_ = count;
  }
  T* data() const { return p_; }
  size_t size() const { return n_; }
  T& operator[](size_t i) const { return p_[i]; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

// A Scratch one thread keeps across calls (a thread_local of the kernel that uses it): it grows to
// the largest request and never shrinks, so a decode loop of one shape allocates nothing after its
// first step. The contents are whatever the last call left.
template <class T>
class ReusedScratch {
 public:
  T* reserve(size_t count, const char* what, const char* context = "forward") {
    if (s_.size() < count) s_.allocate(count, what, context);
    return s_.data();
  }
  T* data() const { return s_.data(); }  // what the last reserve() returned

 private:
  Scratch<T> s_;
};

}  // namespace kvf::cpu
