// The state an emulated kernel reads through the CUDA built-ins, kept per OS thread.
//
// All fibers of a block run on one OS thread, one block at a time, so "the current block" is per
// OS thread; "the current CUDA thread" is whichever fiber that OS thread is running, and the
// scheduler rewrites tls.threadIdx on every switch. Constant-initialised: no TLS guard on access.
#pragma once
#include <cstddef>
#include <cstring>
#include <vector_types.h>

namespace kvf::emu::detail {

class BlockRunner;

// A synchronising call in the kernel source: which intrinsic, where (captured at the call site
// with __builtin_FILE / __builtin_LINE default arguments).
struct Site {
  const char* op = "";
  const char* file = "";
  int line = 0;

  bool sameCall(const Site& o) const {
    return line == o.line && (op == o.op || std::strcmp(op, o.op) == 0) &&
           (file == o.file || std::strcmp(file, o.file) == 0);
  }
};

// One launch as the scheduler sees it: the kernel body type-erased to invoke(ctx), which calls
// the kernel with a copy of the launch arguments.
struct KernelDesc {
  const char* name;
  void (*invoke)(const void* ctx);
  const void* ctx;
  const void* fn;  // the kernel's address (cudaFuncSetAttribute records are keyed by it)
  dim3 grid;
  dim3 block;
  size_t dynamicSharedBytes;
};

struct ThreadState {
  uint3 threadIdx{0, 0, 0};
  uint3 blockIdx{0, 0, 0};
  dim3 blockDim{1, 1, 1};
  dim3 gridDim{1, 1, 1};
  BlockRunner* runner = nullptr;  // non-null while this OS thread works for a launch
  void* dynamicShared = nullptr;  // this OS thread's dynamic shared memory for the launch
};

inline thread_local ThreadState tls;

// Thrown inside fibers of a block that is being abandoned (after a deadlock or an exception in a
// sibling) to unwind them; caught at the fiber's entry, never seen by a caller.
struct FiberCancel {};

}  // namespace kvf::emu::detail
