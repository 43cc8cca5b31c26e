// What the OS could give this process now, for refusing a large allocation before asking: with
// overcommit, an allocation of more than that succeeds and the process is killed later, on first
// touch (and sanitizers abort on it). Used by kernel scratch (cpu/scratch.hpp), the "cpu" memory
// (src/memory_cpu.cpp) and the emulator's cudaMalloc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace kvf {

// Bytes the OS could give us now (Linux MemAvailable); SIZE_MAX when unknown.
inline size_t availableMemoryBytes() {
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kb) == 1) return size_t(kb) * 1024;
  }
  return SIZE_MAX;
}

// Requests below this are not checked against availableMemoryBytes() (reading /proc costs more
// than the allocation, and small ones cannot be what exhausts memory).
constexpr size_t kCheckedAllocationBytes = size_t(64) << 20;

// Whether a request of `bytes` is more than the OS could give now.
inline bool exceedsAvailableMemory(size_t bytes) {
  return bytes >= kCheckedAllocationBytes && bytes > availableMemoryBytes();
}

}  // namespace kvf
