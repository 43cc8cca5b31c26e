// Checks of the per-backend memory (MemoryOps) and the KV cache kernels (CacheOps) against a plain
// C++ model, no Node involved (run.sh builds it):
//   check_cache [--backend cpu|cuda-emu|cuda] ... [--seed S] [--cases N] [--quick]
//   check_cache --bench                (CPU timings: append one token per sequence, truncate)
// Default backends: cpu and cuda-emu (and cuda when it is compiled in and a device answers).
//
// Per backend and dtype (f32, f16, bf16): random cases (B 1..5, Hkv 1..4, D and Dv 1..130 with the
// odd and the warp-edge sizes favoured, capacity a multiple of 16 near the lengths), each a random
// sequence of operations: append chunks of random sizes to random subsets of sequences (rows in
// random order with gaps, counts up to filling a head), truncate (one keep per sequence or one per head: < 0, 0, 1, len - 1, len,
// > len, random), reset, grow (copyCache into a new cache of larger capacity, whose buffers hold
// garbage), re-initialise, and "diverge" (shorten single heads and write the summaries, as a
// compression policy will through the same view, so lengths become ragged per head). After every
// operation the whole device memory is downloaded and compared with the model: every element of K,
// V and positions (bits; also the slots past len, so a stray write is caught), the lengths, every
// summary entry (computed by the model from its own positions), and guard bytes past every buffer.
// Inputs mix ordinary values with NaN payloads, +-Inf, -0, subnormals, f16 overflow and exact
// rounding ties; the model rounds them with convert.hpp, and a fixed table checks hand-computed
// f16/bf16 bits through each backend's append. Then error paths and MemoryOps itself.
// A failure prints the backend, dtype, seed, case, operation and the first differing element,
// and exits 1.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kvforge/cache_ops.hpp"
#include "kvforge/cache_slots.hpp"
#include "kvforge/convert.hpp"
#include "kvforge/memory.hpp"

using namespace kvf;

namespace {

// ---- utilities -----------------------------------------------------------------------------
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int64_t in(int64_t lo, int64_t hi) { return lo + int64_t(next() % uint64_t(hi - lo + 1)); }  // [lo, hi]
  bool chance(double p) { return double(next() >> 11) * 0x1.0p-53 < p; }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[size_t(in(0, int64_t(v.size()) - 1))]; }
};

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string hex(uint32_t x) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", x);
  return b;
}

constexpr uint8_t kPattern = 0xA5;  // what fresh buffers hold (the model knows it)
constexpr uint8_t kGuard = 0x5A;    // the bytes past every buffer
constexpr size_t kGuardBytes = 256;

uint32_t storeBits(DType t, float x) {
  switch (t) {
    case DType::F32: return floatBits(x);
    case DType::F16: return floatToF16(x);
    case DType::BF16: return floatToBf16(x);
  }
  return 0;
}

// ---- device buffers ------------------------------------------------------------------------
struct Buf {
  const MemoryOps* mem = nullptr;
  void* p = nullptr;
  size_t bytes = 0;
  Buf() = default;
  Buf(const MemoryOps* m, size_t n) : mem(m), bytes(n) {
    p = mem->alloc(n + kGuardBytes);
    mem->fill(p, kPattern, n);
    mem->fill(static_cast<char*>(p) + n, kGuard, kGuardBytes);
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  Buf(Buf&& o) noexcept : mem(o.mem), p(o.p), bytes(o.bytes) { o.p = nullptr; }
  Buf& operator=(Buf&& o) noexcept {
    std::swap(mem, o.mem);
    std::swap(p, o.p);
    std::swap(bytes, o.bytes);
    return *this;
  }
  ~Buf() {
    if (mem) mem->release(p);
  }
  template <class T>
  T* as() const {
    return static_cast<T*>(p);
  }
  template <class T>
  void upload(const std::vector<T>& v) {
    if (v.size() * sizeof(T) > bytes) throw Failure("test bug: upload larger than its buffer");
    mem->upload(p, v.data(), v.size() * sizeof(T));
  }
  std::vector<uint8_t> download() const {  // the payload and the guard bytes
    std::vector<uint8_t> out(bytes + kGuardBytes);
    mem->download(out.data(), p, out.size());
    return out;
  }
};

// A cache in a backend's memory: one buffer per array.
struct DevCache {
  CacheView view;
  Buf k, v, pos, len, sumMin, sumMax;
  DevCache(const MemoryOps* mem, DType dt, int64_t B, int64_t Hkv, int64_t D, int64_t Dv, int64_t cap) {
    const size_t slots = size_t(B * Hkv * cap), heads = size_t(B * Hkv), entries = size_t(B * Hkv * (cap / kSummaryTile));
    k = Buf(mem, slots * size_t(D * dtypeBytes(dt)));
    v = Buf(mem, slots * size_t(Dv * dtypeBytes(dt)));
    pos = Buf(mem, slots * 4);
    len = Buf(mem, heads * 4);
    sumMin = Buf(mem, entries * 4);
    sumMax = Buf(mem, entries * 4);
    view.k = k.p;
    view.v = v.p;
    view.pos = pos.as<int32_t>();
    view.len = len.as<int32_t>();
    view.sumMin = sumMin.as<int32_t>();
    view.sumMax = sumMax.as<int32_t>();
    view.dtype = dt;
    view.B = B;
    view.Hkv = Hkv;
    view.D = D;
    view.Dv = Dv;
    view.capacity = cap;
  }
};

// ---- the model -----------------------------------------------------------------------------
struct Model {
  DType dt = DType::F32;
  int64_t B = 0, Hkv = 0, D = 0, Dv = 0, cap = 0;
  std::vector<uint32_t> k, v;  // stored bits, [hd][cap][D] / [Dv]
  std::vector<int32_t> pos;    // [hd][cap]
  std::vector<int32_t> len;    // [hd]; meaningful only once initialised (lenKnown)
  bool lenKnown = false;       // false: len/summary buffers still hold the fill pattern

