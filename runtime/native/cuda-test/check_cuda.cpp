// Correctness check of the hand-written CUDA variants in kernels/*.cu against the float64
// reference (reference.hpp), through kernel interface v2 (kvforge/attn_args.hpp), for one backend:
//   check_cuda [backend] [seed]      backend "cuda-emu" (default) or "cuda" (a real GPU)
// The kernels are linked in as separate translation units (compiled by nvcc, or as host C++
// against the emulator) and found through the CUDA registry; the backend's memory and streams
// come from test_backend.cu, compiled the same two ways, so this file is the same for both.
//
// Every case lays out a logical problem (ragged rows per sequence, slots per (sequence, KV head))
// in the backend's memory in one of several layouts, calls the kernel, and compares every output
// element with the reference; elements the call must not write (padding between strided rows,
// rows of no sequence) must keep their poison. Covered:
// - shapes: decode (1 row per sequence; G * rows up to 32, one and several row slices, with and
//   without key splits) and prefill (rowCount 0, 1, a few and more than kTileQ per sequence);
//   slot lengths that differ per (sequence, KV head), some 0, maxLen 0, maxRows 0;
// - layouts: queries packed [totalRows, Hq, D] (plain and with padded strides) and the v1 layout
//   [B, Hq, Lq, D] with per-sequence positions; slots head-major, token-major (with lengths and
//   summaries laid out [Hkv][B]) and padded rows; views without summaries, and with null slot
//   pointers when there are no slots; the legacy stream and a created one;
// - positions: dense (each KV head keeps its last len tokens), gaps (each head keeps a random
//   subset), shuffled (non-monotonic within summary entries, chunks and query tiles);
// - NaN: K and V of every slot past len are NaN (and their positions admissible) in every case;
//   NaN in a masked slot; NaN in admitted slots;
// - classification: variants with classify() (each decode path), without (causal_plain), and
//   probes whose classify() overrides the mask (EMPTY / PARTIAL / FULL everywhere);
// - errors: an old argument version, a short struct, a wrong or invalid storage dtype, a wrong
//   head dim, misaligned strides (std::invalid_argument naming the values); a kernel needing more
//   shared memory than the device allows (std::runtime_error);
// - resources: warmed calls make no cudaMalloc (the emulator counts them), calls from two host
//   threads at once (the decode workspace lock), the backend's runtime API (device attributes).
// K/V are rounded to the kernel's storage dtype before the reference sees them (q is f32 and not
// rounded), so the tolerance measures the kernel, not the rounding.
// Tolerance (one table, by storage dtype): |out - ref| <= tol * max|ref out| of the case, and
// |lse - ref| <= tol * (1 + |ref|); empty rows exactly (+0, -inf); the NaN pattern exactly.
// Exits non-zero on the first failure, printing the case and seed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kvforge/attn_args.hpp"
#include "kvforge/convert.hpp"
#include "kvforge/cuda/registry.hpp"
#include "reference.hpp"
#include "test_backend.hpp"

using namespace kvf;
using namespace kvf::cudatest;

