// The dense half of the Llama-style decoder around a scheme (semantics.md section 2, "The model
// around a scheme"): embedding, RMSNorm, rotate-half RoPE, the attention's output projection,
// the SwiGLU MLP and the LM head, on f32 rows [rows, hidden]. Attention itself (and the KV cache
// it reads) is the kernels' business; the step that strings these and the kernels together with
// no JS between layers is in src/napi_model_step.cpp, the parallel prefill in TS
// (runtime/model/executor.ts) calls the same functions one layer at a time.
//
// Exact semantics (what the reference model runtime/verify/referenceModel.ts computes in float64):
//   rmsNorm(x, w)[i] = x[i] / sqrt(mean_j x[j]^2 + eps) * w[i]    (sum of squares in double)
//   rope(x, p): for j < D/2, angle = p * theta^(-2j/D) (double), rotates (x[j], x[j + D/2])
//   mlp(x) = down(silu(gate x) * up x), silu(g) = g / (1 + e^-g) in f32 (e^-g by the softmax's
//            exp2 polynomial, relative error about 2e-7)
//   layer(h) = h + o(attn(project(rmsNorm(h, inputNorm)))); then h + mlp(rmsNorm(h, postNorm))
//   logits = lmHead(rmsNorm(h, norm))
// A layer without K (V) weights computes zero keys (values): LCKV's non-computing layers have no
// K/V projection at all and the executor never asks for their K/V.
#pragma once
#include <cstdint>
#include <vector>

#include "kvforge/model/gemm.hpp"

namespace kvf::model {

struct DecoderShape {
  int64_t hidden = 0, intermediate = 0, vocab = 0, Hq = 0, Hkv = 0, D = 0, Dv = 0;
  double eps = 1e-6, theta = 10000;
};

struct DecoderLayer {
  std::vector<float> inputNorm, postNorm;  // [hidden]
  // Owned by the JS DenseMatrix objects the model keeps referenced (src/napi_model.hpp).
  const PackedMatrix *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr, *gate = nullptr, *up = nullptr, *down = nullptr;
};

struct Decoder {
  DecoderShape s;
  std::vector<float> embed;  // [vocab, hidden]
  std::vector<float> norm;   // [hidden]
  const PackedMatrix* lmHead = nullptr;
  std::vector<DecoderLayer> layers;
  std::vector<double> invFreq;  // [D / 2]: theta^(-2j/D)
};

// Working rows of the dense ops, grown to the largest row count seen and reused.
struct DecoderScratch {
  std::vector<float> x, g, u;
  void reserve(const DecoderShape& s, int64_t rows);
};

// invFreq from s.theta and s.D (call once the shape is set).
void prepareDecoder(Decoder& d);

// h[r] = embed[tokens[r]]; tokens are checked by the caller (in [0, vocab)).
void embedRows(const Decoder& d, const int32_t* tokens, int64_t rows, float* h);

// q [rows, Hq*D] (rotated at pos), and when k / v are non-null, k [rows, Hkv*D] (rotated) and
// v [rows, Hkv*Dv] (zeros where the layer has no such weights).
void projectLayer(const Decoder& d, int64_t layer, const float* h, int64_t rows, const int32_t* pos, float* q, float* k, float* v,
                  DecoderScratch& s, int threads);

// h += o(attn); h += mlp(rmsNorm(h, postNorm)). attn [rows, Hq*Dv].
void finishLayer(const Decoder& d, int64_t layer, float* h, const float* attn, int64_t rows, DecoderScratch& s, int threads);

// logits [rows, vocab] = lmHead(rmsNorm(h, norm)).
void logitsRows(const Decoder& d, const float* h, int64_t rows, float* logits, DecoderScratch& s, int threads);

// LCKV's literal zero-fill decode (semantics.md section 2): the prepended slot of logit 0 and value
// 0 scales each output row by 1 / (1 + e^-lse) (0 when the row attended to nothing, lse = -inf).
void zeroFillScale(float* out, const float* lse, int64_t rowHeads, int64_t Dv);

// Index of the largest of x[0, n) (the first on ties): greedy decoding.
int32_t argmaxRow(const float* x, int64_t n);

}  // namespace kvf::model
