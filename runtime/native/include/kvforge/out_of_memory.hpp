// OutOfMemory: an allocation the system refused, of host memory (the "cpu" MemoryOps, kernel
// scratch) or of device memory (cudaMalloc, real or emulated). The N-API glue gives the JS error
// of such an exception (and of std::bad_alloc) the code kOutOfMemoryCode, so the TS side reports
// KVF3005 by that code, never by reading the message.
#pragma once
#include <stdexcept>

namespace kvf {

struct OutOfMemory : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The `code` property of the JS Error (runtime/api/nativeError.ts reads it).
constexpr const char* kOutOfMemoryCode = "KVF_NATIVE_OUT_OF_MEMORY";

}  // namespace kvf
