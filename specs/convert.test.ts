/** The seed's weight averaging (semantics.md section 2), on LCKV's README examples and split sources. */
import { describe, expect, it } from 'vitest';
import { scheme } from '../dsl/index.ts';
import { convertToScheme } from '../runtime/model/convert.ts';
import { seededWeights } from '../runtime/model/weights.ts';
import { caught } from './support/caught.ts';

const model = { hiddenSize: 8, intermediateSize: 16, vocabSize: 10, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false };
const shape = { heads: { q: 2, kv: 1 }, headDim: 4 } as const;
const meanOf = (xs: Float32Array[]) => Float32Array.from(xs[0], (_, i) => xs.reduce((s, x) => s + x[i], 0) / xs.length);

describe('convertToScheme', () => {
  const std8 = seededWeights(scheme({ ...shape, layers: 8 }), model, 3);
  it("LCKV's README: 0_6_6_6_6_6_6_7 averages layers 1..6 into layer 6; 0 and 7 keep theirs", () => {
    const w = convertToScheme(std8, scheme({ ...shape, layers: 8, kv: '0_6_6_6_6_6_6_7' }));
    expect(w.layers[0].k).toEqual(std8.layers[0].k);
    expect(w.layers[7].v).toEqual(std8.layers[7].v);
    const readers = [1, 2, 3, 4, 5, 6].map((i) => std8.layers[i]);
    expect(w.layers[6].k).toEqual(meanOf(readers.map((l) => l.k!)));
    expect(w.layers[6].v).toEqual(meanOf(readers.map((l) => l.v!)));
    for (const i of [1, 2, 3, 4, 5]) expect([w.layers[i].k, w.layers[i].v]).toEqual([undefined, undefined]);
    expect(w.layers[3].q).toBe(std8.layers[3].q);
  });
  it("LCKV's README: CLA 0_0_2_2_4_4_6_6 averages pairs", () => {
    const w = convertToScheme(std8, scheme({ ...shape, layers: 8, kv: '0_0_2_2_4_4_6_6' }));
    for (const j of [0, 2, 4, 6]) expect(w.layers[j].k).toEqual(meanOf([std8.layers[j].k!, std8.layers[j + 1].k!]));
  });
  it('separate sources: keys averaged over key readers, values over value readers, only what is read', () => {
    const std3 = seededWeights(scheme({ ...shape, layers: 3 }), model, 4);
    const w = convertToScheme(std3, scheme({ ...shape, layers: 3, kv: [0, { keysFrom: 1, valuesFrom: 0 }, { keysFrom: 1, valuesFrom: 0 }] }));
    expect(w.layers[0].v).toEqual(meanOf([0, 1, 2].map((i) => std3.layers[i].v!)));
    expect(w.layers[0].k).toEqual(std3.layers[0].k);
    expect(w.layers[1].k).toEqual(meanOf([std3.layers[1].k!, std3.layers[2].k!]));
    expect(w.layers[1].v).toBeUndefined();
  });
  it('a checkpoint of another shape, or one that is not standard, is KVF2009', () => {
    expect(caught(() => convertToScheme(std8, scheme({ ...shape, layers: 7 }))).message).toMatch(/checkpoint has 8 layers/);
    const lckv = convertToScheme(std8, scheme({ ...shape, layers: 8, kv: '0_6_6_6_6_6_6_7' }));
    expect(caught(() => convertToScheme(lckv, scheme({ ...shape, layers: 8 }))).message).toMatch(/layer 1 of the checkpoint has no key or value projection/);
  });
});