  Model(DType t, int64_t b, int64_t hkv, int64_t d, int64_t dv, int64_t c) : dt(t), B(b), Hkv(hkv), D(d), Dv(dv), cap(c) {
    const uint32_t pat = dt == DType::F32 ? 0xA5A5A5A5u : 0xA5A5u;
    k.assign(size_t(B * Hkv * cap * D), pat);
    v.assign(size_t(B * Hkv * cap * Dv), pat);
    pos.assign(size_t(B * Hkv * cap), int32_t(0xA5A5A5A5u));
    len.assign(size_t(B * Hkv), 0);
  }
  int64_t heads() const { return B * Hkv; }
  int64_t maxLen() const { return len.empty() ? 0 : *std::max_element(len.begin(), len.end()); }
  int64_t seqMaxLen(int64_t b) const {
    int64_t m = 0;
    for (int64_t h = 0; h < Hkv; ++h) m = std::max<int64_t>(m, len[size_t(b * Hkv + h)]);
    return m;
  }
  void copySlot(int64_t hd, int64_t to, const Model& src, int64_t shd, int64_t from) {
    for (int64_t e = 0; e < D; ++e) k[size_t((hd * cap + to) * D + e)] = src.k[size_t((shd * src.cap + from) * D + e)];
    for (int64_t e = 0; e < Dv; ++e) v[size_t((hd * cap + to) * Dv + e)] = src.v[size_t((shd * src.cap + from) * Dv + e)];
    pos[size_t(hd * cap + to)] = src.pos[size_t(shd * src.cap + from)];
  }
  void summary(int64_t hd, int64_t t, int32_t& mn, int32_t& mx) const {
    mn = std::numeric_limits<int32_t>::max();
    mx = std::numeric_limits<int32_t>::min();
    for (int64_t s = t * 16; s < std::min<int64_t>(t * 16 + 16, len[size_t(hd)]); ++s) {
      mn = std::min(mn, pos[size_t(hd * cap + s)]);
      mx = std::max(mx, pos[size_t(hd * cap + s)]);
    }
  }
};

// One append's inputs, in host memory (the test uploads them).
struct AppendInput {
  std::vector<float> k, v;
  std::vector<int32_t> positions, start, count;
  int64_t maxCount = 0;
};

void modelAppend(Model& m, const AppendInput& in) {
  for (int64_t b = 0; b < m.B; ++b) {
    const int64_t n = in.count[size_t(b)];
    for (int64_t h = 0; h < m.Hkv; ++h) {
      const int64_t hd = b * m.Hkv + h;
      for (int64_t r = 0; r < n; ++r) {
        const int64_t src = in.start[size_t(b)] + r, slot = m.len[size_t(hd)] + r;
        for (int64_t e = 0; e < m.D; ++e)
          m.k[size_t((hd * m.cap + slot) * m.D + e)] = storeBits(m.dt, in.k[size_t((src * m.Hkv + h) * m.D + e)]);
        for (int64_t e = 0; e < m.Dv; ++e)
          m.v[size_t((hd * m.cap + slot) * m.Dv + e)] = storeBits(m.dt, in.v[size_t((src * m.Hkv + h) * m.Dv + e)]);
        m.pos[size_t(hd * m.cap + slot)] = in.positions[size_t(src)];
      }
      m.len[size_t(hd)] += int32_t(n);
    }
  }
}

void modelTruncate(Model& m, const std::vector<int32_t>& keep) {
  for (int64_t hd = 0; hd < m.heads(); ++hd) {
    const int64_t kp = keep[size_t(hd)], L = m.len[size_t(hd)];
    if (kp < 0 || kp >= L) continue;
    for (int64_t d = 0; d < kp; ++d) m.copySlot(hd, d, m, hd, d + L - kp);  // ascending: sources after destinations
    m.len[size_t(hd)] = int32_t(kp);
  }
}

// ---- comparing device memory with the model ------------------------------------------------
struct Checker {
  std::string where;  // backend, dtype, seed, case, op

  [[noreturn]] void fail(const std::string& what) const { throw Failure(where + ": " + what); }

  void guard(const std::vector<uint8_t>& bytes, size_t n, const char* name) const {
    for (size_t i = n; i < bytes.size(); ++i)
      if (bytes[i] != kGuard) fail(std::string("guard byte ") + std::to_string(i - n) + " past " + name + " overwritten");
  }

