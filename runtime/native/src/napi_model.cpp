#include "napi_model.hpp"

#include <stdexcept>
#include <string>

#include "kvforge/cpu/thread_pool.hpp"
#include "napi_args.hpp"
#include "napi_guard.hpp"
#include "napi_type_tags.hpp"

namespace kvf::napi {
namespace {

std::string n2s(int64_t x) { return std::to_string(x); }

float* f32Array(const char* fn, const std::string& name, const Napi::Value& v, int64_t length, const std::string& formula) {
  return static_cast<float*>(const_cast<void*>(readTypedArray(fn, name, v, napi_float32_array, length, formula).data));
}

std::vector<float> copyF32(const char* fn, const std::string& name, const Napi::Value& v, int64_t length, const std::string& formula) {
  const float* p = f32Array(fn, name, v, length, formula);
  return std::vector<float>(p, p + length);
}

// A DenseMatrix argument of exactly rows x cols.
std::shared_ptr<const model::PackedMatrix> matrixArg(const char* fn, const std::string& name, const Napi::Value& v, int64_t rows, int64_t cols) {
  DenseMatrix* m = unwrapTagged<DenseMatrix>(v, kDenseMatrixTag);
  if (!m) throw ArgError(ArgError::Type, argName(fn, name) + " must be a DenseMatrix, received " + describeValue(v));
  std::shared_ptr<const model::PackedMatrix> p = m->matrix(fn, name);
  if (p->N != rows || p->K != cols)
    throw ArgError(ArgError::Range, argName(fn, name) + " must be " + n2s(rows) + " x " + n2s(cols) + ", received " + n2s(p->N) + " x " + n2s(p->K));
  return p;
}

}  // namespace

int readThreads(const char* fn, const Napi::Value& v) {
  const int64_t t = readInteger(fn, "threads", v, 1, "a positive integer");
  if (t > cpu::kMaxThreads) throw ArgError(ArgError::Range, argName(fn, "threads") + " must be at most " + n2s(cpu::kMaxThreads) + ", received " + n2s(t));
  return int(t);
}

// ---- DenseMatrix ----

Napi::Function DenseMatrix::define(Napi::Env env) {
  return DefineClass(env, "DenseMatrix", {InstanceMethod<&DenseMatrix::apply>("apply"), InstanceMethod<&DenseMatrix::release>("release"),
                                          InstanceAccessor<&DenseMatrix::getBytes>("bytes")});
}

DenseMatrix::DenseMatrix(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DenseMatrix>(info) {
  constexpr const char* fn = "new DenseMatrix";
  try {
    info.This().As<Napi::Object>().TypeTag(&kDenseMatrixTag);
    if (info.Length() != 4) throw ArgError(ArgError::Type, std::string(fn) + ": expected (w, rows, cols, dtype)");
    const int64_t N = readInteger(fn, "rows", info[1], 1, "a positive integer");
    const int64_t K = readInteger(fn, "cols", info[2], 1, "a positive integer");
    const int64_t dt = readInteger(fn, "dtype", info[3], 0, "a dtype number (0 f32, 2 bf16)");
    if (dt != int64_t(DType::F32) && dt != int64_t(DType::BF16))
      throw ArgError(ArgError::Range, argName(fn, "dtype") + " must be 0 (f32) or 2 (bf16): weights are stored as either, received " + n2s(dt));
    int64_t n = 0;
    if (__builtin_mul_overflow(N, K, &n) || n > (int64_t(1) << 40)) throw ArgError(ArgError::Range, std::string(fn) + ": " + n2s(N) + " x " + n2s(K) + " is too large");
    const float* w = f32Array(fn, "w", info[0], n, "rows*cols = " + n2s(N) + "*" + n2s(K));
    m_ = std::make_shared<model::PackedMatrix>(model::packMatrix(w, N, K, DType(dt)));
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    rethrowAsJs(info.Env(), e);
  }
}

std::shared_ptr<const model::PackedMatrix> DenseMatrix::matrix(const char* fn, const std::string& what) const {
  if (!m_) throw ArgError(ArgError::Range, argName(fn, what) + " is a released DenseMatrix");
  return m_;
}

Napi::Value DenseMatrix::apply(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "DenseMatrix.apply";
    if (info.Length() != 5) throw ArgError(ArgError::Type, std::string(fn) + ": expected (x, m, y, accumulate, threads)");
    const std::shared_ptr<const model::PackedMatrix> m = matrix(fn, "this");
    const int64_t M = readInteger(fn, "m", info[1], 0, "a non-negative integer");
    int64_t mk = 0, mn = 0;
    if (M > (int64_t(1) << 31) || __builtin_mul_overflow(M, m->K, &mk) || __builtin_mul_overflow(M, m->N, &mn) || mk > (int64_t(1) << 40) || mn > (int64_t(1) << 40))
      throw ArgError(ArgError::Range, argName(fn, "m") + " = " + n2s(M) + " rows is too many for a " + n2s(m->N) + " x " + n2s(m->K) + " matrix");
    const float* x = f32Array(fn, "x", info[0], M * m->K, "m*cols = " + n2s(M) + "*" + n2s(m->K));
    float* y = f32Array(fn, "y", info[2], M * m->N, "m*rows = " + n2s(M) + "*" + n2s(m->N));
    if (!info[3].IsBoolean()) throw ArgError(ArgError::Type, argName(fn, "accumulate") + " must be a boolean, received " + describeValue(info[3]));
    const int threads = readThreads(fn, info[4]);
    model::gemm(x, M, m->K, *m, y, m->N, info[3].As<Napi::Boolean>().Value(), threads);
    return info.Env().Undefined();
  });
}

