// The CPU backend's compression-policy ops (CacheOps::compact, merge and pyramid, kvforge/cache_ops.hpp),
// registered with the rest of the CPU cache ops in cache_cpu.cpp.
#pragma once
#include "kvforge/cache_ops.hpp"

namespace kvf::cpucache {

void compact(const CompactArgs& a);
void merge(const MergeArgs& a);
void pyramid(const PyramidArgs& a);

}  // namespace kvf::cpucache
