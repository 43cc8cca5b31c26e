import { scheme } from '../dsl/index.ts';
import { sinkCache } from '../dsl/policy/policy.ts';
import { Executor } from '../runtime/model/executor.ts';
import { seededWeights } from '../runtime/model/weights.ts';
import { ReferenceModel } from '../runtime/verify/referenceModel.ts';
import { smallModel } from '../runtime/verify/schemeFuzz.ts';
const model = smallModel();
const kv = [{ from: 2, sliding: true }, { from: 0, sliding: false }, { from: 1, sliding: true }];
for (const policy of [undefined, [sinkCache({ sinks: 0, windowLength: 1 }), null, null]]) {
  const s = scheme({ heads: { q: 4, kv: 2 }, headDim: 8, layers: 3, kv, window: 1, iterations: { m: 1, b: 0 }, dtype: 'bf16', ...(policy ? { policy } : {}) });
  const w = seededWeights(s, model, 1073725428);
  const ex = await Executor.create(w, { cacheDType: 'bf16' });
  const b = ex.newBatch(1);
  const got = await ex.prefill(b, [[26, 0]]);
  const ref = new ReferenceModel(w, { cacheDType: 'bf16' });
  const want = ref.prefill(ref.newSequence(0), [26, 0]);
  let d = 0; for (let i = 0; i < 32; i++) d = Math.max(d, Math.abs(got[i]! - want[0]![i]!));
  console.log(policy ? 'sinks' : 'none', 'max diff token 0', d.toExponential(2));
}
