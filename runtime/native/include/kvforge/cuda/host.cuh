// The host entry point of a CUDA variant: kvf::KVF_CUDA_NS::invoke<V>, with the same contract as
// a CPU kernel (registry.hpp's KernelFn): ForwardArgs of HOST f32 arrays in, out and lse written.
//
// It rounds q, k, v to V::Storage on the host (round to nearest even), copies everything to the
// device, runs the prefill or the decode kernels, and copies out and lse back. Every runtime call
// is checked; a failure throws std::runtime_error naming the call and the CUDA error. Device
// buffers are released on every path (RAII), also when a later call throws.
#pragma once
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>
#include "kvforge/forward_args.hpp"
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/decode.cuh"
#include "kvforge/cuda/device_args.cuh"
#include "kvforge/cuda/prefill.cuh"
#include "kvforge/cuda/storage.cuh"

namespace kvf {
namespace KVF_CUDA_NS {

inline void check(cudaError_t err, const char* call, const std::string& what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("kvforge " KVF_CUDA_BACKEND ": ") + call + "(" + what +
                             ") failed: " + cudaGetErrorName(err));
}

// One device allocation, freed by the destructor (a free's error is ignored: nothing to do then).
class DeviceBuffer {
 public:
  DeviceBuffer(size_t bytes, const char* what) : bytes_(bytes) {
    if (bytes > 0) check(cudaMalloc(&ptr_, bytes), "cudaMalloc", std::string(what) + ", " + std::to_string(bytes) + " bytes");
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  void upload(const void* src, const char* what) {
    if (bytes_ > 0) check(cudaMemcpy(ptr_, src, bytes_, cudaMemcpyHostToDevice), "cudaMemcpy", what);
  }
  void download(void* dst, const char* what) const {
    if (bytes_ > 0) check(cudaMemcpy(dst, ptr_, bytes_, cudaMemcpyDeviceToHost), "cudaMemcpy", what);
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// n values of src rounded to T, on the device.
template <class T>
void uploadAs(DeviceBuffer& buf, const float* src, size_t n, const char* what) {
  if constexpr (std::is_same<T, float>::value) {
    (void)n;
    buf.upload(src, what);
  } else {
    std::vector<T> tmp(n);
    for (size_t i = 0; i < n; ++i) tmp[i] = StorageTraits<T>::fromFloat(src[i]);
    buf.upload(tmp.data(), what);
  }
}

// Launch configuration of the decode path, chosen on the host.
struct DecodePlan {
  int rowsPerSlice, nSlices, nSplit, chunksPerSplit;
};

inline DecodePlan planDecode(const ForwardArgs& a, int rowsPerSlice) {
  DecodePlan p;
  const int64_t groupRows = (a.Hq / a.Hkv) * a.Lq;
  p.rowsPerSlice = rowsPerSlice;
  p.nSlices = int((groupRows + rowsPerSlice - 1) / rowsPerSlice);
  const int64_t nChunks = (a.Lk + kChunk - 1) / kChunk;
  const int64_t blocks = a.B * a.Hkv * p.nSlices;
  const int64_t want = (kDecodeTargetBlocks + blocks - 1) / blocks;
  const int64_t most = (nChunks + kDecodeMinChunksPerSplit - 1) / kDecodeMinChunksPerSplit;
  const int64_t split = std::max<int64_t>(1, std::min(want, most));
  p.chunksPerSplit = int((nChunks + split - 1) / split);
  p.nSplit = int((nChunks + p.chunksPerSplit - 1) / p.chunksPerSplit);
  return p;
}

// Decode is used when the rows sharing a KV head (G * Lq) are at most this many (a few slices);
// beyond it, the prefill's 64-row tiles are filled well enough.
constexpr int64_t kDecodeMaxGroupRows = 32;

template <class V, int R>
void launchDecode(const V& var, DeviceArgs<typename V::Storage> d, const ForwardArgs& a) {
  const DecodePlan p = planDecode(a, R);
  d.nSlices = p.nSlices, d.nSplit = p.nSplit, d.chunksPerSplit = p.chunksPerSplit, d.rowsPerSlice = R;
  d.nUnits = p.nSplit * kWarps;
  const size_t parts = size_t(a.B * a.Hkv) * size_t(p.nSlices) * size_t(d.nUnits) * size_t(R);
  DeviceBuffer partO(parts * size_t(V::kHeadDim) * sizeof(float), "decode partial outputs");
  DeviceBuffer partM(parts * sizeof(float), "decode partial maxima");
  DeviceBuffer partL(parts * sizeof(float), "decode partial sums");
  d.partO = partO.as<float>(), d.partM = partM.as<float>(), d.partL = partL.as<float>();

  constexpr int smem = decodeSmemBytes<V, R>();
  auto* decode = &decodeKernel<V, R>;  // a template-id cannot be a macro argument
  check(cudaFuncSetAttribute(decode, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "cudaFuncSetAttribute",
        "decodeKernel");
  const dim3 grid(unsigned(p.nSplit), unsigned(p.nSlices), unsigned(a.B * a.Hkv));
  KVF_LAUNCH(decode, grid, dim3(kThreads), smem, 0, var, d);
  check(cudaGetLastError(), "decodeKernel launch", "");

  auto* merge = &decodeMergeKernel<V::kHeadDim, typename V::Storage>;
  const int64_t rows = a.B * a.Hq * a.Lq;
  KVF_LAUNCH(merge, dim3(unsigned((rows + kWarps - 1) / kWarps)), dim3(kThreads), 0, 0, d);
  check(cudaGetLastError(), "decodeMergeKernel launch", "");
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize", "decode");  // before the partials are freed
}

template <class V>
void launchPrefill(const V& var, const DeviceArgs<typename V::Storage>& d) {
  constexpr int smem = prefillSmemBytes<V>();
  auto* prefill = &prefillKernel<V>;  // a template-id cannot be a macro argument
  check(cudaFuncSetAttribute(prefill, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "cudaFuncSetAttribute",
        "prefillKernel");
  const dim3 grid(unsigned(d.nQt), unsigned(d.Hq), unsigned(d.B));
  KVF_LAUNCH(prefill, grid, dim3(kThreads), smem, 0, var, d);
  check(cudaGetLastError(), "prefillKernel launch", "");
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize", "prefill");
}

inline void requireArg(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("kvforge " KVF_CUDA_BACKEND " kernel: " + what);
}

// Throws std::invalid_argument (expected / got) when a does not fit variant V.
template <class V>
void checkArgs(const ForwardArgs& a) {
  constexpr int D = V::kHeadDim;
  const auto num = [](int64_t x) { return std::to_string(x); };
  requireArg(a.D == D && a.Dv == D, "expected head dims D = Dv = " + num(D) + " (compiled), got D = " + num(a.D) +
                                        ", Dv = " + num(a.Dv));
  requireArg(a.tileQ == V::kTileQ && a.tileK == V::kTileK,
             "expected the tile map for tiles " + num(V::kTileQ) + " x " + num(V::kTileK) + ", got " + num(a.tileQ) +
                 " x " + num(a.tileK));
  requireArg(a.Hkv > 0 && a.Hq % a.Hkv == 0, "expected Hq to be a multiple of Hkv > 0, got Hq = " + num(a.Hq) +
                                                  ", Hkv = " + num(a.Hkv));
}

// The forward of variant V on ForwardArgs a (already checked by checkArgs<V>).
template <class V>
void forward(const V& var, const ForwardArgs& a) {
  using T = typename V::Storage;
  constexpr int D = V::kHeadDim;
  const auto num = [](int64_t x) { return std::to_string(x); };
  if (a.B <= 0 || a.Hq <= 0 || a.Lq <= 0) return;  // no query rows: nothing to write
  const int64_t rows = a.B * a.Hq * a.Lq;
  if (a.Lk <= 0) {  // no keys: every row is empty
    std::fill(a.out, a.out + rows * D, 0.0f);
    std::fill(a.lse, a.lse + rows, -INFINITY);
    return;
  }
  const int64_t G = a.Hq / a.Hkv;
  const bool decode = G * a.Lq <= kDecodeMaxGroupRows;
  const int64_t nQt = (a.Lq + V::kTileQ - 1) / V::kTileQ, nKt = (a.Lk + V::kTileK - 1) / V::kTileK;
  constexpr int64_t kMaxGridYZ = 65535;
  requireArg(decode ? a.B * a.Hkv <= kMaxGridYZ : (a.B <= kMaxGridYZ && a.Hq <= kMaxGridYZ),
             "B = " + num(a.B) + ", Hq = " + num(a.Hq) + ", Hkv = " + num(a.Hkv) + " exceed the grid limit 65535");

  const size_t nq = size_t(rows * D), nkv = size_t(a.B * a.Hkv * a.Lk * D);
  const size_t mapBytes = size_t(a.mapB * a.mapH * nQt * nKt);
  DeviceBuffer q(nq * sizeof(T), "q"), k(nkv * sizeof(T), "k"), v(nkv * sizeof(T), "v");
  DeviceBuffer out(nq * sizeof(float), "out"), lse(size_t(rows) * sizeof(float), "lse");
  DeviceBuffer qpos(size_t(a.Lq) * sizeof(int32_t), "qpos"), kpos(size_t(a.Lk) * sizeof(int32_t), "kpos");
  DeviceBuffer map(mapBytes, "tile map");
  uploadAs<T>(q, a.q, nq, "q");
  uploadAs<T>(k, a.k, nkv, "k");
  uploadAs<T>(v, a.v, nkv, "v");
  qpos.upload(a.qpos, "qpos");
  kpos.upload(a.kpos, "kpos");
  map.upload(a.tileMap, "tile map");

  DeviceArgs<T> d{};
  d.q = q.as<T>(), d.k = k.as<T>(), d.v = v.as<T>(), d.out = out.as<float>(), d.lse = lse.as<float>();
  d.qpos = qpos.as<int32_t>(), d.kpos = kpos.as<int32_t>(), d.tileMap = map.as<uint8_t>();
  d.B = a.B, d.Hq = a.Hq, d.Hkv = a.Hkv, d.Lq = a.Lq, d.Lk = a.Lk, d.G = G;
  d.mapB = a.mapB, d.mapH = a.mapH, d.nQt = nQt, d.nKt = nKt;
  const float scale = static_cast<float>(a.scale);
  d.qScale = V::kHasScore ? 1.0f : scale * kLog2e;
  d.sScale = scale;

  if (!decode) launchPrefill(var, d);
  else if (G * a.Lq <= kDecodeSmallRows) launchDecode<V, kDecodeSmallRows>(var, d, a);
  else launchDecode<V, decodeLargeRows<D>()>(var, d, a);

  out.download(a.out, "out");
  lse.download(a.lse, "lse");
}

// The registry's entry point for variant V (registry.hpp's KernelFn).
template <class V>
void invoke(const ForwardArgs& a, const double* params) {
  checkArgs<V>(a);
  const V var(params);
  forward(var, a);
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