Napi::Value DenseMatrix::release(const Napi::CallbackInfo& info) {
  m_.reset();
  return info.Env().Undefined();
}

Napi::Value DenseMatrix::getBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), m_ ? double(m_->bytes()) : 0.0);
}

// ---- DecoderModel ----

Napi::Function DecoderModel::define(Napi::Env env) {
  return DefineClass(env, "DecoderModel",
                     {InstanceMethod<&DecoderModel::embed>("embed"), InstanceMethod<&DecoderModel::project>("project"),
                      InstanceMethod<&DecoderModel::finish>("finish"), InstanceMethod<&DecoderModel::logits>("logits"),
                      InstanceMethod<&DecoderModel::release>("release")});
}

DecoderModel::DecoderModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DecoderModel>(info) {
  constexpr const char* fn = "new DecoderModel";
  try {
    info.This().As<Napi::Object>().TypeTag(&kDecoderModelTag);
    if (info.Length() != 1 || !info[0].IsObject()) throw ArgError(ArgError::Type, std::string(fn) + ": expected ({ hidden, intermediate, vocab, Hq, Hkv, D, Dv, eps, theta, embed, norm, lmHead, layers })");
    const Napi::Object c = info[0].As<Napi::Object>();
    auto d = std::make_unique<model::Decoder>();
    model::DecoderShape& s = d->s;
    // Each dimension at most 2^20 and every product of them checked: no size below wraps around.
    const auto dim = [&](const char* name) {
      const int64_t x = readInteger(fn, name, c.Get(name), 1, "a positive integer");
      if (x > (int64_t(1) << 20)) throw ArgError(ArgError::Range, argName(fn, name) + " must be at most 2^20, received " + n2s(x));
      return x;
    };
    s.hidden = dim("hidden"), s.intermediate = dim("intermediate"), s.vocab = dim("vocab");
    s.Hq = dim("Hq"), s.Hkv = dim("Hkv"), s.D = dim("D"), s.Dv = dim("Dv");
    if (s.D % 2 != 0) throw ArgError(ArgError::Range, argName(fn, "D") + " must be even (RoPE rotates pairs), received " + n2s(s.D));
    if (s.Hq % s.Hkv != 0) throw ArgError(ArgError::Range, argName(fn, "Hq") + " must be a multiple of Hkv = " + n2s(s.Hkv) + ", received " + n2s(s.Hq));
    for (const int64_t p : {s.Hq * s.D, s.Hq * s.Dv, s.vocab * s.hidden, s.intermediate * s.hidden})
      if (p > (int64_t(1) << 32)) throw ArgError(ArgError::Range, std::string(fn) + ": the shape's tensors are too large (a product of dimensions above 2^32)");
    s.eps = readFiniteNumber(fn, "eps", c.Get("eps"));
    s.theta = readFiniteNumber(fn, "theta", c.Get("theta"));
    if (!(s.eps > 0)) throw ArgError(ArgError::Range, argName(fn, "eps") + " must be positive, received " + std::to_string(s.eps));
    if (!(s.theta > 0)) throw ArgError(ArgError::Range, argName(fn, "theta") + " must be positive, received " + std::to_string(s.theta));
    const int64_t H = s.hidden, I = s.intermediate;
    d->embed = copyF32(fn, "embed", c.Get("embed"), s.vocab * H, "vocab*hidden");
    d->norm = copyF32(fn, "norm", c.Get("norm"), H, "hidden");
    const auto keep = [&](std::shared_ptr<const model::PackedMatrix> p) {
      keep_.push_back(p);
      return p.get();
    };
    d->lmHead = keep(matrixArg(fn, "lmHead", c.Get("lmHead"), s.vocab, H));
    const Napi::Value lv = c.Get("layers");
    if (!lv.IsArray() || lv.As<Napi::Array>().Length() == 0) throw ArgError(ArgError::Type, argName(fn, "layers") + " must be a non-empty array, received " + describeValue(lv));
    const Napi::Array layers = lv.As<Napi::Array>();
    for (uint32_t i = 0; i < layers.Length(); ++i) {
      const std::string at = "layers[" + std::to_string(i) + "].";
      const Napi::Value e = layers.Get(i);
      if (!e.IsObject()) throw ArgError(ArgError::Type, argName(fn, at.substr(0, at.size() - 1)) + " must be an object, received " + describeValue(e));
      const Napi::Object o = e.As<Napi::Object>();
      model::DecoderLayer L;
      L.inputNorm = copyF32(fn, at + "inputNorm", o.Get("inputNorm"), H, "hidden");
      L.postNorm = copyF32(fn, at + "postNorm", o.Get("postNorm"), H, "hidden");
      L.q = keep(matrixArg(fn, at + "q", o.Get("q"), s.Hq * s.D, H));
      const Napi::Value k = o.Get("k"), v = o.Get("v");
      if (!k.IsUndefined() && !k.IsNull()) L.k = keep(matrixArg(fn, at + "k", k, s.Hkv * s.D, H));
      if (!v.IsUndefined() && !v.IsNull()) L.v = keep(matrixArg(fn, at + "v", v, s.Hkv * s.Dv, H));
      L.o = keep(matrixArg(fn, at + "o", o.Get("o"), H, s.Hq * s.Dv));
      L.gate = keep(matrixArg(fn, at + "gate", o.Get("gate"), I, H));
      L.up = keep(matrixArg(fn, at + "up", o.Get("up"), I, H));
      L.down = keep(matrixArg(fn, at + "down", o.Get("down"), H, I));
      d->layers.push_back(std::move(L));
    }
    model::prepareDecoder(*d);
    d_ = std::move(d);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    rethrowAsJs(info.Env(), e);
  }
}

