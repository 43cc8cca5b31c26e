// MemoryOps "cpu": host memory aligned to kMemoryAlignment bytes. Every operation is synchronous
// (synchronize is a no-op); copies are memcpy, so upload/download/copy ranges must not overlap.
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include "kvforge/memory.hpp"
#include "kvforge/host_memory.hpp"
#include "kvforge/out_of_memory.hpp"

namespace kvf {
namespace {

void* cpuAlloc(size_t bytes) {
  // More than the OS could give now is refused before asking (kvforge/host_memory.hpp).
  if (exceedsAvailableMemory(bytes))
    throw OutOfMemory("kvforge cpu: alloc(" + std::to_string(bytes) + " bytes) failed: more than the " +
                             std::to_string(availableMemoryBytes()) + " bytes of host memory available");
  // alloc(0) is a valid, unique pointer: one aligned byte.
  void* p = ::operator new(bytes == 0 ? 1 : bytes, std::align_val_t(kMemoryAlignment), std::nothrow);
  if (p == nullptr)
    throw OutOfMemory("kvforge cpu: alloc(" + std::to_string(bytes) + " bytes) failed: out of host memory");
  return p;
}
void cpuRelease(void* p) {
  if (p) ::operator delete(p, std::align_val_t(kMemoryAlignment));
}
void cpuCopy(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}
void cpuFill(void* dst, int byteValue, size_t bytes) {
  if (bytes) std::memset(dst, byteValue, bytes);
}
void cpuSynchronize() {}

const MemoryOps kCpuMemory{"cpu", cpuAlloc, cpuRelease, cpuCopy, cpuCopy, cpuCopy, cpuFill, cpuSynchronize, true};

struct Registrar {
  Registrar() { registerMemoryOps(&kCpuMemory); }
} registrar;

}  // namespace
}  // namespace kvf
