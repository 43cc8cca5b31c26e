// The compression policies' cache ops of the "cuda" / "cuda-emu" CacheOps (cache_policy_cuda.cu),
// registered with the rest in cache_cuda.cu.
#pragma once
#include "kvforge/cache_ops.hpp"
#include "kvforge/cuda/config.cuh"

namespace kvf {
namespace KVF_CUDA_NS {

void policyCompact(const CompactArgs& a);
void policyMerge(const MergeArgs& a);
void policyPyramid(const PyramidArgs& a);

}  // namespace KVF_CUDA_NS
}  // namespace kvf
