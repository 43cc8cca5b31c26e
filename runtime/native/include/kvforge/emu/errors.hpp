// The errors an emulated launch throws. Every message starts with the kernel's name and, where a
// block was running, its blockIdx "(x,y,z)"; a message about one thread names its threadIdx.
#pragma once
#include <stdexcept>
#include <string>

namespace kvf::emu {

// Base of every emulator error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The launch configuration is invalid; no block ran (a GPU would report cudaErrorInvalidValue or
// cudaErrorInvalidConfiguration).
class LaunchError : public Error {
 public:
  using Error::Error;
};

// A kernel used an intrinsic against its contract (e.g. a shuffle whose mask leaves out the
// calling lane, a shuffle width that is not a power of two up to 32). Undefined on a GPU.
class KernelError : public Error {
 public:
  using Error::Error;
};

// A barrier or warp collective that can never complete: a thread named by it exited or waits
// elsewhere. On a GPU this hangs or silently computes garbage.
class DeadlockError : public Error {
 public:
  using Error::Error;
};

}  // namespace kvf::emu
