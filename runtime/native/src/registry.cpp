// Kernel registry. The table is a function-local static so that registrars running during static
// initialisation of other translation units (in any order) always find it constructed.
#include "kvforge/registry.hpp"

#include <deque>
#include <mutex>

namespace kvf {
namespace {

struct Table {
  std::mutex mutex;
  std::deque<CpuKernel> kernels;  // deque: push_back keeps earlier entries' addresses
};

Table& table() {
  static Table t;
  return t;
}

}  // namespace

void registerCpuKernel(const CpuKernel& kernel) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  for (CpuKernel& k : t.kernels) {
    if (k.id == kernel.id) {
      k = kernel;
      return;
    }
  }
  t.kernels.push_back(kernel);
}

void registerCpuKernel(const char* id, KernelFn fn) { registerCpuKernel(CpuKernel{id, fn, 0, 0, -1}); }

const CpuKernel* findCpuKernel(const std::string& id) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  for (const CpuKernel& k : t.kernels)
    if (k.id == id) return &k;  // entries are never removed, so the pointer stays valid
  return nullptr;
}

std::vector<std::string> listCpuKernels() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  std::vector<std::string> ids;
  ids.reserve(t.kernels.size());
  for (const CpuKernel& k : t.kernels) ids.push_back(k.id);
  return ids;
}

}  // namespace kvf