namespace {

const std::map<std::string, double> kTolerance = {{"f32", 1e-4}, {"f16", 2e-3}, {"bf16", 2e-2}};

struct Spec {
  std::string id;
  std::vector<double> params;
  MaskFn mask;
  ScoreFn score;  // empty = identity
  bool hasMask;
};

MaskFn causalMask() {
  return [](int64_t, int64_t, int64_t q, int64_t k) { return k <= q; };
}

std::vector<Spec> specs() {
  std::vector<Spec> s;
  auto all = [](int64_t, int64_t, int64_t, int64_t) { return true; };
  s.push_back({"causal_bf16_d128", {}, causalMask(), {}, true});
  for (double cap : {0.7, 5.0}) {
    auto sc = [cap](double x, int64_t, int64_t, int64_t, int64_t) { return cap * std::tanh(x / cap); };
    s.push_back({"softcap_f16_d64", {cap}, all, sc, false});
  }
  for (int64_t w : {3, 90}) {
    const double slope = 0.05;
    auto m = [w](int64_t, int64_t, int64_t q, int64_t k) { return k < 2 || (q - w < k && k <= q); };
    auto sc = [slope](double x, int64_t, int64_t h, int64_t q, int64_t k) {
      return x - double(float(slope)) * double(h + 1) * double(q - k);
    };
    s.push_back({"window_alibi_f32_d256", {double(w), slope}, m, sc, true});
  }
  for (int64_t w : {2, 40}) {
    auto m = [w](int64_t b, int64_t h, int64_t q, int64_t k) {
      return q - (1 + (h / 2) % 3) * w < k && k <= q - b;
    };
    s.push_back({"headwindow_f32_d64", {double(w)}, m, {}, true});
  }
  s.push_back({"causal_plain_f32_d64", {}, causalMask(), {}, true});
  return s;
}

// A batch: B sequences with rows[b] query rows each, Hkv KV heads; slot lengths maxLen for every
// (b, hk) unless ragged (then (0, 0) has maxLen, (0, 1) or (1, 0) has 0 when there are 3 or more
// pairs, the others random in [0, maxLen]).
struct Shape {
  int64_t B, Hq, Hkv;
  std::vector<int32_t> rows;
  int32_t maxLen;
  bool ragged;
};

// Decode is taken when G * maxRows <= 32, in slices of 4 rows (G * maxRows <= 4) or 16 (D = 64)
// / 8 rows; splits follow the device's SM count (run.sh runs the emulator at 2 and 132 SMs).
const std::vector<Shape> kShapes = {
    {1, 1, 1, {1}, 1, false},            {1, 2, 1, {1}, 37, false},          {3, 8, 2, {1, 1, 1}, 300, true},
    {2, 4, 4, {1, 0}, 100, true},        {1, 16, 2, {2}, 1000, true},        {4, 2, 1, {3, 0, 1, 4}, 260, true},
    {1, 8, 1, {4}, 513, false},          {1, 4, 1, {1}, 2100, false},        {2, 6, 3, {5, 2}, 64, true},
    {1, 2, 1, {1}, 0, false},            {2, 2, 1, {0, 0}, 50, false},       {3, 2, 1, {0, 1, 40}, 90, true},
    {2, 4, 2, {77, 5}, 77, true},        {1, 4, 4, {200}, 150, false},       {2, 8, 2, {130, 33}, 257, true},
    {1, 2, 1, {65}, 200, false},         {3, 2, 2, {33, 0, 20}, 31, true},   {2, 2, 1, {100, 3}, 0, false},
    {1, 2, 2, {40}, 90, false},
};

enum class QLayout { Packed, PackedPadded, V1 };
enum class KvLayout { HeadMajor, TokenMajor, Padded };
enum class Pos { Dense, Gaps, Shuffled };
const char* name(QLayout x) { return x == QLayout::Packed ? "packed" : x == QLayout::PackedPadded ? "packed-padded" : "v1"; }
const char* name(KvLayout x) { return x == KvLayout::HeadMajor ? "head-major" : x == KvLayout::TokenMajor ? "token-major" : "padded"; }
const char* name(Pos x) { return x == Pos::Dense ? "dense" : x == Pos::Gaps ? "gaps" : "shuffled"; }

struct Config {
  QLayout q;
  KvLayout kv;
  Pos pos;
  bool stream;
  bool noSummary;  // the view has no position summaries (every non-empty tile PARTIAL)
};
// The i-th of the combinations, in an order whose consecutive entries differ in the first four.
Config config(int i) {
  return Config{QLayout(i % 3), KvLayout((i / 3 + i) % 3), Pos((i / 9 + i) % 3), (i / 2 + i / 9) % 2 == 1, i % 7 == 3};
}

float randn(std::mt19937& rng) { return std::normal_distribution<float>(0.0f, 1.0f)(rng); }

// Rounds to the storage dtype: the raw value the device holds, and its widened value.
uint32_t storeBits(DType t, float x) {
  return t == DType::F16 ? Storage<DType::F16>::store(x) : t == DType::BF16 ? Storage<DType::BF16>::store(x) : floatBits(x);
}
float loadBits(DType t, uint32_t raw) {
  return t == DType::F16 ? f16ToFloat(uint16_t(raw)) : t == DType::BF16 ? bf16ToFloat(uint16_t(raw)) : bitsFloat(raw);
}
DType dtypeOf(const std::string& s) { return s == "f16" ? DType::F16 : s == "bf16" ? DType::BF16 : DType::F32; }

Problem makeProblem(const Shape& sh, int64_t D, Pos pos, DType dtype, std::mt19937& rng) {
  Problem p;
  p.B = sh.B, p.Hq = sh.Hq, p.Hkv = sh.Hkv, p.D = D, p.scale = 1.0 / std::sqrt(double(D));
  p.rows = sh.rows;
  p.firstRow.assign(size_t(sh.B), 0);
  for (int64_t b = 1; b < sh.B; ++b) p.firstRow[b] = p.firstRow[b - 1] + sh.rows[b - 1];
  p.capacity = (std::max<int64_t>(sh.maxLen, 1) + 5 + kSummaryTile - 1) / kSummaryTile * kSummaryTile;
  p.len.assign(size_t(sh.B * sh.Hkv), sh.maxLen);
  if (sh.ragged) {
    for (size_t i = 1; i < p.len.size(); ++i) p.len[i] = int32_t(rng() % uint32_t(sh.maxLen + 1));
    if (p.len.size() >= 3) p.len[1] = 0;
  }
  const int64_t rowsTotal = p.totalRows();
  p.q.resize(size_t(rowsTotal * sh.Hq * D));
  for (float& x : p.q) x = 2.0f * randn(rng);  // sharper scores: weights over many orders of magnitude
  p.qpos.resize(size_t(rowsTotal));
  p.k.assign(size_t(sh.B * sh.Hkv * p.capacity * D), NAN);  // slots past len stay NaN
  p.v.assign(p.k.size(), NAN);
  p.pos.assign(size_t(sh.B * sh.Hkv * p.capacity), 0);
  for (int64_t b = 0; b < sh.B; ++b) {
    int32_t T = 0;  // tokens of sequence b: its longest head holds them all
    for (int64_t hk = 0; hk < sh.Hkv; ++hk) T = std::max(T, p.len[size_t(b * sh.Hkv + hk)]);
    std::vector<int32_t> tokenPos(static_cast<size_t>(T));  // the position of every token of b
    int32_t at = pos == Pos::Gaps ? 3 : 0;
    for (int32_t t = 0; t < T; ++t) tokenPos[t] = pos == Pos::Gaps ? (at += 1 + int32_t(rng() % 3)) : t;
    const int32_t end = T == 0 ? 0 : tokenPos[size_t(T - 1)] + 1;
    for (int64_t hk = 0; hk < sh.Hkv; ++hk) {
      const int32_t n = p.len[size_t(b * sh.Hkv + hk)];
      std::vector<int32_t> kept(tokenPos.end() - n, tokenPos.end());  // dense, shuffled: the last n
      if (pos == Pos::Gaps) {  // a random subset, in order
        std::vector<int32_t> idx(static_cast<size_t>(T));
        std::iota(idx.begin(), idx.end(), 0);
        std::shuffle(idx.begin(), idx.end(), rng);
        idx.resize(size_t(n));
        std::sort(idx.begin(), idx.end());
        for (int32_t j = 0; j < n; ++j) kept[size_t(j)] = tokenPos[size_t(idx[size_t(j)])];
      }
      if (pos == Pos::Shuffled)  // within groups of 24 slots: across summary entries and chunks
        for (int32_t j = 0; j < n; j += 24) std::shuffle(kept.begin() + j, kept.begin() + std::min(n, j + 24), rng);
      for (int64_t s = 0; s < p.capacity; ++s)
        p.pos[p.slot(b, hk, s)] = s < n ? kept[size_t(s)] : -1000 - int32_t(s);  // past len: admissible-looking
      for (int64_t s = 0; s < n; ++s)
        for (int64_t d = 0; d < D; ++d) {
          const size_t e = p.slot(b, hk, s) * size_t(D) + size_t(d);
          p.k[e] = loadBits(dtype, storeBits(dtype, randn(rng)));
          p.v[e] = loadBits(dtype, storeBits(dtype, randn(rng)));
        }
    }
    const int32_t nr = sh.rows[b];
    int32_t qa = end - nr;  // bottom-right aligned
    for (int32_t i = 0; i < nr; ++i)
      p.qpos[size_t(p.firstRow[b] + i)] = pos == Pos::Gaps ? (qa += 1 + int32_t(rng() % 2)) - 1 : end - nr + i;
    if (pos == Pos::Shuffled)  // within groups of 5 rows: non-monotonic inside query tiles
      for (int32_t i = 0; i < nr; i += 5)
        std::shuffle(p.qpos.begin() + p.firstRow[b] + i, p.qpos.begin() + p.firstRow[b] + std::min(nr, i + 5), rng);
  }
  return p;
}

// One device buffer (freed by the destructor).
class DeviceBuffer {
 public:
  DeviceBuffer(const TestBackend& be, size_t bytes) : be_(be), bytes_(bytes), ptr_(be.alloc(bytes)) {}
  ~DeviceBuffer() { be_.release(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <class T>
  void upload(const std::vector<T>& host) {
    if (!host.empty()) be_.upload(ptr_, host.data(), host.size() * sizeof(T));
  }
  template <class T>
  std::vector<T> download(size_t n) const {
    std::vector<T> host(n);
    if (n) be_.download(host.data(), ptr_, n * sizeof(T));
    return host;
  }
  void* get() const { return ptr_; }

 private:
  const TestBackend& be_;
  size_t bytes_;
  void* ptr_;
};

const float kPoison = 12345.0f;  // every element the call must not write keeps it

// A problem laid out in device memory, with the AttnArgs that describe it.
struct Laid {
  AttnArgs a;
  std::vector<std::unique_ptr<DeviceBuffer>> bufs;
  size_t outElems = 0, lseElems = 0;
  DeviceBuffer* out = nullptr;
  DeviceBuffer* lse = nullptr;
  void* stream = nullptr;
  const TestBackend* be = nullptr;
  ~Laid() {
    if (stream) be->destroyStream(stream);
  }
  // Element offsets of (b, h, row i of b): the contract's formulas, attn_args.hpp.
  int64_t outAt(int64_t b, int64_t h, int64_t i) const {
    return int64_t(rowStartHost[b] + i) * a.oStrideRow + b * a.oStrideB + h * a.oStrideH;
  }
  int64_t lseAt(int64_t b, int64_t h, int64_t i) const {
    return int64_t(rowStartHost[b] + i) * a.lseStrideRow + b * a.lseStrideB + h * a.lseStrideH;
  }
  std::vector<int32_t> rowStartHost;

  template <class T>
  T* put(const std::vector<T>& host) {
    bufs.push_back(std::make_unique<DeviceBuffer>(*be, std::max<size_t>(host.size(), 1) * sizeof(T)));
    bufs.back()->upload(host);
    return static_cast<T*>(bufs.back()->get());
  }
};

std::unique_ptr<Laid> layOut(const TestBackend& be, const Problem& p, DType dtype, const Config& c) {
  auto L = std::make_unique<Laid>();
  L->be = &be;
  AttnArgs& a = L->a;
  const int64_t B = p.B, Hq = p.Hq, Hkv = p.Hkv, D = p.D, cap = p.capacity, rowsTotal = p.totalRows();
  const int64_t maxRows = B ? *std::max_element(p.rows.begin(), p.rows.end()) : 0;
  a.B = B, a.Hq = Hq, a.maxRows = maxRows, a.totalRows = rowsTotal, a.scale = p.scale;

  // Queries, positions, outputs.
  int64_t qElems = 0, posElems = 0;
  L->rowStartHost.assign(size_t(B), 0);
  if (c.q == QLayout::V1) {  // [B, Hq, Lq, D], positions [B][Lq]
    const int64_t Lq = maxRows;
    a.qStrideB = Hq * Lq * D, a.qStrideH = Lq * D, a.qStrideRow = D;
    a.oStrideB = a.qStrideB, a.oStrideH = a.qStrideH, a.oStrideRow = a.qStrideRow;
    a.lseStrideB = Hq * Lq, a.lseStrideH = Lq, a.lseStrideRow = 1;
    a.qposStrideB = Lq;
    qElems = B * Hq * Lq * D, posElems = B * Lq;
    L->outElems = size_t(qElems), L->lseElems = size_t(B * Hq * Lq);
  } else {  // [totalRows, Hq, D] (padded: extra floats after every head and row)
    const bool pad = c.q == QLayout::PackedPadded;
    for (int64_t b = 0; b < B; ++b) L->rowStartHost[b] = int32_t(p.firstRow[b]);
    a.qStrideB = 0, a.qStrideH = pad ? D + 4 : D, a.qStrideRow = Hq * a.qStrideH + (pad ? 8 : 0);
    a.oStrideB = 0, a.oStrideH = pad ? D + 3 : D, a.oStrideRow = Hq * a.oStrideH + (pad ? 5 : 0);
    a.lseStrideB = 0, a.lseStrideH = pad ? 2 : 1, a.lseStrideRow = Hq * a.lseStrideH + (pad ? 1 : 0);
    a.qposStrideB = 0;
    qElems = rowsTotal * a.qStrideRow, posElems = rowsTotal;
    L->outElems = size_t(rowsTotal * a.oStrideRow), L->lseElems = size_t(rowsTotal * a.lseStrideRow);
  }
  std::vector<float> q(size_t(qElems), NAN);  // unread padding is NaN
  std::vector<int32_t> qpos(size_t(posElems), INT32_MIN);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < p.rows[b]; ++i) {
      const int64_t row = L->rowStartHost[b] + i, lrow = p.firstRow[b] + i;
      qpos[size_t(row + b * a.qposStrideB)] = p.qpos[size_t(lrow)];
      for (int64_t h = 0; h < Hq; ++h)
        std::memcpy(&q[size_t(row * a.qStrideRow + b * a.qStrideB + h * a.qStrideH)], &p.q[size_t((lrow * Hq + h) * D)],
                    size_t(D) * sizeof(float));
    }
  a.rowStart = L->put(L->rowStartHost);
  a.rowCount = L->put(p.rows);
  a.q = L->put(q);
  a.qpos = L->put(qpos);
  a.out = L->put(std::vector<float>(L->outElems, kPoison));
  L->out = L->bufs.back().get();
  a.lse = L->put(std::vector<float>(L->lseElems, kPoison));
  L->lse = L->bufs.back().get();

  // Slots.
  SlotView& kv = a.kv;
  kv.dtype = dtype, kv.B = B, kv.Hkv = Hkv, kv.D = D, kv.Dv = D, kv.capacity = cap;
  kv.maxLen = p.len.empty() ? 0 : *std::max_element(p.len.begin(), p.len.end());
  int64_t ldS = D, ldH = cap * D, ldB = Hkv * cap * D;
  if (c.kv == KvLayout::TokenMajor) ldS = Hkv * D, ldH = D, ldB = cap * Hkv * D;
  if (c.kv == KvLayout::Padded) ldS = D + 8, ldH = cap * (D + 8) + 16, ldB = Hkv * ldH + 32;
  kv.kStrideB = kv.vStrideB = ldB, kv.kStrideH = kv.vStrideH = ldH, kv.kStrideS = kv.vStrideS = ldS;
  const size_t slotElems = size_t(B * ldB);
  const size_t eb = size_t(dtypeBytes(dtype));
  std::vector<uint8_t> kraw(slotElems * eb), vraw(slotElems * eb);
  const auto put = [&](std::vector<uint8_t>& raw, size_t at, float x) {
    const uint32_t bits = storeBits(dtype, x);
    std::memcpy(&raw[at * eb], &bits, eb);  // little-endian: the low bytes
  };
  for (size_t e = 0; e < slotElems; ++e) put(kraw, e, NAN), put(vraw, e, NAN);  // padding, past len
  for (int64_t b = 0; b < B; ++b)
    for (int64_t hk = 0; hk < Hkv; ++hk)
      for (int64_t s = 0; s < cap; ++s)
        for (int64_t d = 0; d < D; ++d) {
          const size_t at = size_t(b * ldB + hk * ldH + s * ldS + d), e = p.slot(b, hk, s) * size_t(D) + size_t(d);
          put(kraw, at, p.k[e]), put(vraw, at, p.v[e]);
        }
  kv.k = L->put(kraw), kv.v = L->put(vraw);
  kv.posStrideB = Hkv * cap, kv.posStrideH = cap;
  kv.pos = L->put(p.pos);
  // Lengths and summaries: [B][Hkv], or [Hkv][B] with the token-major slots.
  const int64_t nE = cap / kSummaryTile;
  const bool hFirst = c.kv == KvLayout::TokenMajor;
  kv.lenStrideB = hFirst ? 1 : Hkv, kv.lenStrideH = hFirst ? B : 1;
  kv.sumStrideB = hFirst ? nE : Hkv * nE, kv.sumStrideH = hFirst ? B * nE : nE;
  std::vector<int32_t> len(size_t(B * Hkv)), smin(size_t(B * Hkv * nE)), smax(smin.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t hk = 0; hk < Hkv; ++hk) {
      const int32_t n = p.len[size_t(b * Hkv + hk)];
      len[size_t(b * kv.lenStrideB + hk * kv.lenStrideH)] = n;
      for (int64_t e = 0; e < nE; ++e) {
        int32_t lo = INT32_MAX, hi = INT32_MIN;  // the empty entry (cache_ops.hpp)
        for (int64_t s = e * kSummaryTile; s < std::min<int64_t>(n, (e + 1) * kSummaryTile); ++s)
          lo = std::min(lo, p.pos[p.slot(b, hk, s)]), hi = std::max(hi, p.pos[p.slot(b, hk, s)]);
        smin[size_t(b * kv.sumStrideB + hk * kv.sumStrideH + e)] = lo;
        smax[size_t(b * kv.sumStrideB + hk * kv.sumStrideH + e)] = hi;
      }
    }
  kv.len = L->put(len);
  kv.sumMin = L->put(smin), kv.sumMax = L->put(smax);
  if (c.noSummary) kv.sumMin = kv.sumMax = nullptr;
  if (kv.maxLen == 0) kv.k = kv.v = nullptr, kv.pos = kv.sumMin = kv.sumMax = nullptr;  // nothing to read
  if (c.stream) a.stream = L->stream = be.createStream();
  return L;
}

std::atomic<int> failures{0};
std::map<std::string, double> worstOut, worstLse;  // by dtype: largest error / scale seen
std::mutex compareMutex;                           // compare() from several threads (checkConcurrent)

bool nanOrInfMatch(double got, double want, bool& decided) {
  decided = std::isnan(want) || std::isnan(got) || std::isinf(want) || std::isinf(got);
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  return got == want;
}

bool samebits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Compares every written element with the reference, and every other element with the poison.
// mayBeNaN (optional, per logical row and head): the row admits a NaN value whose weight
// underflows (see checkAdmittedNaN); its output may then be NaN as well as the reference's.
void compare(const std::string& what, const std::string& dtype, const Problem& p, const Laid& L,
             const std::vector<double>& out, const std::vector<double>& lse, const std::vector<char>& mayBeNaN = {}) {
  std::lock_guard<std::mutex> lock(compareMutex);
  const double tol = kTolerance.at(dtype);
  const std::vector<float> kout = L.out->download<float>(L.outElems), klse = L.lse->download<float>(L.lseElems);
  std::vector<char> wroteOut(kout.size()), wroteLse(klse.size());
  double outScale = 0;
  for (double x : out)
    if (std::isfinite(x)) outScale = std::max(outScale, std::fabs(x));
  outScale = std::max(outScale, 1e-30);
  const auto fail = [&](const std::string& msg) {
    std::printf("FAIL %s: %s\n", what.c_str(), msg.c_str());
    ++failures;
  };
  char buf[256];
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t i = 0; i < p.rows[b]; ++i)
      for (int64_t h = 0; h < p.Hq; ++h) {
        const size_t ref = size_t((p.firstRow[b] + i) * p.Hq + h);
        const size_t la = size_t(L.lseAt(b, h, i));
        wroteLse[la] = 1;
        const double got = klse[la], want = lse[ref];
        const bool empty = want == -INFINITY;
        bool decided;
        bool ok = nanOrInfMatch(got, want, decided);
        const double lerr = decided ? 0 : std::fabs(got - want) / (1 + std::fabs(want));
        if (!decided) ok = lerr <= tol;
        if (!ok) {
          std::snprintf(buf, sizeof buf, "lse[b %lld, h %lld, row %lld] = %.9g, reference %.9g", (long long)b,
                        (long long)h, (long long)i, got, want);
          return fail(buf);
        }
        worstLse[dtype] = std::max(worstLse[dtype], lerr);
        for (int64_t c = 0; c < p.D; ++c) {
          const size_t oa = size_t(L.outAt(b, h, i) + c);
          wroteOut[oa] = 1;
          const float o = kout[oa];
          const double w = out[ref * size_t(p.D) + size_t(c)];
          if (empty) {
            ok = o == 0.0f && !std::signbit(o);
          } else {
            ok = nanOrInfMatch(o, w, decided);
            if (!mayBeNaN.empty() && mayBeNaN[ref] && std::isnan(o)) ok = decided = true;
            if (!decided) {
              const double err = std::fabs(o - w) / outScale;
              ok = err <= tol;
              worstOut[dtype] = std::max(worstOut[dtype], err);
            }
          }
          if (!ok) {
            std::snprintf(buf, sizeof buf, "out[b %lld, h %lld, row %lld, col %lld] = %.9g, reference %.9g (scale %.3g)",
                          (long long)b, (long long)h, (long long)i, (long long)c, o, w, outScale);
            return fail(buf);
          }
        }
      }
  for (size_t e = 0; e < kout.size(); ++e)
    if (!wroteOut[e] && !samebits(kout[e], kPoison)) {
      std::snprintf(buf, sizeof buf, "out element %zu (no row's) was written: %.9g", e, kout[e]);
      return fail(buf);
    }
  for (size_t e = 0; e < klse.size(); ++e)
    if (!wroteLse[e] && !samebits(klse[e], kPoison)) {
      std::snprintf(buf, sizeof buf, "lse element %zu (no row's) was written: %.9g", e, klse[e]);
      return fail(buf);
    }
}

std::string describe(const Spec& s, const Shape& sh, const Config& c, const std::string& backend, unsigned seed) {
  std::string rows;
  for (int32_t n : sh.rows) rows += (rows.empty() ? "" : ",") + std::to_string(n);
  char buf[400];
  std::snprintf(buf, sizeof buf, "%s%s B=%lld Hq=%lld Hkv=%lld rows={%s} maxLen=%d%s q=%s kv=%s%s pos=%s stream=%s backend=%s seed=%u",
                s.id.c_str(), s.params.empty() ? "" : ("(" + std::to_string(s.params[0]) + ")").c_str(),
                (long long)sh.B, (long long)sh.Hq, (long long)sh.Hkv, rows.c_str(), sh.maxLen,
                sh.ragged ? " ragged" : "", name(c.q), name(c.kv), c.noSummary ? " (no summaries)" : "", name(c.pos),
                c.stream ? "created" : "legacy",
                backend.c_str(), seed);
  return buf;
}

int cases = 0;

void runCase(const TestBackend& be, const CudaKernel& kern, const Spec& s, const Problem& p, const Config& c,
             const std::string& what, const MaskFn& mask, const std::vector<char>& mayBeNaN = {}) {
  auto L = layOut(be, p, dtypeOf(kern.storage), c);
  kern.fn(L->a, s.params.data());
  std::vector<double> out, lse;
  referenceForward(p, mask, s.score, out, lse);
  compare(what, kern.storage, p, *L, out, lse, mayBeNaN);
  ++cases;
}

// AttnArgs v3 as well: a per-slot bias in [0, ln 8) (what countBias adds for counts up to 8) and
// the attention-mass output, which adds to what the buffer holds (0.5 per live slot here) and
// leaves every slot past a head's length untouched (777 there). Out and lse as runCase checks
// them; the mass against the reference within the dtype's tolerance of 1 + |mass|.
void runExtrasCase(const TestBackend& be, const CudaKernel& kern, const Spec& s, const Problem& p, const Config& c,
                   const std::string& what, std::mt19937& rng) {
  auto L = layOut(be, p, dtypeOf(kern.storage), c);
  const size_t nSlots = size_t(p.B * p.Hkv * p.capacity);
  std::vector<float> bias(nSlots), mass(nSlots);
  std::vector<double> biasRef(nSlots);
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t hk = 0; hk < p.Hkv; ++hk)
      for (int64_t j = 0; j < p.capacity; ++j) {
        const bool live = j < p.len[size_t(b * p.Hkv + hk)];
        const size_t at = p.slot(b, hk, j);
        bias[at] = live ? std::log(1.0f + float(rng() % 8)) : NAN;
        biasRef[at] = bias[at];
        mass[at] = live ? 0.5f : 777.0f;
      }
  AttnArgs& a = L->a;
  a.bias = L->put(bias), a.biasStrideB = p.Hkv * p.capacity, a.biasStrideH = p.capacity;
  a.mass = L->put(mass), a.massStrideB = p.Hkv * p.capacity, a.massStrideH = p.capacity;
  DeviceBuffer* massBuf = L->bufs.back().get();
  kern.fn(a, s.params.data());
  std::vector<double> out, lse, rm;
  referenceForward(p, s.mask, s.score, out, lse, &biasRef, &rm);
  compare(what + " [bias and mass]", kern.storage, p, *L, out, lse);
  const std::vector<float> got = massBuf->download<float>(nSlots);
  const double tol = kTolerance.at(kern.storage);
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t hk = 0; hk < p.Hkv; ++hk)
      for (int64_t j = 0; j < p.capacity; ++j) {
        const size_t at = p.slot(b, hk, j);
        const bool live = j < p.len[size_t(b * p.Hkv + hk)];
        const double want = live ? 0.5 + rm[at] : 777.0;
        const double g = got[at];
        const bool ok = std::isnan(want) ? std::isnan(g) : std::fabs(g - want) <= tol * (1 + std::fabs(want));
        if (!ok) {
          std::printf("FAIL %s [bias and mass]: mass of (b %lld, hk %lld, slot %lld) is %.9g, reference %.9g\n", what.c_str(),
                      (long long)b, (long long)hk, (long long)j, g, want);
          ++failures;
          return;
        }
      }
  ++cases;
}

