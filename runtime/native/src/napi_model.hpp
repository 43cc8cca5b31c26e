// The model executor's dense half as JS objects (kvforge/model/decoder.hpp does the math):
//
//   new DenseMatrix(w: Float32Array, rows N, cols K, dtype)   W [N, K] packed once (0 f32, 2 bf16)
//     apply(x: Float32Array, m, y: Float32Array, accumulate: boolean, threads)   y [m, N] (+)= x [m, K] W^T
//     release(); bytes (packed size)
//   new DecoderModel({ hidden, intermediate, vocab, Hq, Hkv, D, Dv, eps, theta,
//                      embed: Float32Array [vocab*hidden], norm: Float32Array [hidden], lmHead: DenseMatrix,
//                      layers: [{ inputNorm, postNorm: Float32Array, q, k?, v?, o, gate, up, down: DenseMatrix }] })
//     embed(tokens: Int32Array, h)                      h [rows, hidden]
//     project(layer, h, positions, q, k | null, v | null, threads)
//     finish(layer, h, attn, threads)                   rows = h.length / hidden
//     logits(h, out, threads)                           out [rows, vocab]
//     release()
// Every method is synchronous and checks every argument (TypeError / RangeError naming it). A
// model keeps the packed matrices it was given alive (shared with their DenseMatrix objects, so
// releasing one of those frees nothing the model still reads).
#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "kvforge/model/decoder.hpp"

namespace kvf::napi {

class DenseMatrix : public Napi::ObjectWrap<DenseMatrix> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit DenseMatrix(const Napi::CallbackInfo& info);
  // The packed matrix, or an ArgError naming `what` when released.
  std::shared_ptr<const model::PackedMatrix> matrix(const char* fn, const std::string& what) const;

 private:
  Napi::Value apply(const Napi::CallbackInfo& info);
  Napi::Value release(const Napi::CallbackInfo& info);
  Napi::Value getBytes(const Napi::CallbackInfo& info);
  std::shared_ptr<model::PackedMatrix> m_;
};

class DecoderModel : public Napi::ObjectWrap<DecoderModel> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit DecoderModel(const Napi::CallbackInfo& info);
  // The model, or an ArgError when released.
  const model::Decoder& decoder(const char* fn) const;
  // Shared scratch of the synchronous calls (JS runs one at a time).
  model::DecoderScratch& scratch() { return scratch_; }

 private:
  Napi::Value embed(const Napi::CallbackInfo& info);
  Napi::Value project(const Napi::CallbackInfo& info);
  Napi::Value finish(const Napi::CallbackInfo& info);
  Napi::Value logits(const Napi::CallbackInfo& info);
  Napi::Value release(const Napi::CallbackInfo& info);

  std::unique_ptr<model::Decoder> d_;
  std::vector<std::shared_ptr<const model::PackedMatrix>> keep_;
  model::DecoderScratch scratch_;
};

// A thread count argument: an integer in [1, kvf::cpu::kMaxThreads].
int readThreads(const char* fn, const Napi::Value& v);

}  // namespace kvf::napi
