// The pool behind AlignedCopy (call_memory.hpp).
//
// Only blocks of at least kMinPooled bytes are kept (smaller ones are cheap to allocate), at most
// kMaxBlocks of them and kMaxPooledBytes in all, so an idle process holds at most that much. A
// request takes the smallest pooled block that is large enough and at most twice its size.
// Under AddressSanitizer nothing is pooled: a recycled block would hide a use after free from it.
#include "call_memory.hpp"

#include <mutex>
#include <vector>

namespace kvf::napi {
namespace {

constexpr size_t kAlign = AlignedCopy::kAlign;
constexpr size_t kMinPooled = size_t(64) << 10;
constexpr size_t kMaxPooledBytes = size_t(128) << 20;
constexpr size_t kMaxBlocks = 16;
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPool = false;
#else
constexpr bool kPool = true;
#endif

struct Block {
  std::byte* data;
  size_t capacity;
};

// Calls are parsed and destroyed on the JS thread, but an addon may serve several (workers).
std::mutex poolMutex;
std::vector<Block> pool;
size_t pooledBytes = 0;

}  // namespace

std::byte* acquireBlock(size_t bytes, size_t& capacity) {
  if (kPool && bytes >= kMinPooled) {
    std::lock_guard<std::mutex> lock(poolMutex);
    size_t best = pool.size();
    for (size_t i = 0; i < pool.size(); ++i)
      if (pool[i].capacity >= bytes && pool[i].capacity / 2 <= bytes && (best == pool.size() || pool[i].capacity < pool[best].capacity))
        best = i;
    if (best != pool.size()) {
      const Block b = pool[best];
      pool[best] = pool.back();
      pool.pop_back();
      pooledBytes -= b.capacity;
      capacity = b.capacity;
      return b.data;
    }
  }
  capacity = bytes < kAlign ? kAlign : bytes;
  return static_cast<std::byte*>(::operator new(capacity, std::align_val_t(kAlign)));
}

void releaseBlock(std::byte* block, size_t capacity) noexcept {
  if (kPool && capacity >= kMinPooled) {
    std::lock_guard<std::mutex> lock(poolMutex);
    if (pool.size() < kMaxBlocks && pooledBytes + capacity <= kMaxPooledBytes) {
      try {
        pool.push_back(Block{block, capacity});
        pooledBytes += capacity;
        return;
      } catch (...) {  // no room to remember it: free it below
      }
    }
  }
  ::operator delete(block, std::align_val_t(kAlign));
}

}  // namespace kvf::napi