// NaN in the newest slot of every (b, hk) (masked for earlier rows by causal-like masks): rows that
// mask it are unchanged, rows that admit it turn NaN exactly where the reference does.
void checkMaskedNaN(const TestBackend& be, const CudaKernel& kern, const Spec& s, Problem p, const Config& c,
                    const std::string& what) {
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t hk = 0; hk < p.Hkv; ++hk) {
      const int32_t n = p.len[size_t(b * p.Hkv + hk)];
      if (n == 0) continue;
      int64_t newest = 0;
      for (int64_t j = 1; j < n; ++j)
        if (p.pos[p.slot(b, hk, j)] > p.pos[p.slot(b, hk, newest)]) newest = j;
      const size_t e = p.slot(b, hk, newest) * size_t(p.D);
      p.k[e] = NAN;
      for (int64_t d = 0; d < p.D; ++d) p.v[e + size_t(d)] = NAN;
    }
  runCase(be, kern, s, p, c, what + " [NaN in the newest slot]", s.mask);
}

// NaN in the value of slot 0 and in the key of slot len/2: exactly the rows admitting them change.
// One latitude: the reference drops a key whose weight is below 2^-126 of the row's FINAL maximum
// (the kernels' documented underflow rule), but an online softmax compares with the RUNNING
// maximum, so a NaN value met early, while the maximum was still low, has already entered the
// accumulator (the CPU kernels do the same). Rows that admit slot 0 may therefore output NaN.
void checkAdmittedNaN(const TestBackend& be, const CudaKernel& kern, const Spec& s, Problem p, const Config& c,
                      const std::string& what) {
  const int64_t G = p.Hq / p.Hkv;
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t hk = 0; hk < p.Hkv; ++hk) {
      const int32_t n = p.len[size_t(b * p.Hkv + hk)];
      if (n == 0) continue;
      p.v[p.slot(b, hk, 0) * size_t(p.D)] = NAN;
      p.k[p.slot(b, hk, n / 2) * size_t(p.D)] = NAN;
    }
  std::vector<char> mayBeNaN(size_t(p.totalRows() * p.Hq));
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t i = 0; i < p.rows[b]; ++i)
      for (int64_t h = 0; h < p.Hq; ++h) {
        const int64_t hk = h / G, row = p.firstRow[b] + i;
        if (p.len[size_t(b * p.Hkv + hk)] > 0)
          mayBeNaN[size_t(row * p.Hq + h)] = s.mask(b, h, p.qpos[size_t(row)], p.pos[p.slot(b, hk, 0)]);
      }
  runCase(be, kern, s, p, c, what + " [NaN in admitted slots]", s.mask, mayBeNaN);
}

