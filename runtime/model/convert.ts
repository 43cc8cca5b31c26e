/**
 * The seed's conversion of a standard checkpoint to a sharing scheme (semantics.md section 2,
 * "Weight averaging"; LCKV's convert_pretrained.py, following MLKV): each KV-computing layer's key
 * projection is the plain mean of the pretrained key projections of every layer that reads its
 * keys, and its value projection the mean of the value projections of every layer that reads its
 * values. Everything else is kept as it is; layers that compute no KV lose their K/V projections.
 *
 * `0_0_2_2` from a 4-layer model: layer 0 gets mean(k_0, k_1), layer 2 mean(k_2, k_3).
 * `0_6_6_6_6_6_6_7` from 8 layers: layer 6 gets the mean of layers 1..6; layers 0 and 7 keep theirs.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { analyseLayers } from '../../codegen/scheme/layers.ts';
import type { LayerWeights, ModelWeights } from './weights.ts';

export function convertToScheme(standard: ModelWeights, target: SchemeSpec): ModelWeights {
  const from = standard.scheme;
  const same = from.layers === target.layers && from.heads.q === target.heads.q && from.heads.kv === target.heads.kv
    && from.headDim === target.headDim && from.valueDim === target.valueDim;
  if (!same) {
    throw new KvforgeError('KVF2009', `convertToScheme: the checkpoint has ${from.layers} layers, heads ${from.heads.q}/${from.heads.kv}, head dims ${from.headDim}/${from.valueDim}; scheme '${target.name}' needs ${target.layers}, ${target.heads.q}/${target.heads.kv}, ${target.headDim}/${target.valueDim}`);
  }
  const missing = standard.layers.findIndex((l) => !l.k || !l.v);
  if (missing >= 0) throw new KvforgeError('KVF2009', `convertToScheme: layer ${missing} of the checkpoint has no key or value projection (convert a standard checkpoint)`);
  const mean = (rows: readonly number[], pick: (l: LayerWeights) => Float32Array): Float32Array => {
    const out = new Float64Array(pick(standard.layers[0]).length);
    for (const r of rows) {
      const w = pick(standard.layers[r]);
      for (let i = 0; i < w.length; i++) out[i] += w[i];
    }
    return Float32Array.from(out, (x) => x / rows.length);
  };
  const layers = analyseLayers(target).map((l, j): LayerWeights => {
    const keyReaders = target.table.flatMap((t, i) => (t.keysFrom === j ? [i] : []));
    const valueReaders = target.table.flatMap((t, i) => (t.valuesFrom === j ? [i] : []));
    return {
      ...standard.layers[j],
      k: l.cachesKeys ? mean(keyReaders, (w) => w.k!) : undefined,
      v: l.cachesValues ? mean(valueReaders, (w) => w.v!) : undefined,
    };
  });
  return { ...standard, scheme: target, layers };
}
