/**
 * The shape of the Llama-style model around a scheme (semantics.md section 2, "The model around
 * a scheme"): what a config.json says beyond the attention. Plain data.
 */
export interface ModelShape {
  readonly hiddenSize: number;
  /** SwiGLU width: down(silu(gate(x)) * up(x)). */
  readonly intermediateSize: number;
  readonly vocabSize: number;
  /** RoPE base (rotate-half), applied to queries and keys at their absolute positions. */
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  /** LM head = the embedding matrix. */
  readonly tieWordEmbeddings: boolean;
}

/** Hugging Face LlamaConfig's defaults for the keys a config may leave out. */
export const MODEL_DEFAULTS = Object.freeze({ ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false });