// expect(fn) throws E whose message contains every one of `words`.
template <class E, class F>
void expectThrow(const std::string& what, F&& fn, const std::vector<std::string>& words) {
  try {
    fn();
    std::printf("FAIL %s: accepted\n", what.c_str());
    ++failures;
  } catch (const E& e) {
    for (const std::string& w : words)
      if (std::string(e.what()).find(w) == std::string::npos) {
        std::printf("FAIL %s: the message does not name '%s': %s\n", what.c_str(), w.c_str(), e.what());
        ++failures;
        return;
      }
  } catch (const std::exception& e) {
    std::printf("FAIL %s: threw the wrong type: %s\n", what.c_str(), e.what());
    ++failures;
  }
  ++cases;
}

// Arguments the kernel must refuse before it reads anything.
void checkBadArgs(const TestBackend& be, const CudaKernel& kern, const Spec& s, std::mt19937& rng) {
  const DType dt = dtypeOf(kern.storage);
  const Problem p = makeProblem({1, 2, 1, {3}, 40, false}, kern.headDim, Pos::Dense, dt, rng);
  const auto L = layOut(be, p, dt, config(0));
  const auto call = [&](AttnArgs a) { return [&kern, &s, a] { kern.fn(a, s.params.data()); }; };
  const std::string id = kern.id + ": ";
  AttnArgs a = L->a;
  a.version = 1;
  expectThrow<std::invalid_argument>(id + "version 1", call(a), {"version 1"});
  a = L->a;
  a.bytes = uint32_t(sizeof(AttnArgs) - 8);
  expectThrow<std::invalid_argument>(id + "short struct", call(a), {std::to_string(sizeof(AttnArgs) - 8) + " bytes"});
  for (DType other : {DType::F32, DType::F16, DType::BF16}) {
    if (other == dt) continue;
    a = L->a;
    a.kv.dtype = other;
    expectThrow<std::invalid_argument>(id + "dtype " + dtypeName(other), call(a), {kern.storage, dtypeName(other)});
  }
  a = L->a;
  a.kv.dtype = DType(7);
  expectThrow<std::invalid_argument>(id + "dtype 7", call(a), {kern.storage, "dtype 7"});
  a = L->a;
  a.kv.D = a.kv.Dv = kern.headDim + 32;
  expectThrow<std::invalid_argument>(id + "head dim", call(a), {std::to_string(kern.headDim + 32)});
  a = L->a;
  a.kv.kStrideS = kern.headDim + 1;
  expectThrow<std::invalid_argument>(id + "misaligned slot stride", call(a), {std::to_string(kern.headDim + 1)});
  a = L->a;
  a.qStrideRow = kern.headDim * 2 + 2;
  expectThrow<std::invalid_argument>(id + "misaligned query stride", call(a), {std::to_string(kern.headDim * 2 + 2)});
  a = L->a;
  a.kv.B = 2;
  expectThrow<std::invalid_argument>(id + "kv.B != B", call(a), {"kv.B = 2"});
}