  void compare(const DevCache& dc, const Model& m) const {
    const CacheView& c = dc.view;
    if (c.capacity != m.cap) fail("test bug: capacities differ");
    const std::vector<uint8_t> k = dc.k.download(), v = dc.v.download(), pos = dc.pos.download(), len = dc.len.download(),
                               smin = dc.sumMin.download(), smax = dc.sumMax.download();
    guard(k, dc.k.bytes, "k");
    guard(v, dc.v.bytes, "v");
    guard(pos, dc.pos.bytes, "pos");
    guard(len, dc.len.bytes, "len");
    guard(smin, dc.sumMin.bytes, "sumMin");
    guard(smax, dc.sumMax.bytes, "sumMax");
    const size_t eb = size_t(dtypeBytes(m.dt));
    auto elem = [&](const std::vector<uint8_t>& buf, size_t i) {
      uint32_t x = 0;
      std::memcpy(&x, &buf[i * eb], eb);
      return x;
    };
    auto i32 = [](const std::vector<uint8_t>& buf, size_t i) {
      int32_t x;
      std::memcpy(&x, &buf[i * 4], 4);
      return x;
    };
    for (int64_t hd = 0; hd < m.heads(); ++hd) {
      const std::string head = "sequence " + std::to_string(hd / m.Hkv) + " head " + std::to_string(hd % m.Hkv);
      if (m.lenKnown && i32(len, size_t(hd)) != m.len[size_t(hd)])
        fail(head + ": len " + std::to_string(i32(len, size_t(hd))) + ", want " + std::to_string(m.len[size_t(hd)]));
      for (int64_t s = 0; s < m.cap; ++s) {
        const std::string slot = head + " slot " + std::to_string(s) + (s < m.len[size_t(hd)] ? "" : " (past len)");
        for (int64_t e = 0; e < m.D; ++e) {
          const size_t i = size_t((hd * m.cap + s) * m.D + e);
          if (elem(k, i) != m.k[i]) fail(slot + ": K[" + std::to_string(e) + "] bits " + hex(elem(k, i)) + ", want " + hex(m.k[i]));
        }
        for (int64_t e = 0; e < m.Dv; ++e) {
          const size_t i = size_t((hd * m.cap + s) * m.Dv + e);
          if (elem(v, i) != m.v[i]) fail(slot + ": V[" + std::to_string(e) + "] bits " + hex(elem(v, i)) + ", want " + hex(m.v[i]));
        }
        const size_t i = size_t(hd * m.cap + s);
        if (i32(pos, i) != m.pos[i])
          fail(slot + ": position " + std::to_string(i32(pos, i)) + ", want " + std::to_string(m.pos[i]));
      }
      if (!m.lenKnown) continue;
      for (int64_t t = 0; t < m.cap / 16; ++t) {
        int32_t mn, mx;
        m.summary(hd, t, mn, mx);
        const size_t i = size_t(hd * (m.cap / 16) + t);
        if (i32(smin, i) != mn || i32(smax, i) != mx)
          fail(head + ": summary entry " + std::to_string(t) + " [" + std::to_string(i32(smin, i)) + ", " +
               std::to_string(i32(smax, i)) + "], want [" + std::to_string(mn) + ", " + std::to_string(mx) + "]");
      }
    }
  }
};

// ---- random inputs -------------------------------------------------------------------------
float randomValue(Rng& rng) {
  const int64_t kind = rng.in(0, 99);
  if (kind < 70) return float(double(int64_t(rng.next() % 2000001) - 1000000) * 4e-6);  // [-4, 4]
  switch (kind % 15) {
    case 0: return bitsFloat(0x7fc00000u | uint32_t(rng.in(0, 0x3fffff)));           // quiet NaN with payload
    case 1: return bitsFloat(0xff800000u | uint32_t(rng.in(1, 0x3fffff)));           // signalling NaN, negative
    case 2: return rng.chance(0.5) ? INFINITY : -INFINITY;
    case 3: return -0.0f;
    case 4: return bitsFloat(uint32_t(rng.in(1, 0x7fffff)) | (rng.chance(0.5) ? 0x80000000u : 0));  // f32 subnormal
    case 5: return float(rng.in(65505, 70000)) * (rng.chance(0.5) ? 1.f : -1.f);  // f16 overflow
    case 6: return bitsFloat((uint32_t(rng.in(0x3f000000, 0x40800000)) & ~0xffffu) | 0x8000u);  // bf16 tie
    case 7: return bitsFloat((uint32_t(rng.in(0x38800000, 0x47000000)) & ~0x1fffu) | 0x1000u);  // f16 tie
    case 8: return bitsFloat(uint32_t(rng.in(0x33000000, 0x38800000)));  // f16 subnormal range
    case 9: return 3.4028235e38f;
    case 10: return 65504.f;
    case 11: return 65520.f;
    default: return bitsFloat(uint32_t(rng.next()));  // any bits
  }
}

AppendInput randomAppend(Rng& rng, const Model& m, bool fill = false) {
  AppendInput in;
  in.count.assign(size_t(m.B), 0);
  in.start.assign(size_t(m.B), 0);
  const double share = rng.chance(0.3) ? 1.0 : 0.6;
  for (int64_t b = 0; b < m.B; ++b) {
    const int64_t room = m.cap - m.seqMaxLen(b);
    if (room <= 0 || !(fill || rng.chance(share))) continue;
    int64_t n;
    switch (rng.in(0, 5)) {
      case 0: case 1: n = 1; break;                       // a decode step
      case 2: n = room; break;                            // fill the head exactly
      case 3: n = rng.in(1, std::min<int64_t>(room, 17)); break;
      default: n = rng.in(0, room); break;
    }
    in.count[size_t(b)] = int32_t(fill ? room : n);
  }
  // Rows of the sequences in random order, with random gaps between them.
  std::vector<int64_t> order(static_cast<size_t>(m.B));
  for (int64_t b = 0; b < m.B; ++b) order[size_t(b)] = b;
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[size_t(rng.in(0, int64_t(i) - 1))]);
  int64_t rows = rng.in(0, 2);
  for (int64_t b : order) {
    in.start[size_t(b)] = int32_t(rows);
    rows += in.count[size_t(b)] + rng.in(0, 2);
  }
  for (int64_t b = 0; b < m.B; ++b)
    if (in.count[size_t(b)] == 0 && rng.chance(0.5)) in.start[size_t(b)] = -7;  // ignored when count is 0
  in.k.resize(size_t(rows * m.Hkv * m.D));
  in.v.resize(size_t(rows * m.Hkv * m.Dv));
  for (float& x : in.k) x = randomValue(rng);
  for (float& x : in.v) x = randomValue(rng);
  in.positions.resize(size_t(rows));
  const bool ordered = rng.chance(0.7);
  for (int64_t r = 0; r < rows; ++r) {
    if (ordered) {
      in.positions[size_t(r)] = int32_t(1000 + r * 3);
    } else {
      switch (rng.in(0, 9)) {
        case 0: in.positions[size_t(r)] = std::numeric_limits<int32_t>::max(); break;
        case 1: in.positions[size_t(r)] = std::numeric_limits<int32_t>::min(); break;
        default: in.positions[size_t(r)] = int32_t(rng.in(-100000, 100000)); break;
      }
    }
  }
  for (int32_t n : in.count) in.maxCount = std::max<int64_t>(in.maxCount, n);
  return in;
}

