/**
 * A tiny checkpoint written by the test (config.json + model.safetensors, LCKV's tensor names)
 * loads and gives the reference model's logits; sharded checkpoints load; every corruption or
 * truncation of a safetensors file, and every tensor that is missing, misshapen or out of place,
 * is KVF4014 naming the file and the tensor.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scheme } from '../dsl/index.ts';
import { loadCheckpoint, saveCheckpoint } from '../runtime/model/checkpoint.ts';
import { halfToFloat, readSafetensors, writeSafetensors } from '../runtime/model/safetensors.ts';
import { seededWeights, type ModelWeights } from '../runtime/model/weights.ts';
import { ReferenceModel } from '../runtime/verify/referenceModel.ts';
import { caught } from './support/caught.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'kvforge-ckpt-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const model = { hiddenSize: 8, intermediateSize: 12, vocabSize: 16, ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: false };
const lckv = scheme({ layers: 4, heads: { q: 2, kv: 1 }, headDim: 4, kv: '0_2_2_3', dtype: 'f32', iterations: { m: 3, b: 1 } });

function logitsOf(w: ModelWeights, tokens: number[]) {
  const ref = new ReferenceModel(w);
  const s = ref.newSequence();
  return tokens.map((t) => Array.from(ref.step(s, t)));
}

describe('checkpoints', () => {
  it('an LCKV checkpoint round-trips and the loaded model gives the same logits', () => {
    const w = seededWeights(lckv, model, 5);
    const dir = tmp();
    saveCheckpoint(dir, w, { config: { model_type: 'lckv-llama' } });
    const names = [...readSafetensors(path.join(dir, 'model.safetensors')).keys()];
    expect(names).toContain('model.layers.2.self_attn.k_proj.weight');
    expect(names).not.toContain('model.layers.1.self_attn.k_proj.weight'); // layer 1 computes no KV
    expect(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'lckv-llama', layer_types: '0_2_2_3' });
    const back = loadCheckpoint(dir);
    expect(back.scheme.table).toEqual(lckv.table);
    expect(logitsOf(back, [1, 5, 2, 7])).toEqual(logitsOf(w, [1, 5, 2, 7]));
  });
  it('tied embeddings write no lm_head; bf16 files load within bf16 rounding', () => {
    const w = seededWeights(lckv, { ...model, tieWordEmbeddings: true }, 6);
    const dir = tmp();
    saveCheckpoint(dir, w, { dtype: 'BF16' });
    expect(readSafetensors(path.join(dir, 'model.safetensors')).has('lm_head.weight')).toBe(false);
    const back = loadCheckpoint(dir);
    expect(back.lmHead).toBe(back.embed);
    back.embed.forEach((x, i) => expect(Math.abs(x - w.embed[i])).toBeLessThanOrEqual(Math.abs(w.embed[i]) / 128));
  });
  it('a sharded checkpoint (model.safetensors.index.json) loads', () => {
    const w = seededWeights(lckv, model, 7);
    const one = tmp();
    saveCheckpoint(one, w);
    const all = readSafetensors(path.join(one, 'model.safetensors'));
    const dir = tmp();
    const names = [...all.keys()];
    const halves = [names.slice(0, 10), names.slice(10)];
    const weightMap: Record<string, string> = {};
    halves.forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(path.join(dir, file), new Map(part.map((n) => [n, all.get(n)!])));
      for (const n of part) weightMap[n] = file;
    });
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    writeFileSync(path.join(dir, 'config.json'), readFileSync(path.join(one, 'config.json')));
    expect(logitsOf(loadCheckpoint(dir), [3, 3, 9])).toEqual(logitsOf(w, [3, 3, 9]));
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: '../evil.safetensors' } }));
    expect(caught(() => loadCheckpoint(dir)).message).toMatch(/shard "\.\.\/evil\.safetensors" is not a file name in the folder/);
  });

  describe('a corrupted or truncated file is KVF4014', () => {
    const w = seededWeights(lckv, model, 8);
    const good = tmp();
    saveCheckpoint(good, w);
    const bytes = readFileSync(path.join(good, 'model.safetensors'));
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLen));
    const withHeader = (h: unknown, tail = bytes.subarray(8 + headerLen)) => {
      const j = Buffer.from(JSON.stringify(h));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(j.length));
      return Buffer.concat([len, j, tail]);
    };
    const first = Object.keys(header)[0];
    const cases: Array<[string, Buffer, RegExp]> = [
      ['empty', Buffer.alloc(0), /holds 0 bytes, fewer than the 8/],
      ['truncated data', bytes.subarray(0, bytes.length - 3), /need \d+ bytes of data, the file holds \d+ \(truncated\)/],
      ['truncated header', bytes.subarray(0, 8 + Math.floor(headerLen / 2)), /says its header is \d+ bytes, but \d+ bytes follow/],
      ['huge header length', Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), bytes.subarray(8)]), /says its header is/],
      ['header not JSON', Buffer.concat([bytes.subarray(0, 8), Buffer.from('{'.padEnd(headerLen, 'x')), bytes.subarray(8 + headerLen)]), /header is not JSON/],
      ['header an array', withHeader([1, 2]), /header is not a JSON object/],
      ['unknown dtype', withHeader({ ...header, [first]: { ...header[first], dtype: 'F64' } }), /dtype "F64"; kvforge reads F32, F16 and BF16/],
      ['bad shape', withHeader({ ...header, [first]: { ...header[first], shape: [-1] } }), /shape \[-1\], not a list of non-negative integers/],
      ['offsets vs shape', withHeader({ ...header, [first]: { ...header[first], shape: [1] } }), /needs 4 bytes, its offsets span/],
      ['overlap', withHeader({ ...header, [first]: { ...header[first], data_offsets: [4, 4 + header[first].data_offsets[1] - header[first].data_offsets[0]] } }), /overlaps|gap of/],
      ['trailing bytes', Buffer.concat([bytes, Buffer.alloc(4)]), /4 bytes follow the last tensor/],
    ];
    it.each(cases)('%s', (_what, content, re) => {
      const dir = tmp();
      writeFileSync(path.join(dir, 'model.safetensors'), content);
      writeFileSync(path.join(dir, 'config.json'), readFileSync(path.join(good, 'config.json')));
      const e = caught(() => loadCheckpoint(dir));
      expect(e.code).toBe('KVF4014');
      expect(e.message).toContain(path.join(dir, 'model.safetensors'));
      expect(e.message).toMatch(re);
    });
    it('a truncated file on disk (truncateSync)', () => {
      const dir = tmp();
      saveCheckpoint(dir, w);
      truncateSync(path.join(dir, 'model.safetensors'), 100);
      expect(caught(() => loadCheckpoint(dir)).code).toBe('KVF4014');
    });
  });

  it('missing, misshapen and out-of-place tensors are KVF4014 naming them', () => {
    const w = seededWeights(lckv, model, 9);
    const src = tmp();
    saveCheckpoint(src, w);
    const all = readSafetensors(path.join(src, 'model.safetensors'));
    const cfg = readFileSync(path.join(src, 'config.json'));
    const variant = (edit: (m: Map<string, { shape: readonly number[]; data: Float32Array }>) => void) => {
      const dir = tmp();
      const m = new Map([...all].map(([n, t]) => [n, { shape: t.shape, data: t.data }]));
      edit(m);
      writeSafetensors(path.join(dir, 'model.safetensors'), m);
      writeFileSync(path.join(dir, 'config.json'), cfg);
      try {
        loadCheckpoint(dir);
        return 'loaded';
      } catch (e) {
        expect((e as { code?: string }).code).toBe('KVF4014');
        return (e as Error).message;
      }
    };
    expect(variant((m) => m.delete('model.norm.weight'))).toMatch(/tensor model\.norm\.weight is missing/);
    expect(variant((m) => m.set('model.norm.weight', { shape: [4, 2], data: new Float32Array(8) }))).toMatch(/model\.norm\.weight has shape \[4,2\], config\.json makes it \[8\]/);
    const standardLike = variant((m) => m.set('model.layers.1.self_attn.k_proj.weight', { shape: [4, 8], data: new Float32Array(32) }));
    expect(standardLike).toMatch(/model\.layers\.1\.self_attn\.k_proj\.weight have no place in scheme/);
    expect(standardLike).toMatch(/convertToScheme/);
    // RoPE's cached inverse frequencies are ignored.
    expect(variant((m) => m.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [2], data: new Float32Array(2) }))).toBe('loaded');
    const none = tmp();
    writeFileSync(path.join(none, 'config.json'), cfg);
    expect(caught(() => loadCheckpoint(none)).message).toMatch(/neither model\.safetensors nor model\.safetensors\.index\.json/);
    expect(caught(() => loadCheckpoint(tmp())).message).toMatch(/config\.json: is missing/);
  });

  it('binary16 bits decode exactly', () => {
    expect([0x3c00, 0xc000, 0x3800, 0x0001, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x7bff].map(halfToFloat)).toEqual([1, -2, 0.5, 2 ** -24, Infinity, -Infinity, 0, -0, 65504]);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });
});

describe('checkpoint regressions from a hostile review', () => {
  const w = seededWeights(lckv, model, 12);
  it('shards: a missing shard, a weight_map that is not an object, tensors in the wrong shard or not listed', () => {
    const one = tmp();
    saveCheckpoint(one, w);
    const all = readSafetensors(path.join(one, 'model.safetensors'));
    const names = [...all.keys()];
    const build = (mapOf: (n: string, i: number) => string, files: Record<string, string[]>) => {
      const dir = tmp();
      for (const [f, ns] of Object.entries(files)) writeSafetensors(path.join(dir, f), new Map(ns.map((n) => [n, all.get(n)!])));
      writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: Object.fromEntries(names.map((n, i) => [n, mapOf(n, i)])) }));
      writeFileSync(path.join(dir, 'config.json'), readFileSync(path.join(one, 'config.json')));
      return caught(() => loadCheckpoint(dir)).message;
    };
    const half = names.slice(0, 5), rest = names.slice(5);
    expect(build((_, i) => (i < 5 ? 'a.safetensors' : 'b.safetensors'), { 'a.safetensors': half })).toMatch(/shard b\.safetensors is listed but not in the folder/);
    expect(build((_, i) => (i < 5 ? 'a.safetensors' : 'b.safetensors'), { 'a.safetensors': [...half, rest[0]], 'b.safetensors': rest.slice(1) })).toMatch(/holds tensor .*, which the index puts in b\.safetensors/);
    expect(build(() => 'a.safetensors', { 'a.safetensors': half })).toMatch(/is listed in a\.safetensors, which does not hold it/);
    const dir = tmp();
    writeFileSync(path.join(dir, 'config.json'), readFileSync(path.join(one, 'config.json')));
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: ['x'] }));
    expect(caught(() => loadCheckpoint(dir)).message).toMatch(/'weight_map' is not an object/);
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), 'null');
    expect(caught(() => loadCheckpoint(dir)).message).toMatch(/'weight_map' is not an object/);
  });
  it('saveCheckpoint refuses before it writes anything', () => {
    const split = scheme({ layers: 2, heads: { q: 2, kv: 1 }, headDim: 4, kv: [0, { keysFrom: 1, valuesFrom: 0 }], dtype: 'f32' });
    const dir = path.join(tmp(), 'out');
    expect(caught(() => saveCheckpoint(dir, seededWeights(split, model, 1))).code).toBe('KVF2008');
    expect(existsSync(dir)).toBe(false);
    expect(caught(() => saveCheckpoint(dir, { ...w, norm: new Float32Array(2) })).message).toMatch(/norm holds 2 values/);
    expect(existsSync(dir)).toBe(false);
  });
  it('safetensors: an inherited name as dtype, a header that is not UTF-8, metadata that is not strings', () => {
    const bad = (header: unknown, raw?: Buffer) => {
      const j = raw ?? Buffer.from(JSON.stringify(header));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(j.length));
      const dir = tmp();
      writeFileSync(path.join(dir, 'x.safetensors'), Buffer.concat([len, j, Buffer.alloc(4)]));
      return caught(() => readSafetensors(path.join(dir, 'x.safetensors'))).message;
    };
    expect(bad({ a: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } })).toMatch(/dtype "toString"; kvforge reads F32, F16 and BF16/);
    expect(bad(undefined, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]))).toMatch(/header is not UTF-8/);
    expect(bad({ __metadata__: { a: 1 }, a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } })).toMatch(/'__metadata__' is not an object of strings/);
  });
});