// The probes' classify() overrides the mask: EMPTY everywhere empties every row, FULL everywhere
// admits every slot (the mask is never evaluated), PARTIAL gives the causal result.
void checkProbes(const TestBackend& be, const std::string& backend, unsigned seed, std::mt19937& rng) {
  for (const char* id : {"probe_f32_d64", "probe_rows_f32_d64"}) {
    const CudaKernel* kern = findCudaKernel(backend.c_str(), id);
    if (!kern) {
      std::printf("FAIL kernel %s is not registered for backend %s\n", id, backend.c_str());
      ++failures;
      return;
    }
    const std::vector<Shape> shapes = {{2, 8, 2, {1, 3}, 300, true}, {2, 4, 2, {70, 9}, 150, true}};  // decode, prefill
    for (const Shape& sh : shapes)
      for (int cls = 0; cls <= 2; ++cls) {
        const Spec s{id, {double(cls)}, causalMask(), {}, true};
        const MaskFn truth = cls == 0   ? MaskFn([](int64_t, int64_t, int64_t, int64_t) { return false; })
                             : cls == 2 ? MaskFn([](int64_t, int64_t, int64_t, int64_t) { return true; })
                                        : causalMask();
        Config c = config(cls + int(seed % 7));
        c.noSummary = false;  // without summaries nothing asks classify()
        const Problem p = makeProblem(sh, kern->headDim, c.pos, DType::F32, rng);
        runCase(be, *kern, s, p, c, describe(s, sh, c, backend, seed) + " [classify() = " + std::to_string(cls) + "]",
                truth);
        if (failures) return;
      }
  }
}