// ---- one backend ---------------------------------------------------------------------------
struct Counts {
  int64_t cases = 0, ops = 0;
};

struct Backend {
  const char* name;
  const MemoryOps* mem;
  const CacheOps* ops;
};

// Runs one append on the device (arguments uploaded first, as the glue will).
void deviceAppend(const Backend& be, DevCache& dc, const AppendInput& in, int64_t maxCount, int threads) {
  Buf k(be.mem, std::max<size_t>(in.k.size(), 1) * 4), v(be.mem, std::max<size_t>(in.v.size(), 1) * 4),
      positions(be.mem, std::max<size_t>(in.positions.size(), 1) * 4), start(be.mem, in.start.size() * 4),
      count(be.mem, in.count.size() * 4);
  k.upload(in.k);
  v.upload(in.v);
  positions.upload(in.positions);
  start.upload(in.start);
  count.upload(in.count);
  AppendArgs a;
  a.cache = dc.view;
  a.k = k.as<float>();
  a.v = v.as<float>();
  a.positions = positions.as<int32_t>();
  a.start = start.as<int32_t>();
  a.count = count.as<int32_t>();
  a.maxCount = maxCount;
  a.threads = threads;
  be.ops->append(a);
}

void deviceTruncate(const Backend& be, DevCache& dc, const std::vector<int32_t>& keep, int threads) {
  Buf kb(be.mem, keep.size() * 4);
  kb.upload(keep);
  TruncateArgs a;
  a.cache = dc.view;
  a.keep = kb.as<int32_t>();
  a.threads = threads;
  be.ops->truncate(a);
}

