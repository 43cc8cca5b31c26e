/**
 * A Hugging Face-layout model folder <-> ModelWeights: `config.json` (dsl/scheme/hfConfig.ts) and
 * `model.safetensors`, or shards listed by `model.safetensors.index.json`, with Llama's (and
 * LCKV's) tensor names:
 *
 *   model.embed_tokens.weight                        [V, H]
 *   model.layers.{i}.input_layernorm.weight          [H]
 *   model.layers.{i}.self_attn.{q,k,v,o}_proj.weight [Hq*D, H] [Hkv*D, H] [Hkv*Dv, H] [H, Hq*Dv]
 *   model.layers.{i}.post_attention_layernorm.weight [H]
 *   model.layers.{i}.mlp.{gate,up,down}_proj.weight  [I, H] [I, H] [H, I]
 *   model.norm.weight                                [H]
 *   lm_head.weight                                   [V, H] (absent when tie_word_embeddings)
 *
 * k_proj / v_proj exist exactly for the layers whose keys / values are read (LCKV's non-computing
 * layers have none). A missing tensor, a tensor of the wrong shape, or one the scheme has no use
 * for (a k_proj on a layer that computes no KV: a standard checkpoint loaded under a sharing
 * scheme without conversion) is KVF4014 naming it. RoPE's cached `rotary_emb.inv_freq` buffers
 * are ignored (they are recomputed from rope_theta).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { readModelConfig, writeModelConfig } from '../../dsl/scheme/hfConfig.ts';
import { checkWeights, type ModelWeights, type LayerWeights } from './weights.ts';
import { readSafetensors, writeSafetensors, type Tensor } from './safetensors.ts';

const IGNORED = /\.rotary_emb\.inv_freq$/;

/** Every tensor name and shape a model of these weights' scheme and shape has. */
function layout(w: Pick<ModelWeights, 'scheme' | 'model'>, has: { k: (i: number) => boolean; v: (i: number) => boolean }): Map<string, number[]> {
  const { hiddenSize: H, intermediateSize: I, vocabSize: V, tieWordEmbeddings } = w.model;
  const { q: Hq, kv: Hkv } = w.scheme.heads;
  const D = w.scheme.headDim, Dv = w.scheme.valueDim;
  const m = new Map<string, number[]>([['model.embed_tokens.weight', [V, H]]]);
  for (let i = 0; i < w.scheme.layers; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}input_layernorm.weight`, [H]);
    m.set(`${p}self_attn.q_proj.weight`, [Hq * D, H]);
    if (has.k(i)) m.set(`${p}self_attn.k_proj.weight`, [Hkv * D, H]);
    if (has.v(i)) m.set(`${p}self_attn.v_proj.weight`, [Hkv * Dv, H]);
    m.set(`${p}self_attn.o_proj.weight`, [H, Hq * Dv]);
    m.set(`${p}post_attention_layernorm.weight`, [H]);
    m.set(`${p}mlp.gate_proj.weight`, [I, H]);
    m.set(`${p}mlp.up_proj.weight`, [I, H]);
    m.set(`${p}mlp.down_proj.weight`, [H, I]);
  }
  m.set('model.norm.weight', [H]);
  if (!tieWordEmbeddings) m.set('lm_head.weight', [V, H]);
  return m;
}

/** The tensors of a folder: one model.safetensors, or the shards its index names. */
function readTensors(dir: string): Map<string, Tensor> {
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  if (existsSync(single)) return readSafetensors(single);
  if (!existsSync(index)) throw new KvforgeError('KVF4014', `${dir} has neither model.safetensors nor model.safetensors.index.json`);
  let map: unknown;
  try {
    map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: unknown } | null)?.weight_map;
  } catch (e) {
    throw new KvforgeError('KVF4014', `${index}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new KvforgeError('KVF4014', `${index}: 'weight_map' is not an object of tensor name -> shard file`);
  const wanted = map as Record<string, unknown>;
  const out = new Map<string, Tensor>();
  for (const shard of new Set(Object.values(wanted))) {
    if (typeof shard !== 'string' || shard === '' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
      throw new KvforgeError('KVF4014', `${index}: shard ${JSON.stringify(shard)} is not a file name in the folder`);
    }
    if (!existsSync(path.join(dir, shard))) throw new KvforgeError('KVF4014', `${index}: shard ${shard} is listed but not in the folder`);
    for (const [name, t] of readSafetensors(path.join(dir, shard))) {
      if (wanted[name] !== shard) throw new KvforgeError('KVF4014', `${path.join(dir, shard)}: holds tensor ${name}, which the index ${wanted[name] === undefined ? 'does not list' : `puts in ${String(wanted[name])}`}`);
      out.set(name, t);
    }
  }
  const lost = Object.keys(wanted).filter((n) => !out.has(n));
  if (lost.length) throw new KvforgeError('KVF4014', `${index}: tensor ${lost[0]} is listed in ${String(wanted[lost[0]])}, which does not hold it`);
  return out;
}

