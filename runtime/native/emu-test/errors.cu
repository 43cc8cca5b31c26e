// Errors: divergent barriers and warp collectives are DeadlockErrors naming kernel, block and a
// thread that did not arrive; misuse is a KernelError; an exception thrown by a kernel comes
// out of launch; bad configurations are LaunchErrors. After each, launches work normally.
#include "compat.cuh"

__global__ void divergentBarrier(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
    out[threadIdx.x] = 1;
  } else {
    return;
  }
}

__global__ void skippedShuffle(float* out) {
  float v = float(threadIdx.x);
  if (threadIdx.x % 32 != 5) v = __shfl_xor_sync(kFull, v, 1);
  out[threadIdx.x] = v;
}

// Lane 7 waits at the block barrier while its warp waits for it at a shuffle.
__global__ void crossedWaits(float* out) {
  float v = float(threadIdx.x);
  if (threadIdx.x == 7) __syncthreads();
  else v = __shfl_sync(kFull, v, 0);
  out[threadIdx.x] = v;
}

__global__ void twoBarriers(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void mixedVotes(unsigned* out) {
  if (threadIdx.x < 16) out[threadIdx.x] = __ballot_sync(kFull, 1);
  else out[threadIdx.x] = __any_sync(kFull, 1);
}

__global__ void maskWithoutSelf(int* out) { out[threadIdx.x] = __shfl_sync(0x1u, int(threadIdx.x), 0); }

__global__ void badWidth(int* out) { out[threadIdx.x] = __shfl_down_sync(kFull, int(threadIdx.x), 1, 12); }

__global__ void fill(int* out, int value) { out[blockIdx.x * blockDim.x + threadIdx.x] = value; }

__device__ int deepRecursion(int n) {
  volatile char frame[1024];
  frame[0] = char(n);
  return n == 0 ? 0 : deepRecursion(n - 1) + frame[0];
}
__global__ void overflowStack(int* out, int depth) { out[threadIdx.x] = deepRecursion(depth); }

#if defined(KVF_CUDA_EMULATION)
#include <sys/wait.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

// A kernel that throws from one thread while its siblings wait at a barrier; every thread holds
// an object whose destructor counts, to show that abandoned threads are unwound.
static std::atomic<int> gDestroyed{0};
struct Counted {
  ~Counted() { ++gDestroyed; }
};
__global__ void throwing(int* out) {
  Counted c;
  if (blockIdx.x == 1 && threadIdx.x == 3) throw std::runtime_error("boom from thread 3 of block 1");
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}

__global__ void nestedLaunch(int* out) {
  if (threadIdx.x == 0) kvf::emu::launch("fill", fill, dim3(1), dim3(1), 0, 1, out, 1);
}

// The exact reports below assume threads start in order; restores the schedule run.sh chose.
struct ForwardSchedule {
  kvf::emu::Schedule saved = kvf::emu::schedule();
  ForwardSchedule() { kvf::emu::setSchedule(kvf::emu::Schedule::Forward); }
  ~ForwardSchedule() { kvf::emu::setSchedule(saved, 7); }
};

// The process carries on after an error: a normal launch right afterwards gives right results.
static void checkStillWorks() {
  std::vector<int> out(8 * 64, 0);
  kvf::emu::launch("fill", fill, dim3(8), dim3(64), 0, 2, out.data(), 7);
  for (int v : out) CHECK_EQ(v, 7);
}

EMU_TEST(error_divergent_barrier) {
  const ForwardSchedule forward;
  std::vector<int> out(64);
  std::string msg;
  CHECK_THROWS(kvf::emu::DeadlockError,
               kvf::emu::launch("divergentBarrier", divergentBarrier, dim3(2), dim3(32), 0, 1, out.data()), msg,
               "kernel 'divergentBarrier'", "block (0,0,0)", "__syncthreads() at ", "errors.cu:",
               "thread (16,0,0) did not arrive, it has exited", "16 of 32 threads arrived: (0,0,0)..(15,0,0)");
  emutest::note("message: " + msg);
  checkStillWorks();
  // Reverse order: the threads that return run first; the report is the same.
  kvf::emu::setSchedule(kvf::emu::Schedule::Reverse);
  CHECK_THROWS(kvf::emu::DeadlockError,
               kvf::emu::launch("divergentBarrier", divergentBarrier, dim3(2), dim3(32), 0, 1, out.data()), msg,
               "kernel 'divergentBarrier'", "block (0,0,0)", "thread (16,0,0) did not arrive, it has exited");
  kvf::emu::setSchedule(kvf::emu::Schedule::Forward);
  // Many blocks on two OS threads: some block reports; then everything works again. Repeated, to
  // show that abandoned blocks leak nothing that breaks later launches.
  for (int i = 0; i < 50; ++i) {
    CHECK_THROWS(kvf::emu::DeadlockError, KVF_LAUNCH(divergentBarrier, dim3(16), dim3(32), 0, 0, out.data()), msg,
                 "kernel 'divergentBarrier' block (", "did not arrive, it has exited");
  }
  checkStillWorks();
}

EMU_TEST(error_skipped_shuffle) {
  const ForwardSchedule forward;
  std::vector<float> out(64);
  std::string msg;
  CHECK_THROWS(kvf::emu::DeadlockError,
               kvf::emu::launch("skippedShuffle", skippedShuffle, dim3(1), dim3(64), 0, 1, out.data()), msg,
               "kernel 'skippedShuffle' block (0,0,0)", "warp 0", "__shfl_xor_sync(mask 0xffffffff)",
               "lane 5 (thread (5,0,0)) did not arrive, it has exited", "Lanes arrived: 0-4");
  emutest::note("message: " + msg);
  checkStillWorks();
}

EMU_TEST(error_lane_waits_at_other_barrier) {
  const ForwardSchedule forward;
  std::vector<float> out(32);
  std::string msg;
  CHECK_THROWS(kvf::emu::DeadlockError,
               kvf::emu::launch("crossedWaits", crossedWaits, dim3(1), dim3(32), 0, 1, out.data()), msg,
               "kernel 'crossedWaits' block (0,0,0)", "no thread can make progress", "warp 0",
               "lane 7 (thread (7,0,0)) did not arrive, it is waiting at __syncthreads() at ");
  emutest::note("message: " + msg);
  checkStillWorks();
}

EMU_TEST(error_barrier_call_sites_differ) {
  const ForwardSchedule forward;
  std::vector<int> out(32);
  std::string msg;
  CHECK_THROWS(kvf::emu::DeadlockError,
               kvf::emu::launch("twoBarriers", twoBarriers, dim3(1), dim3(32), 0, 1, out.data()), msg,
               "kernel 'twoBarriers' block (0,0,0)", "different barrier calls", "(0,0,0)..(15,0,0) at __syncthreads()",
               "(16,0,0)..(31,0,0) at __syncthreads()");
  checkStillWorks();
}

EMU_TEST(error_warp_operations_differ) {
  const ForwardSchedule forward;
  std::vector<unsigned> out(32);
  std::string msg;
  CHECK_THROWS(kvf::emu::DeadlockError,
               kvf::emu::launch("mixedVotes", mixedVotes, dim3(1), dim3(32), 0, 1, out.data()), msg,
               "kernel 'mixedVotes' block (0,0,0)", "warp 0", "different warp operations", "__ballot_sync at ",
               "lane 16 (thread (16,0,0)) is at __any_sync at ");
  checkStillWorks();
}

EMU_TEST(error_kernel_misuse) {
  const ForwardSchedule forward;
  std::vector<int> out(32);
  std::string msg;
  CHECK_THROWS(kvf::emu::KernelError,
               kvf::emu::launch("maskWithoutSelf", maskWithoutSelf, dim3(1), dim3(32), 0, 1, out.data()), msg,
               "kernel 'maskWithoutSelf' block (0,0,0) thread (1,0,0)", "mask 0x00000001 does not include the calling lane 1");
  CHECK_THROWS(kvf::emu::KernelError, kvf::emu::launch("badWidth", badWidth, dim3(1), dim3(32), 0, 1, out.data()),
               msg, "width 12 is not a power of two");
  checkStillWorks();
}

EMU_TEST(error_exception_in_kernel_is_rethrown) {
  const ForwardSchedule forward;
  std::vector<int> out(4 * 32);
  gDestroyed = 0;
  std::string msg;
  CHECK_THROWS(std::runtime_error, kvf::emu::launch("throwing", throwing, dim3(4), dim3(32), 0, 1, out.data()), msg,
               "boom from thread 3 of block 1");
  // Block 0 completed (32), block 1 ran until the throw: thread 3 and the threads before it
  // (waiting at the barrier) were unwound, those after it never started; blocks 2, 3 skipped.
  CHECK_EQ(gDestroyed.load(), 32 + 4);
  checkStillWorks();
}

EMU_TEST(error_invalid_launches) {
  std::vector<int> out(4096);
  std::string msg;
  CHECK_THROWS(kvf::emu::LaunchError, kvf::emu::launch("fill", fill, dim3(1), dim3(2048), 0, 1, out.data(), 1), msg,
               "kernel 'fill': invalid launch: blockDim (2048,1,1)");
  CHECK_THROWS(kvf::emu::LaunchError, kvf::emu::launch("fill", fill, dim3(1), dim3(32, 32, 2), 0, 1, out.data(), 1),
               msg, "2048 threads, more than 1024");
  CHECK_THROWS(kvf::emu::LaunchError, kvf::emu::launch("fill", fill, dim3(0), dim3(32), 0, 1, out.data(), 1), msg,
               "gridDim (0,1,1) has a zero extent");
  CHECK_THROWS(kvf::emu::LaunchError, kvf::emu::launch("nestedLaunch", nestedLaunch, dim3(1), dim3(4), 0, 1, out.data()),
               msg, "kernel 'fill': launched from inside an emulated kernel");
  CHECK_THROWS(kvf::emu::Error, __syncthreads(), msg, "__syncthreads() called outside an emulated kernel");
  checkStillWorks();
}
#endif

#if defined(KVF_CUDA_EMULATION)
// A fiber that runs off its stack hits the guard page: the process dies of SIGSEGV (checked in a
// child process) instead of corrupting a neighbour's stack. Under ASan, ASan reports it instead.
EMU_TEST(error_stack_overflow_hits_guard_page) {
  std::vector<int> out(32);
  const size_t saved = kvf::emu::fiberStackBytes();
  kvf::emu::setFiberStackBytes(32 * 1024);
  kvf::emu::launch("overflowStack", overflowStack, dim3(1), dim3(32), 0, 1, out.data(), 10);  // fits
  CHECK_EQ(out[0], 55);
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child == 0) {
    std::freopen("/dev/null", "w", stderr);
#if defined(__SANITIZE_ADDRESS__)
    // The overflow is the point: ASan's report of it goes where stderr goes (not to a log_path
    // the caller set to collect real reports, which would then count this one).
    __sanitizer_set_report_fd(reinterpret_cast<void*>(intptr_t(2)));
#endif
    kvf::emu::launch("overflowStack", overflowStack, dim3(1), dim3(32), 0, 1, out.data(), 1000);  // ~1 MB
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
#if defined(__SANITIZE_ADDRESS__)
  CHECK(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
#else
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
#endif
  kvf::emu::setFiberStackBytes(saved);
  checkStillWorks();
}
#endif