std::string list(const std::vector<int32_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

int64_t pickDim(Rng& rng) {
  static const std::vector<int64_t> special = {1, 2, 3, 7, 31, 32, 33, 63, 64, 65, 127, 128, 129, 130};
  return rng.chance(0.5) ? rng.pick(special) : rng.in(1, 130);
}

// One random case: a cache and a sequence of operations, checked after each.
void runCase(const Backend& be, DType dt, uint64_t seed, int64_t caseIndex, Counts& counts, bool big) {
  Rng rng(seed * 1000003ull + uint64_t(caseIndex));
  const int64_t B = big ? 4 : rng.in(1, 5), Hkv = big ? 4 : rng.in(1, 4);
  const int64_t D = big ? 128 : pickDim(rng), Dv = big ? 128 : (rng.chance(0.3) ? D : pickDim(rng));
  int64_t cap = big ? 1024 : 16 * rng.in(1, rng.chance(0.7) ? 4 : 12);
  const int threads = be.name == std::string("cpu") && rng.chance(0.5) ? 2 : 1;
  Checker chk;
  const std::string base = std::string("backend ") + be.name + " dtype " + dtypeName(dt) + " seed " + std::to_string(seed) +
                           " case " + std::to_string(caseIndex) + " (B " + std::to_string(B) + ", Hkv " + std::to_string(Hkv) +
                           ", D " + std::to_string(D) + ", Dv " + std::to_string(Dv) + ", capacity " + std::to_string(cap) +
                           ", threads " + std::to_string(threads) + ")";
  auto dc = std::make_unique<DevCache>(be.mem, dt, B, Hkv, D, Dv, cap);
  Model m(dt, B, Hkv, D, Dv, cap);
  chk.where = base + " op 0 (initEmpty)";
  be.ops->initEmpty(dc->view);
  m.lenKnown = true;
  chk.compare(*dc, m);
  const int64_t nOps = big ? 4 : rng.in(6, 22);
  for (int64_t op = 1; op <= nOps; ++op) {
    // Big cases: fill, truncate without overlap, refill, truncate with overlap.
    const int64_t kind = big ? (op % 2 == 1 ? 0 : 50) : rng.in(0, 99);
    std::string what;
    if (kind < 45) {  // append
      const AppendInput in = randomAppend(rng, m, big);
      const int64_t maxCount = be.name == std::string("cpu") ? (rng.chance(0.5) ? -1 : in.maxCount)
                                                             : rng.pick(std::vector<int64_t>{-1, in.maxCount, in.maxCount + 3});
      what = "append count=" + list(in.count) + " start=" + list(in.start) + " maxCount=" + std::to_string(maxCount);
      chk.where = base + " op " + std::to_string(op) + " (" + what + ")";
      deviceAppend(be, *dc, in, maxCount, threads);
      modelAppend(m, in);
    } else if (kind < 70) {  // truncate
      // Per head: usually one keep for every head of a sequence, sometimes one per head (ragged heads).
      std::vector<int32_t> keep(static_cast<size_t>(B * Hkv));
      for (int64_t b = 0; b < B; ++b) {
        const bool perHead = rng.chance(0.3);
        int32_t seqKeep = 0;
        for (int64_t h = 0; h < Hkv; ++h) {
          const int64_t L = perHead ? m.len[size_t(b * Hkv + h)] : m.seqMaxLen(b);
          int32_t k = 0;
          switch (rng.in(0, 7)) {
            case 0: k = -1; break;
            case 1: k = 0; break;
            case 2: k = int32_t(std::max<int64_t>(L - 1, 0)); break;
            case 3: k = int32_t(L + rng.in(0, 3)); break;
            case 4: k = 1; break;
            default: k = int32_t(rng.in(0, std::max<int64_t>(L, 0))); break;
          }
          if (big) k = int32_t(op == 2 ? L / 4 : L * 2 / 3);  // no overlap, then overlap
          if (h == 0) seqKeep = k;
          keep[size_t(b * Hkv + h)] = perHead ? k : seqKeep;
        }
      }
      what = "truncate keep=" + list(keep);
      chk.where = base + " op " + std::to_string(op) + " (" + what + ")";
      deviceTruncate(be, *dc, keep, threads);
      modelTruncate(m, keep);
    } else if (kind < 75) {  // reset every sequence
      const std::vector<int32_t> keep(size_t(B * Hkv), 0);
      chk.where = base + " op " + std::to_string(op) + " (reset)";
      deviceTruncate(be, *dc, keep, threads);
      modelTruncate(m, keep);
    } else if (kind < 87) {  // grow
      const int64_t need = (m.maxLen() + 15) / 16 * 16;
      const int64_t newCap = rng.chance(0.15) ? std::max<int64_t>(need, 16) : cap + 16 * rng.in(1, 4);
      chk.where = base + " op " + std::to_string(op) + " (copyCache into capacity " + std::to_string(newCap) + ")";
      auto grown = std::make_unique<DevCache>(be.mem, dt, B, Hkv, D, Dv, newCap);
      Model g(dt, B, Hkv, D, Dv, newCap);
      if (rng.chance(0.3)) {
        be.ops->initEmpty(grown->view);
      }
      CopyCacheArgs a;
      a.from = dc->view;
      a.to = grown->view;
      a.threads = threads;
      be.ops->copyCache(a);
      g.lenKnown = true;
      g.len = m.len;
      for (int64_t hd = 0; hd < m.heads(); ++hd)
        for (int64_t s = 0; s < m.len[size_t(hd)]; ++s) g.copySlot(hd, s, m, hd, s);
      chk.compare(*dc, m);  // `from` unchanged
      dc = std::move(grown);
      m = std::move(g);
      cap = newCap;
    } else if (kind < 95) {  // diverge: shorten single heads, write their summaries (a policy's write)
      std::vector<int32_t> len = m.len;
      for (int64_t hd = 0; hd < m.heads(); ++hd)
        if (len[size_t(hd)] > 0 && rng.chance(0.4)) len[size_t(hd)] = int32_t(rng.in(0, len[size_t(hd)] - 1));
      m.len = len;
      std::vector<int32_t> smin(size_t(m.heads() * (cap / 16))), smax(smin.size());
      for (int64_t hd = 0; hd < m.heads(); ++hd)
        for (int64_t t = 0; t < cap / 16; ++t) m.summary(hd, t, smin[size_t(hd * (cap / 16) + t)], smax[size_t(hd * (cap / 16) + t)]);
      chk.where = base + " op " + std::to_string(op) + " (diverge len=" + list(len) + ")";
      dc->len.upload(len);
      dc->sumMin.upload(smin);
      dc->sumMax.upload(smax);
    } else {  // re-initialise
      chk.where = base + " op " + std::to_string(op) + " (initEmpty again)";
      be.ops->initEmpty(dc->view);
      std::fill(m.len.begin(), m.len.end(), 0);
    }
    chk.compare(*dc, m);
    ++counts.ops;
  }
  ++counts.cases;
}

// Hand-computed f16 / bf16 bits, stored through the backend's append.
void checkKnownBits(const Backend& be, Counts& counts) {
  struct Known {
    uint32_t in;
    uint16_t f16, bf16;
  };
  const std::vector<Known> table = {
      {0x3f800000u, 0x3c00, 0x3f80},  // 1
      {0xc0200000u, 0xc100, 0xc020},  // -2.5
      {0x3dcccccdu, 0x2e66, 0x3dcd},  // 0.1f
      {0x477fe000u, 0x7bff, 0x4780},  // 65504: largest f16; bf16 rounds up to 65536
      {0x477ff000u, 0x7c00, 0x4780},  // 65520: f16 overflows to inf; bf16 rounds up
      {0x3f808000u, 0x3c04, 0x3f80},  // 1.00390625: bf16 tie, to even (down)
      {0x3f818000u, 0x3c0c, 0x3f82},  // 1.01171875: bf16 tie, to even (up)
      {0x3f801000u, 0x3c00, 0x3f80},  // 1 + 2^-11: f16 tie, to even (down)
      {0x3f803000u, 0x3c02, 0x3f80},  // 1 + 3 * 2^-11: f16 tie, to even (up)
      {0x33800000u, 0x0001, 0x3380},  // 2^-24: smallest f16 subnormal
      {0x33000000u, 0x0000, 0x3300},  // 2^-25: f16 tie between 0 and 2^-24, to even (0)
      {0x80000000u, 0x8000, 0x8000},  // -0
      {0x7f800000u, 0x7c00, 0x7f80},  // +inf
      {0xff800000u, 0xfc00, 0xff80},  // -inf
      {0x7fc00000u, 0x7e00, 0x7fc0},  // quiet NaN
      {0x7f800001u, 0x7e00, 0x7fc0},  // signalling NaN: quieted
      {0x7f7fffffu, 0x7c00, 0x7f80},  // FLT_MAX: bf16 rounds to inf
      {0x00000001u, 0x0000, 0x0000},  // smallest f32 subnormal
  };
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    const int64_t D = int64_t(table.size());
    DevCache dc(be.mem, dt, 1, 1, D, 1, 16);
    be.ops->initEmpty(dc.view);
    AppendInput in;
    for (const Known& kn : table) in.k.push_back(bitsFloat(kn.in));
    in.v = {1.f};
    in.positions = {42};
    in.start = {0};
    in.count = {1};
    deviceAppend(be, dc, in, 1, 1);
    const std::vector<uint8_t> k = dc.k.download();
    for (size_t i = 0; i < table.size(); ++i) {
      uint32_t got = 0;
      std::memcpy(&got, &k[i * size_t(dtypeBytes(dt))], size_t(dtypeBytes(dt)));
      const uint32_t want = dt == DType::F32 ? table[i].in : dt == DType::F16 ? table[i].f16 : table[i].bf16;
      if (got != want)
        throw Failure(std::string("backend ") + be.name + " dtype " + dtypeName(dt) + ": f32 bits " + hex(table[i].in) +
                      " stored as " + hex(got) + ", hand-computed " + hex(want));
    }
    ++counts.ops;
  }
}