// A kernel needing more shared memory per block than the device allows fails with a clear error;
// its decode path, which fits, runs.
void checkSharedMemoryLimit(const TestBackend& be, const std::string& backend, unsigned seed, std::mt19937& rng) {
  const CudaKernel* kern = findCudaKernel(backend.c_str(), "big_f32_d512");
  if (!kern) return;  // emulator only
  const Spec s{kern->id, {}, [](int64_t, int64_t, int64_t, int64_t) { return true; }, {}, false};
  const Shape prefill{1, 2, 1, {40}, 50, false}, decode{1, 2, 1, {1}, 50, false};
  const Problem pp = makeProblem(prefill, kern->headDim, Pos::Dense, DType::F32, rng);
  const auto L = layOut(be, pp, DType::F32, config(0));
  expectThrow<std::runtime_error>(kern->id + " prefill", [&] { kern->fn(L->a, nullptr); },
                                  {"prefillKernel", "shared memory", "cudaDevAttrMaxSharedMemoryPerBlockOptin"});
  const Problem pd = makeProblem(decode, kern->headDim, Pos::Dense, DType::F32, rng);
  runCase(be, *kern, s, pd, config(1), describe(s, decode, config(1), backend, seed), s.mask);
}

// Warmed-up calls allocate nothing (the decode workspace is reused): the same calls again, with
// the emulator counting cudaMalloc around each kernel call only.
void checkNoAllocation(const TestBackend& be, const CudaKernel& kern, const Spec& s, std::mt19937& rng) {
  if (be.allocations() < 0) return;  // not countable on a GPU
  for (const Shape& sh : kShapes) {
    const Problem p = makeProblem(sh, kern.headDim, Pos::Dense, dtypeOf(kern.storage), rng);
    const auto L = layOut(be, p, dtypeOf(kern.storage), config(3));
    const int64_t before = be.allocations();
    kern.fn(L->a, s.params.data());
    const int64_t after = be.allocations();
    ++cases;
    if (after != before) {
      std::printf("FAIL %s: a warmed call made %lld cudaMalloc calls (shape rows[0] = %d, maxLen %d)\n", kern.id.c_str(),
                  (long long)(after - before), sh.rows[0], sh.maxLen);
      ++failures;
      return;
    }
  }
}