const model::Decoder& DecoderModel::decoder(const char* fn) const {
  if (!d_) throw ArgError(ArgError::Range, std::string(fn) + ": the model was released");
  return *d_;
}

namespace {
int64_t layerArg(const char* fn, const model::Decoder& d, const Napi::Value& v) {
  const int64_t l = readInteger(fn, "layer", v, 0, "a layer index");
  if (l >= int64_t(d.layers.size())) throw ArgError(ArgError::Range, argName(fn, "layer") + " must be below " + n2s(int64_t(d.layers.size())) + ", received " + n2s(l));
  return l;
}
// Rows of `h` [rows, hidden].
int64_t rowsOf(const char* fn, const model::Decoder& d, const Napi::Value& h) {
  const TypedArrayBytes t = readTypedArray(fn, "h", h, napi_float32_array, -1, "");
  if (t.length == 0 || int64_t(t.length) % d.s.hidden != 0)
    throw ArgError(ArgError::Range, argName(fn, "h") + " must hold rows*hidden floats (hidden = " + n2s(d.s.hidden) + ", rows >= 1), received " + describeValue(h));
  const int64_t rows = int64_t(t.length) / d.s.hidden;
  if (rows > (int64_t(1) << 24)) throw ArgError(ArgError::Range, argName(fn, "h") + " holds " + n2s(rows) + " rows, more than 2^24");
  return rows;
}
}  // namespace

