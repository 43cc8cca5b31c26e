// Registry of compiled kernels: generated files register themselves at static-initialisation
// time with KVF_REGISTER_CPU_KERNEL, and the glue looks them up by id.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>
#include "kvforge/attn_args.hpp"

namespace kvf {

// Runs one attention call: args as documented in attn_args.hpp (every pointer in the backend's
// memory), params = the variant's runtime parameter values in declared order. Throws
// std::invalid_argument when the arguments do not fit the compiled kernel (version, head dims,
// storage dtype), std::runtime_error on a failure of the backend.
using KernelFn = void (*)(const AttnArgs&, const double* params);

struct CpuKernel {
  std::string id;
  KernelFn fn = nullptr;
  int64_t tileQ = 0, tileK = 0;  // compiled tiles; 0 = not declared (not checked)
  int numParams = -1;            // -1 = not declared (not checked)
};

// Register (or replace) a kernel. The 2-argument form declares no tiles.
void registerCpuKernel(const char* id, KernelFn fn);
void registerCpuKernel(const CpuKernel& kernel);

// nullptr when no kernel has this id.
const CpuKernel* findCpuKernel(const std::string& id);

// Ids in registration order.
std::vector<std::string> listCpuKernels();

namespace detail {
// V::kNumParams if the variant declares it, else -1.
template <class V, class = void>
struct NumParams : std::integral_constant<int, -1> {};
template <class V>
struct NumParams<V, std::void_t<decltype(V::kNumParams)>> : std::integral_constant<int, int(V::kNumParams)> {};

struct Registrar {
  explicit Registrar(const CpuKernel& k) { registerCpuKernel(k); }
};
}  // namespace detail

}  // namespace kvf

#define KVF_CONCAT_INNER(a, b) a##b
#define KVF_CONCAT(a, b) KVF_CONCAT_INNER(a, b)

// At namespace scope in a kernel file: KVF_REGISTER_CPU_KERNEL("causal_1a2b3c4d", Variant_causal);
// (The file must include kvforge/cpu/forward.hpp, which defines kvf::cpu::invoke.)
#define KVF_REGISTER_CPU_KERNEL(ID_STRING, VariantType)                                           \
  static const ::kvf::detail::Registrar KVF_CONCAT(kvfRegistrar_, __COUNTER__)(::kvf::CpuKernel{ \
      ID_STRING, &::kvf::cpu::invoke<VariantType>, VariantType::kTileQ, VariantType::kTileK,        \
      ::kvf::detail::NumParams<VariantType>::value})
