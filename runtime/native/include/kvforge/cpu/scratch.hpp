// Scratch<T>: an uninitialised, 64-byte aligned array owned by one kernel call.
//
// Allocation failures become std::runtime_error with a message a user can act on, e.g.
// "forward: could not allocate 12.0 GiB of scratch for packed keys"; the N-API glue turns it into
// a rejected promise, so a too-large call never aborts the process.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

namespace kvf::cpu {

// "12.0 GiB", "3.5 MiB", "512 bytes".
inline std::string formatBytes(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
  else if (bytes >= 1024.0) std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
  else std::snprintf(buf, sizeof buf, "%.0f bytes", bytes);
  return buf;
}

[[noreturn]] inline void throwAllocFailure(double bytes, const char* what) {
  throw std::runtime_error("forward: could not allocate " + formatBytes(bytes) + " of scratch for " + what);
}

template <class T>
class Scratch {
 public:
  Scratch() = default;
  // count elements; `what` names the buffer in the error message ("packed keys").
  Scratch(size_t count, const char* what) { allocate(count, what); }
  ~Scratch() { std::free(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  Scratch(Scratch&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }

  void allocate(size_t count, const char* what) {
    std::free(p_);
    p_ = nullptr;
    n_ = 0;
    if (count == 0) return;
    constexpr size_t kAlign = 64;
    if (count > (SIZE_MAX - kAlign) / sizeof(T)) throwAllocFailure(double(count) * sizeof(T), what);
    const size_t bytes = (count * sizeof(T) + kAlign - 1) / kAlign * kAlign;  // aligned_alloc wants a multiple
    p_ = static_cast<T*>(std::aligned_alloc(kAlign, bytes));
    if (!p_) throwAllocFailure(double(bytes), what);
    n_ = count;
  }
  T* data() const { return p_; }
  size_t size() const { return n_; }
  T& operator[](size_t i) const { return p_[i]; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace kvf::cpu
