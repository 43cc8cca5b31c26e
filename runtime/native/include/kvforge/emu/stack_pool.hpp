// Fiber stacks, pooled per OS thread.
//
// A block's threads all run on one OS thread, so that thread needs at most blockDim stacks at a
// time; they are kept for the thread's lifetime (the launch workers are persistent) and reused
// by every later block and launch. Each stack is its own mmap with the lowest page made
// inaccessible: running off the end of a stack faults at once instead of corrupting a
// neighbour. MAP_NORESERVE: only the pages a kernel touches are ever backed.
#pragma once
#include <sys/mman.h>
#include <unistd.h>
#include <cstddef>
#include <new>
#include <vector>

namespace kvf::emu::detail {

class StackPool {
 public:
  struct Stack {
    char* bottom;  // lowest usable byte (the guard page lies just below)
    size_t size;   // usable bytes
  };

  StackPool() = default;
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool() { release(); }

  // Make stacks 0..count-1 of `bytes` usable bytes (rounded up to pages) available; stacks of
  // another size are released first. Throws std::bad_alloc when the system refuses.
  void reserve(size_t count, size_t bytes) {
    const size_t page = pageBytes();
    bytes = (bytes + page - 1) / page * page;
    if (bytes != bytes_) {
      release();
      bytes_ = bytes;
    }
    while (stacks_.size() < count) {
      const size_t total = bytes_ + page;
      void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                        -1, 0);
      if (base == MAP_FAILED) throw std::bad_alloc();
      if (mprotect(base, page, PROT_NONE) != 0) {
        munmap(base, total);
        throw std::bad_alloc();
      }
      stacks_.push_back(Stack{static_cast<char*>(base) + page, bytes_});
    }
  }

  const Stack& operator[](size_t i) const { return stacks_[i]; }

 private:
  static size_t pageBytes() {
    static const size_t page = size_t(sysconf(_SC_PAGESIZE));
    return page;
  }
  void release() {
    for (const Stack& s : stacks_) munmap(s.bottom - pageBytes(), s.size + pageBytes());
    stacks_.clear();
  }

  std::vector<Stack> stacks_;
  size_t bytes_ = 0;
};

}  // namespace kvf::emu::detail
