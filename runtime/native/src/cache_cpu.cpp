// CacheOps "cpu": the KV cache kernels on host memory, looping over cache_slots.hpp (the same
// per-slot and per-entry functions the CUDA kernels call).
//
// Every op validates all of its arguments first and throws std::runtime_error ("kvforge cpu:
// cache <op>: ...") before writing anything. Work is split into units of kRowsPerUnit slot rows
// of one head; units run on kvf::cpu::parallelFor when args.threads > 1 and the op moves at
// least kParallelMinBytes (below that, waking the pool costs more than the copy: see the bench
// figures in cache-test/check_cache.cpp --bench). A truncation whose source and destination
// ranges overlap moves its head in one unit, ascending (each source lies after its destination,
// so it is read before anything overwrites it). Summaries and lengths are written after the
// slots, per head, on the calling thread.
#include <cstdint>
#include <stdexcept>
#include <string>
#include "cache_policy_cpu.hpp"
#include "kvforge/cache_ops.hpp"
#include "kvforge/cache_slots.hpp"
#include "kvforge/cpu/thread_pool.hpp"

namespace kvf {
namespace {

using namespace kvf::slots;

constexpr int64_t kRowsPerUnit = 64;
constexpr int64_t kParallelMinBytes = int64_t(1) << 20;

[[noreturn]] void fail(const char* op, const std::string& why) {
  throw std::runtime_error(std::string("kvforge cpu: cache ") + op + ": " + why);
}

std::string headName(const CacheView& c, int64_t hd) {
  return "sequence " + std::to_string(hd / c.Hkv) + " head " + std::to_string(hd % c.Hkv);
}

// checkLen: whether the lengths must already be valid (not for the `to` of copyCache, which
// overwrites them).
void validateView(const CacheView& c, const char* op, const char* which = "cache", bool checkLen = true) {
  if (const char* why = shapeProblem(c))
    fail(op, std::string(which) + ": " + why + " (B " + std::to_string(c.B) + ", Hkv " + std::to_string(c.Hkv) +
                 ", D " + std::to_string(c.D) + ", Dv " + std::to_string(c.Dv) + ", capacity " +
                 std::to_string(c.capacity) + ", dtype " + std::to_string(int32_t(c.dtype)) + ")");
  for (int64_t hd = 0; checkLen && hd < heads(c); ++hd)
    if (c.len[hd] < 0 || c.len[hd] > c.capacity)
      fail(op, std::string(which) + ": " + headName(c, hd) + ": length " + std::to_string(c.len[hd]) +
                   " outside [0, capacity " + std::to_string(c.capacity) + "]");
}

// f(unit) over n units: on the pool when it pays, else on this thread.
template <class F>
void forUnits(int threads, int64_t n, int64_t bytes, F&& f) {
  if (threads > 1 && n > 1 && bytes >= kParallelMinBytes) {
    cpu::parallelFor(threads, n, [&](int64_t u, int) { f(u); });
  } else {
    for (int64_t u = 0; u < n; ++u) f(u);
  }
}

int64_t rowBytes(const CacheView& c) { return (c.D + c.Dv) * dtypeBytes(c.dtype) + 4; }
int64_t unitsPerHead(int64_t rows) { return rows <= 0 ? 0 : (rows - 1) / kRowsPerUnit + 1; }

// ---- append --------------------------------------------------------------------------------
template <DType T>
void appendAs(const AppendArgs& a) {
  const CacheView& c = a.cache;
  const int64_t H = heads(c), C = columns(c);
  int64_t maxCount = 0;
  for (int64_t b = 0; b < c.B; ++b) maxCount = max64(maxCount, a.count[b]);
  const int64_t per = unitsPerHead(maxCount);
  forUnits(a.threads, H * per, H * maxCount * rowBytes(c), [&](int64_t u) {
    const int64_t hd = u / per, b = hd / c.Hkv, h = hd % c.Hkv;
    const int64_t n = a.count[b], r0 = (u % per) * kRowsPerUnit, r1 = min64(r0 + kRowsPerUnit, n);
    const int64_t len0 = c.len[hd];
    for (int64_t r = r0; r < r1; ++r) appendColumns<T>(a, b, h, r, len0 + r, 0, C);
  });
  for (int64_t hd = 0; hd < H; ++hd) {
    const int64_t n = a.count[hd / c.Hkv];
    if (n <= 0) continue;
    const int64_t len0 = c.len[hd], len1 = appendedLength(len0, n, c.capacity);
    int64_t t0, t1;
    touchedEntries(len0, len1, t0, t1);
    for (int64_t t = t0; t < t1; ++t) recomputeEntry(c, hd, len1, t);
    c.len[hd] = int32_t(len1);
  }
}

void cpuAppend(const AppendArgs& a) {
  const CacheView& c = a.cache;
  validateView(c, "append");
  if (c.B == 0 || c.Hkv == 0) return;
  if (!a.start || !a.count) fail("append", "null start or count");
  bool any = false;
  for (int64_t b = 0; b < c.B; ++b) {
    const int64_t n = a.count[b];
    if (n < 0) fail("append", "sequence " + std::to_string(b) + ": count " + std::to_string(n) + " < 0");
    if (a.maxCount >= 0 && n > a.maxCount)
      fail("append", "sequence " + std::to_string(b) + ": count " + std::to_string(n) + " > maxCount " +
                         std::to_string(a.maxCount));
    if (n == 0) continue;
    any = true;
    if (a.start[b] < 0) fail("append", "sequence " + std::to_string(b) + ": start " + std::to_string(a.start[b]) + " < 0");
    for (int64_t h = 0; h < c.Hkv; ++h) {
      const int64_t len = c.len[b * c.Hkv + h];
      if (len + n > c.capacity)
        fail("append", headName(c, b * c.Hkv + h) + ": length " + std::to_string(len) + " + count " +
                           std::to_string(n) + " exceeds capacity " + std::to_string(c.capacity));
    }
  }
  if (!any) return;
  if (!a.positions || (c.D > 0 && !a.k) || (c.Dv > 0 && !a.v)) fail("append", "null k, v or positions");
  switch (c.dtype) {
    case DType::F32: return appendAs<DType::F32>(a);
    case DType::F16: return appendAs<DType::F16>(a);
    case DType::BF16: return appendAs<DType::BF16>(a);
  }
}

// ---- truncate ------------------------------------------------------------------------------
template <class E>
void truncateAs(const TruncateArgs& a) {
  const CacheView& c = a.cache;
  const int64_t H = heads(c), C = columns(c);
  const int64_t per = unitsPerHead(c.capacity);
  int64_t moved = 0;
  for (int64_t hd = 0; hd < H; ++hd)
    if (truncateChanges(c.len[hd], a.keep[hd])) moved += a.keep[hd];
  forUnits(a.threads, H * per, moved * rowBytes(c), [&](int64_t u) {
    const int64_t hd = u / per, part = u % per;
    const int64_t len = c.len[hd], keep = a.keep[hd];
    if (!truncateChanges(len, keep)) return;
    const int64_t shift = truncateShift(len, keep);
    int64_t d0 = part * kRowsPerUnit, d1 = min64(d0 + kRowsPerUnit, keep);
    if (truncateOverlaps(len, keep)) {  // one unit moves the whole head, ascending
      if (part != 0) return;
      d1 = keep;
    }
    for (int64_t d = d0; d < d1; ++d) copyColumns<E>(c, hd, d, c, hd, d + shift, 0, C);
  });
  const int64_t E_ = entriesPerHead(c);
  for (int64_t hd = 0; hd < H; ++hd) {
    const int64_t len = c.len[hd], keep = a.keep[hd];
    if (!truncateChanges(len, keep)) continue;
    for (int64_t t = 0; t < E_; ++t) recomputeEntry(c, hd, keep, t);
    c.len[hd] = int32_t(keep);
  }
}

void cpuTruncate(const TruncateArgs& a) {
  validateView(a.cache, "truncate");
  if (heads(a.cache) == 0) return;
  if (!a.keep) fail("truncate", "null keep");
  if (dtypeBytes(a.cache.dtype) == 4) return truncateAs<uint32_t>(a);
  truncateAs<uint16_t>(a);
}

// ---- copyCache -----------------------------------------------------------------------------
template <class E>
void copyAs(const CopyCacheArgs& a) {
  const CacheView &f = a.from, &t = a.to;
  const int64_t H = heads(f), C = columns(f);
  int64_t maxLen = 0, total = 0;
  for (int64_t hd = 0; hd < H; ++hd) {
    maxLen = max64(maxLen, f.len[hd]);
    total += f.len[hd];
  }
  const int64_t per = unitsPerHead(maxLen);
  forUnits(a.threads, H * per, total * rowBytes(f), [&](int64_t u) {
    const int64_t hd = u / per, s0 = (u % per) * kRowsPerUnit, s1 = min64(s0 + kRowsPerUnit, f.len[hd]);
    for (int64_t s = s0; s < s1; ++s) copyColumns<E>(t, hd, s, f, hd, s, 0, C);
  });
  const int64_t E_ = entriesPerHead(t);
  for (int64_t hd = 0; hd < H; ++hd) {
    const int64_t len = copiedLength(f.len[hd], t.capacity);
    for (int64_t e = 0; e < E_; ++e) recomputeEntry(t, hd, len, e);
    t.len[hd] = int32_t(len);
  }
}

void cpuCopyCache(const CopyCacheArgs& a) {
  validateView(a.from, "copyCache", "from");
  validateView(a.to, "copyCache", "to", false);
  const CacheView &f = a.from, &t = a.to;
  if (f.B != t.B || f.Hkv != t.Hkv || f.D != t.D || f.Dv != t.Dv || f.dtype != t.dtype)
    fail("copyCache", "from and to differ in B, Hkv, D, Dv or dtype");
  for (int64_t hd = 0; hd < heads(f); ++hd)
    if (f.len[hd] > t.capacity)
      fail("copyCache", headName(f, hd) + ": length " + std::to_string(f.len[hd]) + " exceeds the capacity " +
                            std::to_string(t.capacity) + " of `to`");
  if (heads(f) == 0) return;
  if (dtypeBytes(f.dtype) == 4) return copyAs<uint32_t>(a);
  copyAs<uint16_t>(a);
}

// ---- initEmpty -----------------------------------------------------------------------------
void cpuInitEmpty(const CacheView& c) {
  if (const char* why = shapeProblem(c)) fail("initEmpty", why);
  if (heads(c) == 0) return;
  const int64_t E_ = entriesPerHead(c);
  for (int64_t hd = 0; hd < heads(c); ++hd) {
    for (int64_t t = 0; t < E_; ++t) emptyEntry(c, hd, t);
    c.len[hd] = 0;
  }
}

const CacheOps kCpuCache{"cpu", cpuAppend, cpuTruncate, cpuCopyCache, cpuInitEmpty, cpucache::compact, cpucache::merge, cpucache::pyramid};

struct Registrar {
  Registrar() { registerCacheOps(&kCpuCache); }
} registrar;

}  // namespace
}  // namespace kvf
