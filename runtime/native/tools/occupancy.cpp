// Theoretical occupancy of kernel launches on A100 (sm_80) and H100 (sm_90), computed by the
// CUDA toolkit's own calculator (cuda_occupancy.h, header-only host code) from device properties
// written down below: no GPU and no driver needed. Used by `kvforge resources`.
//
//   nvcc -std=c++17 -O2 -o occupancy runtime/native/tools/occupancy.cpp   (or g++ -I$CUDA/include)
//
// stdin, one query per line:   <arch> <registers> <staticSmem> <dynamicSmem> <threads> <barriers> <optIn>
//   arch: sm_80 or sm_90; registers per thread and static shared memory per block as ptxas
//   reports them; dynamic shared memory per block as launched; optIn 1 when the host raised
//   cudaFuncAttributeMaxDynamicSharedMemorySize to the dynamic size (0: the default limit).
// stdout, one line per query:  <activeBlocksPerSM> <activeWarpsPerSM> <maxWarpsPerSM> <limitingFactors>
//   limitingFactors: cudaOccLimitingFactor bits (1 warps, 2 registers, 4 shared memory, 8 blocks,
//   16 barriers). Exit status 1 with a message on stderr for a malformed line or a calculator error.
// `occupancy --devices` prints the device table instead (name arch sms regs/SM smem/SM ...).
#include <cstdio>
#include <cstring>
#include <string>
#include "cuda_occupancy.h"

namespace {

struct Device {
  const char* arch;
  const char* name;
  cudaOccDeviceProp prop;
};

// cudaGetDeviceProperties of the SXM parts, the fields cudaOccDeviceProp takes.
cudaOccDeviceProp a100() {
  cudaOccDeviceProp p;
  p.computeMajor = 8;
  p.computeMinor = 0;
  p.maxThreadsPerBlock = 1024;
  p.maxThreadsPerMultiprocessor = 2048;
  p.regsPerBlock = 65536;
  p.regsPerMultiprocessor = 65536;
  p.warpSize = 32;
  p.sharedMemPerBlock = 48 * 1024;
  p.sharedMemPerMultiprocessor = 164 * 1024;
  p.numSms = 108;
  p.sharedMemPerBlockOptin = 163 * 1024;
  p.reservedSharedMemPerBlock = 1024;
  return p;
}

cudaOccDeviceProp h100() {
  cudaOccDeviceProp p;
  p.computeMajor = 9;
  p.computeMinor = 0;
  p.maxThreadsPerBlock = 1024;
  p.maxThreadsPerMultiprocessor = 2048;
  p.regsPerBlock = 65536;
  p.regsPerMultiprocessor = 65536;
  p.warpSize = 32;
  p.sharedMemPerBlock = 48 * 1024;
  p.sharedMemPerMultiprocessor = 228 * 1024;
  p.numSms = 132;
  p.sharedMemPerBlockOptin = 227 * 1024;
  p.reservedSharedMemPerBlock = 1024;
  return p;
}

const Device kDevices[] = {
    {"sm_80", "A100-SXM4", a100()},
    {"sm_90", "H100-SXM5", h100()},
};

const Device* findDevice(const char* arch) {
  for (const Device& d : kDevices)
    if (std::strcmp(d.arch, arch) == 0) return &d;
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--devices") == 0) {
    for (const Device& d : kDevices) {
      const cudaOccDeviceProp& p = d.prop;
      std::printf("%s %s %d %d %d %zu %zu %zu %zu %d %d\n", d.name, d.arch, p.numSms, p.regsPerMultiprocessor,
                  p.regsPerBlock, p.sharedMemPerMultiprocessor, p.sharedMemPerBlock, p.sharedMemPerBlockOptin,
                  p.reservedSharedMemPerBlock, p.maxThreadsPerMultiprocessor, p.maxThreadsPerBlock);
    }
    return 0;
  }
  char arch[32];
  int regs = 0, threads = 0, barriers = 0, optIn = 0;
  size_t staticSmem = 0, dynamicSmem = 0;
  int line = 0;
  for (;;) {
    const int n = std::scanf("%31s %d %zu %zu %d %d %d", arch, &regs, &staticSmem, &dynamicSmem, &threads, &barriers, &optIn);
    if (n == EOF) break;
    ++line;
    if (n != 7) {
      std::fprintf(stderr, "occupancy: line %d: expected <arch> <regs> <staticSmem> <dynamicSmem> <threads> <barriers> <optIn>\n", line);
      return 1;
    }
    const Device* d = findDevice(arch);
    if (!d) {
      std::fprintf(stderr, "occupancy: line %d: unknown arch '%s' (sm_80, sm_90)\n", line, arch);
      return 1;
    }
    cudaOccFuncAttributes attr;
    attr.maxThreadsPerBlock = threads;  // __launch_bounds__ maximum: every kvforge kernel is launched with it
    attr.numRegs = regs;
    attr.sharedSizeBytes = staticSmem;
    attr.partitionedGCConfig = PARTITIONED_GC_OFF;
    attr.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN;  // what cudaOccFuncAttributes(cudaFuncAttributes) sets
    // cudaFuncAttributes::maxDynamicSharedSizeBytes: the raised limit, else the default one.
    attr.maxDynamicSharedSizeBytes = optIn ? dynamicSmem : d->prop.sharedMemPerBlock - staticSmem;
    attr.numBlockBarriers = barriers;
    attr.virtualResourceCount = 0;
    cudaOccDeviceState state;  // default carveout: the calculator takes the largest shared memory split
    cudaOccResult result;
    const cudaOccError err = cudaOccMaxActiveBlocksPerMultiprocessor(&result, &d->prop, &attr, &state, threads, dynamicSmem);
    if (err != CUDA_OCC_SUCCESS) {
      std::fprintf(stderr, "occupancy: line %d: cudaOccMaxActiveBlocksPerMultiprocessor failed (%d)\n", line, int(err));
      return 1;
    }
    const int maxWarps = d->prop.maxThreadsPerMultiprocessor / d->prop.warpSize;
    const int warpsPerBlock = (threads + d->prop.warpSize - 1) / d->prop.warpSize;
    std::printf("%d %d %d %u\n", result.activeBlocksPerMultiprocessor, result.activeBlocksPerMultiprocessor * warpsPerBlock,
                maxWarps, result.limitingFactors);
  }
  return 0;
}
