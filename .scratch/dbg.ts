import { scheme } from '../dsl/index.ts';
import { sinkCache } from '../dsl/policy/policy.ts';
import { seededWeights } from '../runtime/model/weights.ts';
import { ReferenceModel } from '../runtime/verify/referenceModel.ts';
import { smallModel } from '../runtime/verify/schemeFuzz.ts';
const model = smallModel();
const kv = [{ from: 1, sliding: false }, { from: 0, sliding: true }, { from: 2, sliding: false }];
for (const policy of [undefined, [null, sinkCache({ sinks: 0, windowLength: 1 }), null], [null, null, sinkCache({ sinks: 0, windowLength: 1 })]]) {
  const s = scheme({ heads: { q: 4, kv: 2 }, headDim: 8, layers: 3, kv, window: 1, iterations: { m: 1, b: 0 }, dtype: 'f32', ...(policy ? { policy } : {}) });
  const w = seededWeights(s, model, 0);
  const ref = new ReferenceModel(w);
  const seq = ref.newSequence(0);
  console.log(JSON.stringify(policy?.map((p) => p?.kind ?? null)), ref.prefill(seq, [0])[0]!.slice(0, 3));
}