Napi::Value DecoderModel::embed(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "DecoderModel.embed";
    const model::Decoder& d = decoder(fn);
    const TypedArrayBytes t = readTypedArray(fn, "tokens", info[0], napi_int32_array, -1, "");
    const int32_t* tok = static_cast<const int32_t*>(t.data);
    for (size_t r = 0; r < t.length; ++r)
      if (tok[r] < 0 || tok[r] >= d.s.vocab) throw ArgError(ArgError::Range, argName(fn, "tokens") + "[" + std::to_string(r) + "] = " + std::to_string(tok[r]) + " is not a token id in 0.." + n2s(d.s.vocab - 1));
    float* h = f32Array(fn, "h", info[1], int64_t(t.length) * d.s.hidden, "tokens*hidden");
    model::embedRows(d, tok, int64_t(t.length), h);
    return info.Env().Undefined();
  });
}

Napi::Value DecoderModel::project(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "DecoderModel.project";
    if (info.Length() != 7) throw ArgError(ArgError::Type, std::string(fn) + ": expected (layer, h, positions, q, k, v, threads)");
    const model::Decoder& d = decoder(fn);
    const model::DecoderShape& s = d.s;
    const int64_t layer = layerArg(fn, d, info[0]);
    const int64_t rows = rowsOf(fn, d, info[1]);
    const float* h = f32Array(fn, "h", info[1], rows * s.hidden, "");
    const auto* pos = static_cast<const int32_t*>(readTypedArray(fn, "positions", info[2], napi_int32_array, rows, "rows = " + n2s(rows)).data);
    float* q = f32Array(fn, "q", info[3], rows * s.Hq * s.D, "rows*Hq*D");
    float* k = info[4].IsNull() ? nullptr : f32Array(fn, "k", info[4], rows * s.Hkv * s.D, "rows*Hkv*D");
    float* v = info[5].IsNull() ? nullptr : f32Array(fn, "v", info[5], rows * s.Hkv * s.Dv, "rows*Hkv*Dv");
    model::projectLayer(d, layer, h, rows, pos, q, k, v, scratch_, readThreads(fn, info[6]));
    return info.Env().Undefined();
  });
}

Napi::Value DecoderModel::finish(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "DecoderModel.finish";
    if (info.Length() != 4) throw ArgError(ArgError::Type, std::string(fn) + ": expected (layer, h, attn, threads)");
    const model::Decoder& d = decoder(fn);
    const int64_t layer = layerArg(fn, d, info[0]);
    const int64_t rows = rowsOf(fn, d, info[1]);
    float* h = f32Array(fn, "h", info[1], rows * d.s.hidden, "");
    const float* attn = f32Array(fn, "attn", info[2], rows * d.s.Hq * d.s.Dv, "rows*Hq*Dv");
    model::finishLayer(d, layer, h, attn, rows, scratch_, readThreads(fn, info[3]));
    return info.Env().Undefined();
  });
}

Napi::Value DecoderModel::logits(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    constexpr const char* fn = "DecoderModel.logits";
    if (info.Length() != 3) throw ArgError(ArgError::Type, std::string(fn) + ": expected (h, out, threads)");
    const model::Decoder& d = decoder(fn);
    const int64_t rows = rowsOf(fn, d, info[0]);
    const float* h = f32Array(fn, "h", info[0], rows * d.s.hidden, "");
    float* out = f32Array(fn, "out", info[1], rows * d.s.vocab, "rows*vocab");
    model::logitsRows(d, h, rows, out, scratch_, readThreads(fn, info[2]));
    return info.Env().Undefined();
  });
}

Napi::Value DecoderModel::release(const Napi::CallbackInfo& info) {
  d_.reset();
  keep_.clear();
  scratch_ = model::DecoderScratch();
  return info.Env().Undefined();
}

}  // namespace kvf::napi
