/**
 * LCKV / Hugging Face `config.json` <-> scheme plus model shape.
 *
 * Read: the keys below; any other key (architectures, model_type, ...) is ignored on read and kept
 * on write when the caller passes the original as `base`. Required keys missing, a value of the
 * wrong type, or keys that contradict each other are KVF2010 naming the key (and the file).
 *
 * | key | becomes | when absent |
 * | --- | --- | --- |
 * | num_hidden_layers, num_attention_heads, hidden_size, intermediate_size, vocab_size | shape | required |
 * | num_key_value_heads | heads.kv | num_attention_heads (MHA) |
 * | head_dim | headDim | hidden_size / num_attention_heads (must divide) |
 * | layer_types | kv | standard (`0_1_..._{L-1}`) |
 * | sliding_window | window | 4096 (LCKV's default; `null` counts as absent) |
 * | forward_passes, backward_passes | iterations.m, .b | 7, 2 |
 * | force_nodiag | forceNoDiagonal | false |
 * | rope_theta, rms_norm_eps, tie_word_embeddings | model shape | 10000, 1e-6, false |
 * | torch_dtype | dtype (float32 / float16 / bfloat16) | bfloat16 |
 */
import { KvforgeError } from '../diagnostics.ts';
import { printLayerTypes } from './layerTypes.ts';
import { printable } from '../name.ts';
import { MODEL_DEFAULTS, type ModelShape } from './modelShape.ts';
import { DEFAULT_ITERATIONS, DEFAULT_WINDOW, MAX_LAYERS, MAX_PASSES, MAX_WINDOW, scheme, type KvDType, type SchemeSpec } from './scheme.ts';

export interface ModelConfig {
  readonly scheme: SchemeSpec;
  readonly model: ModelShape;
}

const TORCH_DTYPES: Readonly<Record<string, KvDType>> = { float32: 'f32', float16: 'f16', bfloat16: 'bf16' };
const DTYPE_NAMES: Readonly<Record<KvDType, string>> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

