// Staging: host arrays made visible to one backend's kernels. On a host-addressable target
// (MemoryOps::hostAddressable: "cpu", "cuda-emu") an array is handed over as it is; elsewhere
// ("cuda") it is copied into target memory, and outputs are downloaded by finish(). Target memory
// is kept in numbered slots that grow and are reused by later calls on the same Staging, so an
// object that lives across calls (a KV cache's) allocates only when a call needs more than before.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>
#include "kvforge/memory.hpp"

namespace kvf {

class Staging {
 public:
  explicit Staging(const MemoryOps* mem) : mem_(mem) {}
  ~Staging() {
    for (Slot& s : slots_)
      if (s.p) mem_->release(s.p);
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  bool direct() const { return mem_->hostAddressable; }

  // An input: `host` itself, or its copy in slot `slot` of target memory.
  const void* in(size_t slot, const void* host, size_t bytes) {
    if (direct()) return host;
    void* p = reserve(slot, bytes);
    if (bytes) mem_->upload(p, host, bytes);
    return p;
  }
  // An output the kernel writes: `host` itself, or target memory downloaded into it by finish().
  void* out(size_t slot, void* host, size_t bytes) {
    if (direct()) return host;
    void* p = reserve(slot, bytes);
    downloads_.push_back({host, p, bytes});
    return p;
  }
  // Forget the outputs of a call that failed before finish() (a reused Staging starts clean).
  void discard() { downloads_.clear(); }
  // Copy every output back to the host (a synchronising download on "cuda").
  void finish() {
    for (const Download& d : downloads_)
      if (d.bytes) mem_->download(d.host, d.target, d.bytes);
    downloads_.clear();
  }

 private:
  struct Slot {
    void* p = nullptr;
    size_t bytes = 0;
  };
  struct Download {
    void* host;
    const void* target;
    size_t bytes;
  };
  void* reserve(size_t slot, size_t bytes) {
    if (slots_.size() <= slot) slots_.resize(slot + 1);
    Slot& s = slots_[slot];
    if (!s.p || s.bytes < bytes) {
      if (s.p) mem_->release(s.p);
      s = Slot{};
      const size_t n = std::max<size_t>(bytes, 256);
      s.p = mem_->alloc(n);
      s.bytes = n;
    }
    return s.p;
  }

  const MemoryOps* mem_;
  std::vector<Slot> slots_;
  std::vector<Download> downloads_;
};

}  // namespace kvf
