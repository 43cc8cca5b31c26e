/**
 * LCKV / Hugging Face config.json <-> scheme + model shape: a round trip, LCKV's own config
 * (tinyllama_lckv.json's keys), defaults, and a coded error naming the key for every missing,
 * mistyped or contradictory key.
 */
import { describe, expect, it } from 'vitest';
import { printLayerTypes, readModelConfig, scheme, writeModelConfig, yoco, defineMask } from '../dsl/index.ts';
import { caught } from './support/caught.ts';

/** The shape of LCKV's configs/tinyllama_lckv.json, with HF's usual extra keys. */
const TINY = {
  architectures: ['LCKVLlamaForCausalLM'], model_type: 'lckv-llama', hidden_act: 'silu',
  hidden_size: 2048, intermediate_size: 5632, num_attention_heads: 32, num_hidden_layers: 22, num_key_value_heads: 4,
  rms_norm_eps: 1e-5, rope_theta: 10000.0, tie_word_embeddings: false, torch_dtype: 'bfloat16', vocab_size: 32000,
  layer_types: '0_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_21', forward_passes: 7, backward_passes: 2,
  sliding_window: 4096, force_nodiag: true, use_sequential: false,
};

describe('config.json import', () => {
  it("reads LCKV's TinyLlama config", () => {
    const { scheme: s, model } = readModelConfig(TINY);
    expect(s).toMatchObject({ layers: 22, heads: { q: 32, kv: 4 }, headDim: 64, valueDim: 64, window: 4096, forceNoDiagonal: true, iterations: { m: 7, b: 2 }, dtype: 'bf16' });
    expect(printLayerTypes(s.table)).toBe(TINY.layer_types);
    expect(model).toEqual({ hiddenSize: 2048, intermediateSize: 5632, vocabSize: 32000, ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: false });
  });
  it('defaults: kv heads = heads, head_dim = hidden / heads, standard layers, LCKV window and passes, HF norms', () => {
    const { scheme: s, model } = readModelConfig({ hidden_size: 256, intermediate_size: 512, num_attention_heads: 4, num_hidden_layers: 3, vocab_size: 100, sliding_window: null });
    expect(s).toMatchObject({ heads: { q: 4, kv: 4 }, headDim: 64, window: 4096, forceNoDiagonal: false, iterations: { m: 7, b: 2 }, dtype: 'bf16', name: 'standard' });
    expect(printLayerTypes(s.table)).toBe('0_1_2');
    expect(model).toMatchObject({ ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false });
  });
  it('round trip: write then read gives the same scheme and shape, and keeps the base\'s other keys', () => {
    const { scheme: s, model } = readModelConfig(TINY);
    const out = writeModelConfig(s, model, TINY);
    expect(out).toEqual({ ...TINY, head_dim: 64 });
    const back = readModelConfig(JSON.parse(JSON.stringify(out)));
    expect(back.model).toEqual(model);
    expect(back.scheme.table).toEqual(s.table);
    const y = scheme({ layers: 22, heads: { q: 32, kv: 4 }, headDim: 64, kv: yoco(), dtype: 'f16' });
    const yc = writeModelConfig(y, model);
    expect(yc).toMatchObject({ layer_types: printLayerTypes(y.table), sliding_window: 1024, torch_dtype: 'float16' });
    expect(readModelConfig(yc).scheme).toMatchObject({ window: 1024, dtype: 'f16', table: y.table });
  });

  const without = (k: string) => Object.fromEntries(Object.entries(TINY).filter(([key]) => key !== k));
  it.each(['num_hidden_layers', 'num_attention_heads', 'hidden_size', 'intermediate_size', 'vocab_size'])('missing %s is KVF2010 naming it', (k) => {
    const e = caught(() => readModelConfig(without(k), { source: 'cfg/config.json' }));
    expect(e.code).toBe('KVF2010');
    expect(e.message).toContain(`cfg/config.json: '${k}' is missing`);
  });
  it.each([
    [{ num_hidden_layers: 0 }, /'num_hidden_layers' must be an integer in 1\.\.4096, got 0/],
    [{ num_hidden_layers: '22' }, /'num_hidden_layers' must be an integer in 1\.\.4096, got "22"/],
    [{ num_attention_heads: 2.5 }, /'num_attention_heads' must be an integer/],
    [{ num_key_value_heads: 5 }, /'num_attention_heads' \(32\) is not a multiple of 'num_key_value_heads' \(5\)/],
    [{ hidden_size: 2050 }, /'hidden_size' \(2050\) is not a multiple of 'num_attention_heads' \(32\) and 'head_dim' is missing/],
    [{ head_dim: 0 }, /'head_dim' must be an integer >= 1/],
    [{ rope_theta: -1 }, /'rope_theta' must be a positive number/],
    [{ rms_norm_eps: 'tiny' }, /'rms_norm_eps' must be a positive number/],
    [{ tie_word_embeddings: 'yes' }, /'tie_word_embeddings' must be true or false/],
    [{ force_nodiag: 1 }, /'force_nodiag' must be true or false/],
    [{ forward_passes: 0 }, /'forward_passes' must be an integer in 1\.\.1024/],
    [{ backward_passes: -1 }, /'backward_passes' must be an integer in 0\.\.1024/],
    [{ sliding_window: 0 }, /'sliding_window' must be an integer in 1\.\.2147483647/],
    [{ torch_dtype: 'float64' }, /'torch_dtype' must be one of float32, float16, bfloat16/],
    [{ layer_types: 5 }, /'layer_types' must be a string/],
  ])('%j', (patch, re) => {
    const e = caught(() => readModelConfig({ ...TINY, ...patch }));
    expect(e.code).toBe('KVF2010');
    expect(e.message).toMatch(re);
  });
  it('a layer_types that contradicts num_hidden_layers is KVF2008 naming both', () => {
    const e = caught(() => readModelConfig({ ...TINY, num_hidden_layers: 21 }, { source: 'x.json' }));
    expect(e.code).toBe('KVF2008');
    expect(e.message).toMatch(/x\.json: 'layer_types': layer_types has 22 tokens for 21 layers/);
    expect(caught(() => readModelConfig({ ...TINY, layer_types: '0_1' })).message).toMatch(/'layer_types': layer_types has 2 tokens for 22 layers/);
    expect(caught(() => readModelConfig({ ...TINY, layer_types: '0_x' })).code).toBe('KVF2008');
  });
  it('not an object is KVF2010', () => {
    for (const j of [null, [], 3, 'x']) expect(caught(() => readModelConfig(j)).code).toBe('KVF2010');
  });
  it('export refuses what config.json cannot say', () => {
    const { model } = readModelConfig(TINY);
    const split = scheme({ layers: 2, heads: { q: 4, kv: 2 }, headDim: 8, kv: [0, { keysFrom: 1, valuesFrom: 0 }] });
    expect(caught(() => writeModelConfig(split, model)).code).toBe('KVF2008');
    const extra = scheme({ layers: 2, heads: { q: 4, kv: 2 }, headDim: 8, attention: { mask: defineMask((b, h, q, k) => k !== 0, { name: 'noFirst' }) } });
    expect(caught(() => writeModelConfig(extra, model)).message).toMatch(/attention overrides/);
    const vd = scheme({ layers: 2, heads: { q: 4, kv: 2 }, headDim: 8, valueDim: 16 });
    expect(caught(() => writeModelConfig(vd, model)).message).toMatch(/valueDim 16 != headDim 8/);
    const lit = scheme({ layers: 2, heads: { q: 4, kv: 2 }, headDim: 8, decode: 'lckvLiteralZeroFill' });
    expect(caught(() => writeModelConfig(lit, model)).message).toMatch(/lckvLiteralZeroFill/);
  });
});