/** Read a parsed config.json; `source` (a file name) prefixes every error. */
export function readModelConfig(json: unknown, opts: { source?: string; name?: string } | null = {}): ModelConfig {
  opts ??= {};
  const where = opts.source ? `${opts.source}: ` : '';
  const fail = (detail: string, hint?: string): never => {
    throw new KvforgeError('KVF2010', `${where}${detail}`, { hint });
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(`a config is a JSON object, got ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}`);
  const c = json as Record<string, unknown>;
  const has = (k: string) => Object.prototype.hasOwnProperty.call(c, k) && c[k] !== null && c[k] !== undefined;
  const int = (k: string, min: number, dflt?: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (!has(k)) return dflt ?? fail(`'${k}' is missing`, `add "${k}": <integer >= ${min}>`);
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail(`'${k}' must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`}, got ${JSON.stringify(v)}`);
    }
    return v as number;
  };
  const num = (k: string, dflt: number): number => {
    if (!has(k)) return dflt;
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`'${k}' must be a positive number, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const bool = (k: string, dflt: boolean): boolean => {
    if (!has(k)) return dflt;
    if (typeof c[k] !== 'boolean') fail(`'${k}' must be true or false, got ${JSON.stringify(c[k])}`);
    return c[k] as boolean;
  };
  const layers = int('num_hidden_layers', 1, undefined, MAX_LAYERS);
  const q = int('num_attention_heads', 1);
  const kv = int('num_key_value_heads', 1, q);
  if (q % kv !== 0) fail(`'num_attention_heads' (${q}) is not a multiple of 'num_key_value_heads' (${kv})`);
  const hidden = int('hidden_size', 1);
  if (!has('head_dim') && hidden % q !== 0) {
    fail(`'hidden_size' (${hidden}) is not a multiple of 'num_attention_heads' (${q}) and 'head_dim' is missing`, 'add "head_dim"');
  }
  const headDim = int('head_dim', 1, hidden / q);
  let kvText: string | undefined;
  if (has('layer_types')) {
    if (typeof c.layer_types !== 'string') fail(`'layer_types' must be a string such as "0_20_20_21", got ${JSON.stringify(c.layer_types)}`);
    kvText = c.layer_types as string;
  }
  const window = int('sliding_window', 1, DEFAULT_WINDOW, MAX_WINDOW);
  const m = int('forward_passes', 1, DEFAULT_ITERATIONS.m, MAX_PASSES);
  const b = int('backward_passes', 0, DEFAULT_ITERATIONS.b, MAX_PASSES);
  const forceNoDiagonal = bool('force_nodiag', false);
  let dtype: KvDType = 'bf16';
  if (has('torch_dtype')) {
    const d = typeof c.torch_dtype === 'string' && Object.hasOwn(TORCH_DTYPES, c.torch_dtype) ? TORCH_DTYPES[c.torch_dtype] : undefined;
    if (d === undefined) fail(`'torch_dtype' must be one of ${Object.keys(TORCH_DTYPES).join(', ')}, got ${JSON.stringify(c.torch_dtype)}`);
    dtype = d!;
  }
  let spec: SchemeSpec;
  try {
    spec = scheme({
      layers, heads: { q, kv }, headDim, kv: kvText, window, forceNoDiagonal,
      iterations: { m, b }, dtype, name: opts.name === undefined || opts.name === '' ? (kvText === undefined ? 'standard' : 'layer_types') : printable(opts.name),
    });
  } catch (e) {
    if (!(e instanceof KvforgeError)) throw e;
    // Every key was checked above; what scheme() still refuses is the layer table or the head dims.
    const key = e.code === 'KVF2008' ? "'layer_types'" : e.code === 'KVF2004' ? "'head_dim'" : 'the model shape';
    throw new KvforgeError(e.code === 'KVF2008' ? 'KVF2008' : 'KVF2010', `${where}${key}: ${e.detail}`, { hint: e.hint });
  }
  const model: ModelShape = Object.freeze({
    hiddenSize: hidden, intermediateSize: int('intermediate_size', 1), vocabSize: int('vocab_size', 1),
    ropeTheta: num('rope_theta', MODEL_DEFAULTS.ropeTheta), rmsNormEps: num('rms_norm_eps', MODEL_DEFAULTS.rmsNormEps),
    tieWordEmbeddings: bool('tie_word_embeddings', MODEL_DEFAULTS.tieWordEmbeddings),
  });
  return Object.freeze({ scheme: spec, model });
}

/**
 * A config.json object for a scheme and model shape: `base`'s other keys kept, kvforge's keys
 * written. A scheme `layer_types` cannot express (separate key and value sources, per-layer
 * windows) or one with attention overrides is KVF2008 / KVF2010 rather than a config that
 * silently means something else.
 */
export function writeModelConfig(s: SchemeSpec, model: ModelShape, base: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  if (s.attention.mask || s.attention.score || s.attention.scale !== undefined) {
    throw new KvforgeError('KVF2010', `scheme '${s.name}' has attention overrides (an extra mask, a score function or a scale) that config.json has no key for`);
  }
  if (s.valueDim !== s.headDim) {
    throw new KvforgeError('KVF2010', `scheme '${s.name}' has valueDim ${s.valueDim} != headDim ${s.headDim}, which config.json has no key for`);
  }
  if (s.decode !== 'exact') {
    throw new KvforgeError('KVF2010', `scheme '${s.name}' decodes in mode '${s.decode}', which config.json has no key for`);
  }
  return {
    ...base,
    num_hidden_layers: s.layers, num_attention_heads: s.heads.q, num_key_value_heads: s.heads.kv,
    hidden_size: model.hiddenSize, head_dim: s.headDim, intermediate_size: model.intermediateSize, vocab_size: model.vocabSize,
    layer_types: printLayerTypes(s.table), sliding_window: s.window,
    forward_passes: s.iterations.m, backward_passes: s.iterations.b, force_nodiag: s.forceNoDiagonal,
    rope_theta: model.ropeTheta, rms_norm_eps: model.rmsNormEps, tie_word_embeddings: model.tieWordEmbeddings,
    torch_dtype: DTYPE_NAMES[s.dtype],
  };
}
