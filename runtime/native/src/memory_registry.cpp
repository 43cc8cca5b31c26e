// The MemoryOps registry: one entry per backend, registered by the backend's own translation
// unit at static initialisation (memory_cpu.cpp, cuda/memory_cuda.cu compiled by nvcc and
// against the emulator). The table is a function-local static, so registrars of other
// translation units find it constructed whatever the initialisation order.
#include "kvforge/memory.hpp"

#include <cstring>
#include <mutex>
#include <vector>

namespace kvf {
namespace {

struct Table {
  std::mutex mutex;
  std::vector<const MemoryOps*> ops;
};

Table& table() {
  static Table t;
  return t;
}

}  // namespace

void registerMemoryOps(const MemoryOps* ops) {
  if (ops == nullptr || ops->backend == nullptr) return;
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  for (const MemoryOps*& o : t.ops) {
    if (std::strcmp(o->backend, ops->backend) == 0) {
      o = ops;
      return;
    }
  }
  t.ops.push_back(ops);
}

const MemoryOps* findMemoryOps(const std::string& backend) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  for (const MemoryOps* o : t.ops)
    if (backend == o->backend) return o;
  return nullptr;
}

}  // namespace kvf
