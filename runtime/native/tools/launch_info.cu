// Prints the launch configurations (kvforge/cuda/launch_info.cuh) of the variants one generated
// .cu registers, one JSON object per line, in registration order:
//   {"id":"causal_1a2b","variant":"Variant_causal_1a2b","storage":"bf16","headDim":64,"tileQ":64,"tileK":64,
//    "kernels":[{"role":"prefill","rows":0,"threads":128,"dynamicSmem":50688,"smemOptIn":true},...]}
//
//   nvcc -std=c++17 --expt-relaxed-constexpr -I runtime/native/include \
//        -DKVF_KERNEL_SOURCE='"/abs/path/kernel.cu"' -o launch_info runtime/native/tools/launch_info.cu
//
// The kernel file is included as it is, after KVF_REGISTER_CUDA_KERNEL has been redefined to
// record variantLaunches<Variant>() instead of registering invoke<Variant>: no kernel template
// is instantiated, so no device code is compiled and the program runs on a machine without a GPU
// or a driver (it makes no CUDA call). Compiled by nvcc, so every constant is the one nvcc sees.
#include <cstdio>
#include <vector>
#include "kvforge/cuda/forward.cuh"
#include "kvforge/cuda/launch_info.cuh"

#ifndef KVF_KERNEL_SOURCE
#error "define KVF_KERNEL_SOURCE as the quoted path of a generated .cu file"
#endif

namespace {
struct RecordedVariant {
  const char* id;
  const char* type;  // the Variant's name as written in the registration
  kvf::KVF_CUDA_NS::VariantLaunches launches;
};

std::vector<RecordedVariant>& recordedVariants() {
  static std::vector<RecordedVariant> all;
  return all;
}

struct LaunchRecorder {
  LaunchRecorder(const char* id, const char* type, const kvf::KVF_CUDA_NS::VariantLaunches& l) {
    recordedVariants().push_back({id, type, l});
  }
};
}  // namespace

#undef KVF_REGISTER_CUDA_KERNEL
#define KVF_REGISTER_CUDA_KERNEL(ID_STRING, VariantType) \
  static const LaunchRecorder KVF_CONCAT(kvfLaunchRecorder_, __COUNTER__)(ID_STRING, #VariantType,   \
                                                                    ::kvf::KVF_CUDA_NS::variantLaunches<VariantType>())

#include KVF_KERNEL_SOURCE

int main() {
  for (const RecordedVariant& v : recordedVariants()) {
    const kvf::KVF_CUDA_NS::VariantLaunches& l = v.launches;
    std::printf("{\"id\":\"%s\",\"variant\":\"%s\",\"storage\":\"%s\",\"headDim\":%d,\"tileQ\":%d,\"tileK\":%d,\"kernels\":[", v.id,
                v.type, l.storage, l.headDim, l.tileQ, l.tileK);
    for (int i = 0; i < l.count; ++i) {
      const kvf::KVF_CUDA_NS::KernelLaunch& k = l.kernels[i];
      std::printf("%s{\"role\":\"%s\",\"rows\":%d,\"threads\":%d,\"dynamicSmem\":%d,\"smemOptIn\":%s}", i ? "," : "", k.role,
                  k.rows, k.threads, k.dynamicSmemBytes, k.smemOptIn ? "true" : "false");
    }
    std::printf("]}\n");
  }
  return 0;
}