export function loadCheckpoint(dir: string): ModelWeights {
  const cfgFile = path.join(dir, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(cfgFile, 'utf8'));
  } catch (e) {
    throw new KvforgeError(existsSync(cfgFile) ? 'KVF2010' : 'KVF4014', `${cfgFile}: ${existsSync(cfgFile) ? `not valid JSON (${(e as Error).message})` : 'is missing'}`);
  }
  const { scheme, model } = readModelConfig(json, { source: cfgFile, name: path.basename(path.resolve(dir)) });
  const tensors = readTensors(dir);
  const keys = new Set(scheme.table.map((l) => l.keysFrom)), values = new Set(scheme.table.map((l) => l.valuesFrom));
  const want = layout({ scheme, model }, { k: (i) => keys.has(i), v: (i) => values.has(i) });
  const extra = [...tensors.keys()].filter((n) => !want.has(n) && !IGNORED.test(n));
  if (extra.length) {
    throw new KvforgeError('KVF4014', `${dir}: tensor(s) ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''} have no place in scheme '${scheme.name}'`, {
      hint: /k_proj|v_proj/.test(extra[0]) ? 'a standard checkpoint under a sharing scheme needs converting first: convertToScheme(loadCheckpoint(standardDir), scheme)' : undefined,
    });
  }
  const get = (name: string): Float32Array => {
    const t = tensors.get(name) ?? (() => { throw new KvforgeError('KVF4014', `${dir}: tensor ${name} is missing`); })();
    const shape = want.get(name)!;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new KvforgeError('KVF4014', `${dir}: tensor ${name} has shape ${JSON.stringify(t.shape)}, config.json makes it ${JSON.stringify(shape)}`);
    }
    return t.data;
  };
  const embed = get('model.embed_tokens.weight');
  const layers = scheme.table.map((_, i): LayerWeights => {
    const p = `model.layers.${i}.`;
    return {
      inputNorm: get(`${p}input_layernorm.weight`), q: get(`${p}self_attn.q_proj.weight`),
      k: keys.has(i) ? get(`${p}self_attn.k_proj.weight`) : undefined, v: values.has(i) ? get(`${p}self_attn.v_proj.weight`) : undefined,
      o: get(`${p}self_attn.o_proj.weight`), postNorm: get(`${p}post_attention_layernorm.weight`),
      gate: get(`${p}mlp.gate_proj.weight`), up: get(`${p}mlp.up_proj.weight`), down: get(`${p}mlp.down_proj.weight`),
    };
  });
  return { scheme, model, embed, layers, norm: get('model.norm.weight'), lmHead: model.tieWordEmbeddings ? embed : get('lm_head.weight') };
}

/** Write weights as a folder loadCheckpoint reads: config.json and model.safetensors. */
export function saveCheckpoint(dir: string, w: ModelWeights, o: { dtype?: 'F32' | 'BF16'; config?: Record<string, unknown> } = {}): void {
  // Everything that can refuse runs before anything is written: no folder of weights without its config.
  checkWeights(w);
  const config = `${JSON.stringify(writeModelConfig(w.scheme, w.model, o.config), null, 2)}\n`;
  mkdirSync(dir, { recursive: true });
  const want = layout(w, { k: (i) => w.layers[i].k !== undefined, v: (i) => w.layers[i].v !== undefined });
  const data = new Map<string, Float32Array>([['model.embed_tokens.weight', w.embed], ['model.norm.weight', w.norm], ['lm_head.weight', w.lmHead]]);
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}.`;
    const put = (n: string, x: Float32Array | undefined) => x && data.set(p + n, x);
    put('input_layernorm.weight', l.inputNorm), put('post_attention_layernorm.weight', l.postNorm);
    put('self_attn.q_proj.weight', l.q), put('self_attn.k_proj.weight', l.k), put('self_attn.v_proj.weight', l.v), put('self_attn.o_proj.weight', l.o);
    put('mlp.gate_proj.weight', l.gate), put('mlp.up_proj.weight', l.up), put('mlp.down_proj.weight', l.down);
  });
  writeSafetensors(path.join(dir, 'model.safetensors'), new Map([...want].map(([name, shape]) => [name, { shape, data: data.get(name)! }])), o.dtype);
  const cfg = path.join(dir, 'config.json');
  writeFileSync(`${cfg}.${process.pid}.tmp`, config);
  renameSync(`${cfg}.${process.pid}.tmp`, cfg);
}