describe('config.json regressions from a hostile review', () => {
  it('each bad key is named once, as itself', () => {
    const e = caught(() => readModelConfig({ ...TINY, force_nodiag: 'true' }, { source: 'c.json' }));
    expect(e.message).toMatch(/c\.json: 'force_nodiag' must be true or false/);
    expect(e.message.match(/c\.json/g)).toHaveLength(1);
    for (const d of ['toString', 'constructor', '__proto__']) {
      expect(caught(() => readModelConfig({ ...TINY, torch_dtype: d })).message).toMatch(/'torch_dtype' must be one of float32, float16, bfloat16/);
    }
    expect(caught(() => readModelConfig({ ...TINY, num_hidden_layers: 100000000, layer_types: undefined })).message).toMatch(/'num_hidden_layers' must be an integer in 1\.\.4096/);
    expect(caught(() => readModelConfig({ ...TINY, forward_passes: 1e300 })).message).toMatch(/'forward_passes' must be an integer in 1\.\.1024/);
  });
  it('a folder name with control characters becomes a printable scheme name; null options are the defaults', () => {
    expect(readModelConfig(TINY, { name: 'run\u001b[31m' }).scheme.name).toBe('run\\u{1b}[31m');
    expect(readModelConfig(TINY, null).scheme.name).toBe('layer_types');
  });
});
