// The host entry point of a CUDA variant: kvf::KVF_CUDA_NS::invoke<V>, with the contract of every
// kernel (registry.hpp's KernelFn): AttnArgs (attn_args.hpp, interface version 2) whose pointers are
// all in this backend's memory (device memory under nvcc, the emulator's cudaMalloc memory under
// the emulator). Nothing is uploaded or downloaded: the kernels read q, the slots and the row
// tables in place and write out and lse in place. The call runs on a.stream (null: the legacy
// default stream) and has synchronised it when it returns.
//
// Allocation: none per call once warmed. The decode path's partial results live in a workspace,
// one per backend and device, that grows (never shrinks) to the largest call seen; see Workspace.
//
// Launch geometry comes from the device, asked once per device (DeviceProps): its multiprocessor
// count sets the decode key splits, and its opt-in shared memory per block is checked against what
// a kernel needs (std::runtime_error naming both when a kernel cannot run there).
//
// Errors: arguments that do not fit the compiled kernel (version, head dims, storage dtype,
// alignment, missing pointers, grid limits) are std::invalid_argument; a failing runtime call is
// std::runtime_error naming the call and the CUDA error.
#pragma once
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include "kvforge/attn_args.hpp"
#include "kvforge/out_of_memory.hpp"
#include "kvforge/cuda/classify.cuh"
#include "kvforge/cuda/config.cuh"
#include "kvforge/cuda/decode.cuh"
#include "kvforge/cuda/device_args.cuh"
#include "kvforge/cuda/mass.cuh"
#include "kvforge/cuda/prefill.cuh"
#include "kvforge/cuda/storage.cuh"

