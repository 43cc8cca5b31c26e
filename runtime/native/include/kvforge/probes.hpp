// Machine-limit probes for the benchmark: what this machine can do at best, so kernel timings
// can be reported as a fraction of a limit.
#pragma once
#include <cstddef>

namespace kvf {

// Fused multiply-add throughput in GFLOP/s (2 flops per FMA lane) on `threads` threads, measured
// for about `seconds`. Uses the widest vectors the library was compiled for.
double probeFmaGflops(int threads, double seconds);

// Streaming read bandwidth in GB/s (1e9 bytes/s) of a `bytes`-byte buffer split over `threads`
// threads, re-read for about `seconds`. Pick bytes well above the last-level cache (the default
// 256 MiB) to measure DRAM. Throws std::runtime_error if the buffer cannot be allocated.
constexpr size_t kDefaultProbeReadBytes = size_t(256) << 20;
double probeReadGBs(int threads, size_t bytes = kDefaultProbeReadBytes, double seconds = 0.5);

// The same over `n` floats at `buf`, memory the caller allocated and has written (untouched
// pages would all read the one zero page): no allocation, so a benchmark can interleave short
// probes with the kernels it measures. At least one whole pass, however short `seconds` is.
double probeReadGBsOn(int threads, const float* buf, size_t n, double seconds);

}  // namespace kvf