template <class F>
std::string thrown(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

void expectThrow(const std::string& what, const std::string& msg, std::initializer_list<const char*> needles) {
  if (msg.empty()) throw Failure(what + ": did not throw");
  for (const char* n : needles)
    if (msg.find(n) == std::string::npos) throw Failure(what + ": message '" + msg + "' lacks '" + n + "'");
}

// MemoryOps contract and the error paths of the cache ops.
void checkMemoryAndErrors(const Backend& be, Counts& counts) {
  const MemoryOps& mem = *be.mem;
  const std::string name = be.name;
  // alloc(0): valid, unique, aligned; release(nullptr) is fine.
  void* a = mem.alloc(0);
  void* b = mem.alloc(0);
  if (!a || !b || a == b) throw Failure(name + ": alloc(0) gave null or the same pointer twice");
  for (size_t n : {size_t(0), size_t(1), size_t(3), size_t(1000), size_t(1) << 20}) {
    void* p = mem.alloc(n);
    if (reinterpret_cast<uintptr_t>(p) % kMemoryAlignment != 0) throw Failure(name + ": alloc(" + std::to_string(n) + ") not 256-aligned");
    mem.release(p);
  }
  mem.release(a);
  mem.release(b);
  mem.release(nullptr);
  // upload / fill / copy / download round trip.
  std::vector<uint8_t> src(1000), back(1000);
  for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t(i * 7 + 1);
  void* p = mem.alloc(1000);
  void* q = mem.alloc(1000);
  mem.upload(p, src.data(), 1000);
  mem.fill(q, 0x3c, 1000);
  mem.copy(q, p, 500);
  mem.synchronize();
  mem.download(back.data(), q, 1000);
  for (size_t i = 0; i < 1000; ++i)
    if (back[i] != (i < 500 ? src[i] : 0x3c)) throw Failure(name + ": upload/fill/copy/download round trip wrong at byte " + std::to_string(i));
  mem.upload(p, src.data(), 0);  // zero bytes: no-ops
  mem.download(back.data(), p, 0);
  mem.copy(q, p, 0);
  mem.fill(q, 0, 0);
  mem.release(p);
  mem.release(q);
  // Allocation failure names the backend, the call and the byte count.
  const size_t huge = size_t(1) << 62;
  const std::string msg = thrown([&] { mem.release(mem.alloc(huge)); });
  if (name == "cpu") {
    expectThrow(name + " alloc(2^62)", msg, {"kvforge cpu", "4611686018427387904 bytes"});
  } else {
    expectThrow(name + " alloc(2^62)", msg, {("kvforge " + name + ": cudaMalloc").c_str(), "4611686018427387904 bytes", "cudaError"});
  }
  ++counts.ops;

  // Cache ops: a bad shape throws on every backend; the CPU's overflow checks leave the cache as it was.
  DevCache dc(be.mem, DType::F16, 2, 2, 5, 3, 32);
  // CacheView::slots(): the SlotView the attention kernels read addresses the same memory.
  const SlotView sv = dc.view.slots(7);
  if (sv.maxLen != 7 || sv.capacity != 32 || sv.dtype != DType::F16) throw Failure(name + ": slots() shape");
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h) {
      const int64_t hd = b * 2 + h;
      if (&sv.len[b * sv.lenStrideB + h * sv.lenStrideH] != &dc.view.len[hd] || slotPos(sv, b, h) != slots::posRow(dc.view, hd) ||
          &sv.sumMin[b * sv.sumStrideB + h * sv.sumStrideH] != slots::sumMinRow(dc.view, hd) ||
          &sv.sumMax[b * sv.sumStrideB + h * sv.sumStrideH] != slots::sumMaxRow(dc.view, hd))
        throw Failure(name + ": slots() addresses len, positions or summaries differently");
      for (int64_t s = 0; s < 32; ++s)
        if (slotK<uint16_t>(sv, b, h, s) != slots::keyRow<uint16_t>(dc.view, hd, s) ||
            slotV<uint16_t>(sv, b, h, s) != slots::valueRow<uint16_t>(dc.view, hd, s))
          throw Failure(name + ": slots() addresses K or V differently");
    }
  be.ops->initEmpty(dc.view);
  CacheView bad = dc.view;
  bad.capacity = 30;
  expectThrow(name + " initEmpty with capacity 30", thrown([&] { be.ops->initEmpty(bad); }), {"kvforge", name.c_str(), "multiple of"});
  bad = dc.view;
  bad.dtype = DType(7);
  TruncateArgs ta;
  ta.cache = bad;
  expectThrow(name + " truncate with dtype 7", thrown([&] { be.ops->truncate(ta); }), {"dtype"});
  if (name == "cpu") {
    Model m(DType::F16, 2, 2, 5, 3, 32);
    m.lenKnown = true;
    Rng rng(5);
    AppendInput in;
    in.count = {20, 13};
    in.start = {0, 20};
    in.maxCount = 20;
    in.k.resize(33 * 2 * 5);
    in.v.resize(33 * 2 * 3);
    in.positions.resize(33);
    for (float& x : in.k) x = randomValue(rng);
    for (float& x : in.v) x = randomValue(rng);
    for (int i = 0; i < 33; ++i) in.positions[size_t(i)] = i;
    deviceAppend(be, dc, in, 20, 1);
    modelAppend(m, in);
    Checker chk{"cpu error paths"};
    chk.compare(dc, m);
    in.count = {13, 2};  // sequence 0: 20 + 13 > 32
    expectThrow("cpu append past capacity", thrown([&] { deviceAppend(be, dc, in, 13, 1); }),
                {"kvforge cpu: cache append: sequence 0 head 0: length 20 + count 13 exceeds capacity 32"});
    chk.compare(dc, m);  // nothing written, not even sequence 1
    in.count = {2, 2};
    expectThrow("cpu append count > maxCount", thrown([&] { deviceAppend(be, dc, in, 1, 1); }), {"maxCount"});
    chk.compare(dc, m);
    DevCache small(be.mem, DType::F16, 2, 2, 5, 3, 16);
    CopyCacheArgs ca;
    ca.from = dc.view;
    ca.to = small.view;
    expectThrow("cpu copyCache into a cache too small", thrown([&] { be.ops->copyCache(ca); }), {"exceeds the capacity 16"});
    DevCache other(be.mem, DType::BF16, 2, 2, 5, 3, 64);
    ca.to = other.view;
    expectThrow("cpu copyCache across dtypes", thrown([&] { be.ops->copyCache(ca); }), {"differ"});
  }
  ++counts.ops;
}