// Decode calls of different sizes from two host threads at once (they share the workspace).
void checkConcurrent(const TestBackend& be, const CudaKernel& kern, const Spec& s, const std::string& backend,
                     unsigned seed) {
  const std::vector<Shape> shapes = {{3, 8, 2, {1, 1, 1}, 300, true}, {1, 16, 2, {2}, 1000, true},
                                     {4, 2, 1, {3, 0, 1, 4}, 260, true}, {1, 4, 1, {1}, 2100, false}};
  std::vector<std::string> errors(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed + 17 * unsigned(t));
      try {
        for (int rep = 0; rep < 3; ++rep) {
          const Shape& sh = shapes[size_t((rep + 2 * t) % shapes.size())];
          const Config c = config(5 * t + rep);
          const Problem p = makeProblem(sh, kern.headDim, c.pos, dtypeOf(kern.storage), rng);
          auto L = layOut(be, p, dtypeOf(kern.storage), c);
          kern.fn(L->a, s.params.data());
          std::vector<double> out, lse;
          referenceForward(p, s.mask, s.score, out, lse);
          const int before = failures;
          compare(describe(s, sh, c, backend, seed) + " [thread " + std::to_string(t) + "]", kern.storage, p, *L, out, lse);
          if (failures != before) return;
        }
      } catch (const std::exception& e) {
        errors[size_t(t)] = e.what();
      }
    });
  for (std::thread& th : threads) th.join();
  for (const std::string& e : errors)
    if (!e.empty()) {
      std::printf("FAIL %s concurrent calls: %s\n", kern.id.c_str(), e.c_str());
      ++failures;
    }
  cases += 6;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string backend = argc > 1 ? argv[1] : "cuda-emu";
  const unsigned seed = argc > 2 ? unsigned(std::strtoul(argv[2], nullptr, 10)) : 20240611u;
  std::mt19937 rng(seed);
  // KVF_CHECK_SMALL=1: the big shapes with one layout instead of two (they take most of the
  // emulation time); what `npm test` runs (specs/native-harness.test.ts), on a machine shared with
  // the rest of it.
  const char* smallEnv = std::getenv("KVF_CHECK_SMALL");
  const bool smallOnly = smallEnv && std::string(smallEnv) == "1";
  const TestBackend* be = findTestBackend(backend);
  if (!be) {
    std::printf("FAIL no test backend %s is linked in\n", backend.c_str());
    return 1;
  }
  const std::string apiProblem = be->selfCheck();
  if (!apiProblem.empty()) {
    std::printf("FAIL %s runtime API: %s\n", backend.c_str(), apiProblem.c_str());
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  try {
    int specIndex = 0;
    std::set<std::string> argsChecked;
    for (const Spec& s : specs()) {
      const CudaKernel* kern = findCudaKernel(backend.c_str(), s.id);
      if (!kern) {
        std::printf("FAIL kernel %s is not registered for backend %s\n", s.id.c_str(), backend.c_str());
        return 1;
      }
      if (argsChecked.insert(s.id).second) checkBadArgs(*be, *kern, s, rng);
      for (size_t si = 0; si < kShapes.size(); ++si) {
        const Shape& sh = kShapes[si];
        int64_t work = 0;
        for (int32_t n : sh.rows) work += n;
        const bool big = work * sh.Hq * sh.maxLen > 100000;
        const int configs = big && smallOnly ? 1 : 2;
        for (int t = 0; t < configs; ++t) {
          const Config c = config(int(si) * 2 + t + 5 * specIndex);
          const Problem p = makeProblem(sh, kern->headDim, c.pos, dtypeOf(kern->storage), rng);
          const std::string what = describe(s, sh, c, backend, seed);
          runCase(*be, *kern, s, p, c, what, s.mask);
          if (failures) return 1;
          if (t == 0 && s.hasMask) checkMaskedNaN(*be, *kern, s, p, config(int(si) + 1), what);
          if (t == 0) checkAdmittedNaN(*be, *kern, s, p, config(int(si) + 2), what);
          if (t == 1) runExtrasCase(*be, *kern, s, p, c, what, rng);
          if (failures) return 1;
        }
      }
      ++specIndex;
    }
    checkProbes(*be, backend, seed, rng);
    if (failures) return 1;
    checkSharedMemoryLimit(*be, backend, seed, rng);
    const std::vector<Spec> all = specs();
    const Spec& hw = *std::find_if(all.begin(), all.end(), [](const Spec& x) { return x.id == "headwindow_f32_d64"; });
    const CudaKernel* hwKern = findCudaKernel(backend.c_str(), hw.id);
    checkNoAllocation(*be, *hwKern, hw, rng);
    checkConcurrent(*be, *hwKern, hw, backend, seed);
  } catch (const std::exception& e) {
    std::printf("FAIL unexpected exception: %s\n", e.what());
    return 1;
  }
  if (failures > 0) return 1;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("check_cuda %s: %d cases passed in %.1f s (seed %u); kernels registered: cuda-emu %zu, cuda %zu\n",
              backend.c_str(), cases, secs, seed, listCudaKernels("cuda-emu").size(), listCudaKernels("cuda").size());
  for (const auto& [dtype, tol] : kTolerance)
    if (worstOut.count(dtype))
      std::printf("  %-4s worst error: out %.3g of max|out|, lse %.3g of 1+|lse| (tolerance %g)\n", dtype.c_str(),
                  worstOut[dtype], worstLse[dtype], tol);
  return 0;
}