namespace kvf {
namespace KVF_CUDA_NS {

inline void check(cudaError_t err, const char* call, const std::string& what) {
  if (err == cudaSuccess) return;
  const std::string msg = std::string("kvforge " KVF_CUDA_BACKEND ": ") + call + "(" + what + ") failed: " + cudaGetErrorName(err);
  if (err == cudaErrorMemoryAllocation) throw OutOfMemory(msg);
  throw std::runtime_error(msg);
}

// What the launch code needs to know about a device, asked once per device and kept for the
// process (a device's properties do not change).
struct DeviceProps {
  int device = 0;
  int smCount = 0;     // cudaDevAttrMultiProcessorCount
  int smemOptIn = 0;   // cudaDevAttrMaxSharedMemoryPerBlockOptin, bytes
};

// The current device's properties (cudaGetDevice on every call, the attributes once).
inline DeviceProps currentDeviceProps() {
  static std::mutex m;
  static std::map<int, DeviceProps> known;
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice", "");
  std::lock_guard<std::mutex> lock(m);
  const auto it = known.find(dev);
  if (it != known.end()) return it->second;
  DeviceProps p;
  p.device = dev;
  const std::string d = "device " + std::to_string(dev);
  check(cudaDeviceGetAttribute(&p.smCount, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute",
        d + ", cudaDevAttrMultiProcessorCount");
  check(cudaDeviceGetAttribute(&p.smemOptIn, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "cudaDeviceGetAttribute",
        d + ", cudaDevAttrMaxSharedMemoryPerBlockOptin");
  p.smCount = std::max(1, p.smCount);
  known[dev] = p;
  return p;
}

// "D = 128, kTileQ = 64, bf16": what sizes a variant's kernels, for messages.
template <class V>
std::string variantShape() {
  return "D = " + std::to_string(V::kHeadDim) + ", kTileQ = " + std::to_string(V::kTileQ) + ", " +
         StorageTraits<typename V::Storage>::kName;
}

// Throws std::runtime_error when a kernel needs more shared memory per block than the device has.
inline void requireSharedMemory(const DeviceProps& dev, int bytes, const char* kernel, const std::string& variant) {
  if (bytes > dev.smemOptIn)
    throw std::runtime_error(std::string("kvforge " KVF_CUDA_BACKEND ": ") + kernel + " (" + variant + ") needs " +
                             std::to_string(bytes) + " bytes of shared memory per block, device " +
                             std::to_string(dev.device) + " allows " + std::to_string(dev.smemOptIn) +
                             " (cudaDevAttrMaxSharedMemoryPerBlockOptin); a smaller kTileQ or head dim fits (the "
                             "prefill also takes a byte per kTileK slots of maxLen for its tile classes)");
}

// The decode partials' device buffer of one backend and device. A call takes `m` before it
// reserves the buffer and holds it until its stream has been synchronised (also when it throws),
// so the buffer is never shared by two calls in flight and may be regrown between calls; decode
// calls on one device therefore run one after the other, whatever their streams (prefill calls
// take no lock). It grows to at least twice its size when too small (cudaFree + cudaMalloc; the
// only allocations of this header) and is never freed: freeing device memory from a static
// destructor at exit can run after the CUDA runtime has shut down.
struct Workspace {
  std::mutex m;
  void* ptr = nullptr;
  size_t bytes = 0;

  // A buffer of at least `need` bytes; the caller holds m.
  void* reserve(size_t need) {
    if (need <= bytes) return ptr;
    const size_t grown = std::max(need, 2 * bytes);
    if (ptr) check(cudaFree(ptr), "cudaFree", "decode workspace");
    ptr = nullptr;
    bytes = 0;
    check(cudaMalloc(&ptr, grown), "cudaMalloc", "decode workspace, " + std::to_string(grown) + " bytes");
    bytes = grown;
    return ptr;
  }
};

inline Workspace& workspace(int device) {
  static std::mutex m;
  static std::map<int, Workspace*>* all = new std::map<int, Workspace*>();  // never freed, see above
  std::lock_guard<std::mutex> lock(m);
  Workspace*& w = (*all)[device];
  if (!w) w = new Workspace();
  return *w;
}

// Synchronises the stream when a call leaves early by an exception after it launched work, so no
// kernel of it still runs when its workspace lock is released. Errors are ignored there: the
// exception in flight is what the caller hears about.
struct SyncOnUnwind {
  cudaStream_t stream;
  bool armed = true;
  ~SyncOnUnwind() {
    if (armed) (void)cudaStreamSynchronize(stream);
  }
};

inline void finish(cudaStream_t stream, SyncOnUnwind& guard, const char* what) {
  guard.armed = false;
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize", what);
}

// Launch configuration of the decode path, chosen on the host.
struct DecodePlan {
  int rowsPerSlice, nSlices, nSplit, chunksPerSplit;
};

// maxChunksPerSplit: the largest split the kernel takes (its class table's bound).
inline DecodePlan planDecode(int64_t B, int64_t Hkv, int64_t groupRows, int64_t maxLen, int rowsPerSlice,
                             int smCount, int64_t maxChunksPerSplit) {
  DecodePlan p;
  p.rowsPerSlice = rowsPerSlice;
  p.nSlices = int((groupRows + rowsPerSlice - 1) / rowsPerSlice);
  const int64_t nChunks = (maxLen + kChunk - 1) / kChunk;
  const int64_t blocks = B * Hkv * p.nSlices;
  const int64_t target = int64_t(kDecodeBlocksPerSm) * smCount;
  const int64_t want = (target + blocks - 1) / blocks;
  const int64_t most = (nChunks + kDecodeMinChunksPerSplit - 1) / kDecodeMinChunksPerSplit;
  const int64_t fewest = (nChunks + maxChunksPerSplit - 1) / maxChunksPerSplit;
  const int64_t split = std::max<int64_t>({1, fewest, std::min(want, most)});
  p.chunksPerSplit = int(std::max<int64_t>(1, (nChunks + split - 1) / split));
  p.nSplit = int(std::max<int64_t>(1, (nChunks + p.chunksPerSplit - 1) / p.chunksPerSplit));
  return p;
}

constexpr int64_t roundUp16(int64_t n) { return (n + 15) / 16 * 16; }

// Decode is used when the rows sharing a KV head (G * maxRows) are at most this many (a few
// slices); beyond it, the prefill's 64-row tiles are filled well enough.
constexpr int64_t kDecodeMaxGroupRows = 32;
constexpr int64_t kMaxGridYZ = 65535;
constexpr int64_t kMaxGridX = 2147483647;

template <class V, int R>
void launchDecode(const V& var, DeviceArgs<typename V::Storage> d, const AttnArgs& a, const DeviceProps& dev,
                  cudaStream_t stream) {
  constexpr int D = V::kHeadDim;
  const DecodePlan p = planDecode(a.B, a.kv.Hkv, d.G * a.maxRows, a.kv.maxLen, R, dev.smCount,
                                  kClassifies<V> ? kDecodeMaxChunksPerSplit : kMaxGridX);
  d.nSlices = p.nSlices, d.nSplit = p.nSplit, d.chunksPerSplit = p.chunksPerSplit, d.rowsPerSlice = R;
  d.nUnits = p.nSplit * kWarps;
  const size_t parts = size_t(a.B * a.kv.Hkv) * size_t(p.nSlices) * size_t(d.nUnits) * size_t(R);
  const int64_t mergeBlocks = (int64_t(parts) + kWarps - 1) / kWarps;
  if (mergeBlocks > kMaxGridX)
    throw std::invalid_argument("kvforge " KVF_CUDA_BACKEND " kernel: " + std::to_string(parts) +
                                " decode rows exceed the grid limit");
  const int smem = int(decodeSmemBytes<V, R>() + roundUp16(decodeClassBytes<V, R>(p.chunksPerSplit)));
  requireSharedMemory(dev, smem, "decodeKernel", variantShape<V>());

  Workspace& ws = workspace(dev.device);
  std::lock_guard<std::mutex> lock(ws.m);
  float* buf = static_cast<float*>(ws.reserve(parts * size_t(D + 2) * sizeof(float)));
  d.partO = buf, d.partM = buf + parts * D, d.partL = d.partM + parts;

  SyncOnUnwind guard{stream};
  auto* decode = &decodeKernel<V, R>;  // a template-id cannot be a macro argument
  check(cudaFuncSetAttribute(decode, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "cudaFuncSetAttribute",
        "decodeKernel");
  const dim3 grid(unsigned(p.nSplit), unsigned(p.nSlices), unsigned(a.B * a.kv.Hkv));
  KVF_LAUNCH(decode, grid, dim3(kThreads), smem, stream, var, d);
  check(cudaGetLastError(), "decodeKernel launch", "");

  auto* merge = &decodeMergeKernel<D, typename V::Storage>;
  KVF_LAUNCH(merge, dim3(unsigned(mergeBlocks)), dim3(kThreads), 0, stream, d);
  check(cudaGetLastError(), "decodeMergeKernel launch", "");
  finish(stream, guard, "decode");  // before the workspace is released
}

template <class V>
void launchPrefill(const V& var, const DeviceArgs<typename V::Storage>& d, const AttnArgs& a, const DeviceProps& dev,
                   cudaStream_t stream) {
  const int64_t smem64 = prefillSmemBytes<V>() + roundUp16(prefillClassBytes<V>(a.kv.maxLen));
  const int smem = int(std::min<int64_t>(smem64, INT32_MAX));
  requireSharedMemory(dev, smem, "prefillKernel", variantShape<V>() + ", maxLen = " + std::to_string(a.kv.maxLen));
  SyncOnUnwind guard{stream};
  auto* prefill = &prefillKernel<V>;  // a template-id cannot be a macro argument
  check(cudaFuncSetAttribute(prefill, cudaFuncAttributeMaxDynamicSharedMemorySize, smem), "cudaFuncSetAttribute",
        "prefillKernel");
  const int64_t nQt = (a.maxRows + V::kTileQ - 1) / V::kTileQ;
  const dim3 grid(unsigned(nQt), unsigned(a.Hq), unsigned(a.B));
  KVF_LAUNCH(prefill, grid, dim3(kThreads), smem, stream, var, d);
  check(cudaGetLastError(), "prefillKernel launch", "");
  finish(stream, guard, "prefill");
}

// The attention mass (AttnArgs v3), after the forward has written lse (mass.cuh).
template <class V>
void launchMass(const V& var, const DeviceArgs<typename V::Storage>& d, cudaStream_t stream) {
  const int64_t total = d.B * d.Hkv * d.maxLen;
  if (total == 0) return;
  SyncOnUnwind guard{stream};
  const int64_t blocks = std::min<int64_t>((total + kMassThreads - 1) / kMassThreads, kMassMaxBlocks);
  auto* mass = &massKernel<V>;
  KVF_LAUNCH(mass, dim3(unsigned(blocks)), dim3(kMassThreads), 0, stream, var, d);
  check(cudaGetLastError(), "massKernel launch", "");
  finish(stream, guard, "attention mass");
}

inline void requireArg(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("kvforge " KVF_CUDA_BACKEND " kernel: " + what);
}

inline bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Throws std::invalid_argument (expected / got) when a does not fit variant V.
template <class V>
void checkArgs(const AttnArgs& a) {
  using T = typename V::Storage;
  constexpr int D = V::kHeadDim;
  checkArgsVersion(a, 2, "kvforge " KVF_CUDA_BACKEND " kernel");
  const auto num = [](int64_t x) { return std::to_string(x); };
  const SlotView& kv = a.kv;
  requireArg(kv.D == D && kv.Dv == D, "expected head dims D = Dv = " + num(D) + " (compiled), got D = " + num(kv.D) +
                                          ", Dv = " + num(kv.Dv));
  if (kv.dtype != StorageTraits<T>::kDType) {
    const std::string got = validDType(int32_t(kv.dtype)) ? dtypeName(kv.dtype) : "dtype " + num(int32_t(kv.dtype));
    requireArg(false, std::string("expected K/V storage dtype ") + StorageTraits<T>::kName + " (compiled), got " + got);
  }
  requireArg(a.B >= 0 && a.Hq >= 0 && a.maxRows >= 0 && kv.maxLen >= 0,
             "expected B, Hq, maxRows, kv.maxLen >= 0, got " + num(a.B) + ", " + num(a.Hq) + ", " + num(a.maxRows) +
                 ", " + num(kv.maxLen));
  requireArg(kv.Hkv > 0 && a.Hq % kv.Hkv == 0,
             "expected Hq to be a multiple of Hkv > 0, got Hq = " + num(a.Hq) + ", Hkv = " + num(kv.Hkv));
  requireArg(kv.B == a.B, "expected kv.B == B, got kv.B = " + num(kv.B) + ", B = " + num(a.B));
  if (a.B == 0 || a.Hq == 0 || a.maxRows == 0) return;  // nothing is read
  requireArg(a.rowStart && a.rowCount && a.q && a.qpos && a.out && a.lse && kv.len,
             "rowStart, rowCount, q, qpos, out, lse and kv.len must not be null");
  requireArg(kv.maxLen == 0 || (kv.k && kv.v && kv.pos), "kv.k, kv.v and kv.pos must not be null when kv.maxLen > 0");
  // 16-byte vector loads: q rows by 4 floats, K and V rows by kStageVec<T> elements.
  requireArg(aligned(a.q, 16) && a.qStrideB % 4 == 0 && a.qStrideH % 4 == 0 && a.qStrideRow % 4 == 0,
             "q must be 16-byte aligned with strides that are multiples of 4 floats, got strides " + num(a.qStrideB) +
                 ", " + num(a.qStrideH) + ", " + num(a.qStrideRow));
  constexpr int vec = kStageVec<T>;
  const bool kvAligned = aligned(kv.k, 16) && aligned(kv.v, 16) && kv.kStrideB % vec == 0 && kv.kStrideH % vec == 0 &&
                         kv.kStrideS % vec == 0 && kv.vStrideB % vec == 0 && kv.vStrideH % vec == 0 &&
                         kv.vStrideS % vec == 0;
  requireArg(std::abs(kv.kStrideS) <= kMaxSlotStride && std::abs(kv.vStrideS) <= kMaxSlotStride,
             "expected slot strides of at most 2^26 elements, got kStrideS = " + num(kv.kStrideS) +
                 ", vStrideS = " + num(kv.vStrideS));
  requireArg(kv.maxLen == 0 || kvAligned,
             "kv.k and kv.v must be 16-byte aligned with strides that are multiples of " + num(vec) +
                 " elements, got k strides " + num(kv.kStrideB) + ", " + num(kv.kStrideH) + ", " + num(kv.kStrideS) +
                 ", v strides " + num(kv.vStrideB) + ", " + num(kv.vStrideH) + ", " + num(kv.vStrideS));
  const int64_t G = a.Hq / kv.Hkv;
  const bool decode = G * a.maxRows <= kDecodeMaxGroupRows;
  requireArg(decode ? a.B * kv.Hkv <= kMaxGridYZ : (a.B <= kMaxGridYZ && a.Hq <= kMaxGridYZ),
             "B = " + num(a.B) + ", Hq = " + num(a.Hq) + ", Hkv = " + num(kv.Hkv) + " exceed the grid limit 65535");
  requireArg(a.maxRows <= kMaxGridX, "maxRows = " + num(a.maxRows) + " exceeds the grid limit");
}

// The forward of variant V on AttnArgs a (already checked by checkArgs<V>).
template <class V>
void forward(const V& var, const AttnArgs& a) {
  using T = typename V::Storage;
  constexpr int D = V::kHeadDim;
  const cudaStream_t stream = static_cast<cudaStream_t>(a.stream);
  if (a.B == 0 || a.Hq == 0 || a.maxRows == 0) {  // no query rows: nothing to write
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize", "no rows");
    return;
  }
  const DeviceProps dev = currentDeviceProps();
  const SlotView& kv = a.kv;
  DeviceArgs<T> d{};
  d.rowStart = a.rowStart, d.rowCount = a.rowCount;
  d.q = a.q, d.qStrideB = a.qStrideB, d.qStrideH = a.qStrideH, d.qStrideRow = a.qStrideRow;
  d.qpos = a.qpos, d.qposStrideB = a.qposStrideB;
  d.out = a.out, d.oStrideB = a.oStrideB, d.oStrideH = a.oStrideH, d.oStrideRow = a.oStrideRow;
  d.lse = a.lse, d.lseStrideB = a.lseStrideB, d.lseStrideH = a.lseStrideH, d.lseStrideRow = a.lseStrideRow;
  d.k = static_cast<const T*>(kv.k), d.v = static_cast<const T*>(kv.v);
  d.kStrideB = kv.kStrideB, d.kStrideH = kv.kStrideH, d.kStrideS = kv.kStrideS;
  d.vStrideB = kv.vStrideB, d.vStrideH = kv.vStrideH, d.vStrideS = kv.vStrideS;
  d.pos = kv.pos, d.posStrideB = kv.posStrideB, d.posStrideH = kv.posStrideH;
  d.len = kv.len, d.lenStrideB = kv.lenStrideB, d.lenStrideH = kv.lenStrideH;
  d.sumMin = kv.sumMin, d.sumMax = kv.sumMax, d.sumStrideB = kv.sumStrideB, d.sumStrideH = kv.sumStrideH;
  d.maxLen = kv.maxLen;
  d.bias = biasOf(a), d.biasStrideB = a.biasStrideB, d.biasStrideH = a.biasStrideH;
  d.mass = massOf(a), d.massStrideB = a.massStrideB, d.massStrideH = a.massStrideH;
  d.B = a.B, d.Hq = a.Hq, d.Hkv = kv.Hkv, d.G = a.Hq / kv.Hkv;
  const float scale = static_cast<float>(a.scale);
  d.qScale = V::kHasScore ? 1.0f : scale * kLog2e;
  d.sScale = scale;

  const int64_t groupRows = d.G * a.maxRows;
  if (groupRows > kDecodeMaxGroupRows) launchPrefill(var, d, a, dev, stream);
  else if (groupRows <= kDecodeSmallRows) launchDecode<V, kDecodeSmallRows>(var, d, a, dev, stream);
  else launchDecode<V, decodeLargeRows<D>()>(var, d, a, dev, stream);
  if (d.mass) launchMass(var, d, stream);
}

// The registry's entry point for variant V (registry.hpp's KernelFn).
template <class V>
void invoke(const AttnArgs& a, const double* params) {
  checkArgs<V>(a);
  const V var(params);
  forward(var, a);
}

}  // namespace KVF_CUDA_NS
}  // namespace kvf