// ---- bench ---------------------------------------------------------------------------------
double medianUs(std::vector<double>& t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void bench() {
  const Backend be{"cpu", findMemoryOps("cpu"), findCacheOps("cpu")};
  using clock = std::chrono::steady_clock;
  std::printf("check_cache --bench: cpu backend, Hkv 4, D = Dv = 64, median of many calls\n");
  for (DType dt : {DType::F32, DType::BF16}) {
    for (int64_t B : {1, 16}) {
      const int64_t cap = 4096;
      DevCache dc(be.mem, dt, B, 4, 64, 64, cap);
      be.ops->initEmpty(dc.view);
      AppendInput in;
      Rng rng(1);
      in.k.resize(size_t(B * 4 * 64));
      in.v.resize(in.k.size());
      for (float& x : in.k) x = randomValue(rng);
      for (float& x : in.v) x = randomValue(rng);
      in.positions.resize(size_t(B));
      in.start.resize(size_t(B));
      in.count.assign(size_t(B), 1);
      for (int64_t b = 0; b < B; ++b) in.start[size_t(b)] = int32_t(b);
      AppendArgs a;
      a.cache = dc.view;
      a.k = in.k.data();
      a.v = in.v.data();
      a.positions = in.positions.data();
      a.start = in.start.data();
      a.count = in.count.data();
      a.maxCount = 1;
      std::vector<int32_t> zero(size_t(B * 4), 0);
      TruncateArgs reset;
      reset.cache = dc.view;
      reset.keep = zero.data();
      std::vector<double> t;
      for (int rep = 0; rep < 20000; ++rep) {
        if (dc.view.len[0] == cap) be.ops->truncate(reset);
        const auto t0 = clock::now();
        be.ops->append(a);
        t.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count());
      }
      std::printf("  append 1 token per sequence, B %2" PRId64 ", %-4s: %7.2f us\n", B, dtypeName(dt), medianUs(t));
    }
  }
  for (DType dt : {DType::F32, DType::BF16}) {
    for (int64_t B : {1, 16}) {
      for (int threads : {1, 2}) {
        const int64_t cap = 4096;
        DevCache dc(be.mem, dt, B, 4, 64, 64, cap);
        be.ops->initEmpty(dc.view);
        for (int64_t i = 0; i < B * 4 * cap; ++i) dc.view.pos[i] = int32_t(i % cap);
        std::vector<int32_t> keep(size_t(B * 4), 1024);
        TruncateArgs a;
        a.cache = dc.view;
        a.keep = keep.data();
        a.threads = threads;
        std::vector<double> t;
        for (int rep = 0; rep < (B == 1 ? 201 : 41); ++rep) {
          for (int64_t hd = 0; hd < B * 4; ++hd) dc.view.len[hd] = int32_t(cap);  // full again (contents stale)
          const auto t0 = clock::now();
          be.ops->truncate(a);
          t.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count());
        }
        std::printf("  truncate %" PRId64 " -> 1024 slots, B %2" PRId64 ", %-4s, threads %d: %8.1f us (%.2f GB/s moved)\n", cap, B,
                    dtypeName(dt), threads, medianUs(t),
                    double(B * 4 * 1024 * (128 * dtypeBytes(dt) + 4)) * 2 / (medianUs(t) * 1e3));
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> backends;
  uint64_t seed = 20260601;
  int64_t cases = 40;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--bench") {
      bench();
      return 0;
    } else if (a == "--backend" && i + 1 < argc) {
      backends.push_back(argv[++i]);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--cases" && i + 1 < argc) {
      cases = std::atoll(argv[++i]);
    } else if (a == "--quick") {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: check_cache [--backend NAME]... [--seed S] [--cases N] [--quick] | --bench\n");
      return 2;
    }
  }
  if (backends.empty()) backends = {"cpu", "cuda-emu", "cuda"};
  if (findMemoryOps("no-such-backend") || findCacheOps("no-such-backend")) {
    std::printf("FAIL check_cache: an unknown backend name was found\n");
    return 1;
  }
  if (slots::gridBlocks(0, 256, 1 << 20) != 1 || slots::gridBlocks(int64_t(1) << 40, 256, 1 << 20) != (1u << 20) ||
      slots::gridBlocks(257, 256, 1 << 20) != 2 || slots::gridBlocks(int64_t(1) << 62, 1, 2147483647) != 2147483647u) {
    std::printf("FAIL check_cache: gridBlocks outside the launch limits\n");
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& name : backends) {
    Backend be{nullptr, findMemoryOps(name), findCacheOps(name)};
    if (!be.mem || !be.ops) {
      if (name == "cuda") continue;  // not compiled into this binary
      std::printf("FAIL check_cache: backend %s is not registered\n", name.c_str());
      return 1;
    }
    be.name = be.mem->backend;
    if (name == "cuda") {  // compiled in; is there a device?
      const std::string why = thrown([&] { be.mem->release(be.mem->alloc(16)); });
      if (!why.empty()) {
        if (why.find("kvforge cuda: cudaMalloc(16 bytes) failed: cudaError") == std::string::npos) {
          std::printf("FAIL check_cache: cuda alloc error '%s' does not name backend, call and error\n", why.c_str());
          return 1;
        }
        std::printf("check_cache cuda: registered, no device (%s): device checks skipped\n", why.c_str());
        continue;
      }
    }
    Counts counts;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      checkMemoryAndErrors(be, counts);
      checkKnownBits(be, counts);
      for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
        const int64_t n = quick ? std::max<int64_t>(cases / 4, 2) : cases;
        for (int64_t c = 0; c < n; ++c) runCase(be, dt, seed, c, counts, false);
        if (!quick) runCase(be, dt, seed, n, counts, true);  // large enough for the CPU's threads
      }
    } catch (const std::exception& e) {
      std::printf("FAIL check_cache: %s\n", e.what());
      return 1;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("check_cache %s: %" PRId64 " cases, %" PRId64 " checked operations passed (%.1f s)\n", be.name, counts.cases,
                counts.ops, s);
  }
  std::printf("check_cache: all passed (%.1f s)\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}
