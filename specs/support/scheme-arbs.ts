/** Random sharing-scheme data for property tests. */
import fc from 'fast-check';
import type { LayerTable } from '../../dsl/index.ts';

/** A random valid table: L layers, each reading some layer in [0, L) (cycles included), some sliding. */
export const tableArb = (maxLayers = 40): fc.Arbitrary<LayerTable> => fc.integer({ min: 1, max: maxLayers }).chain((L) =>
  fc.array(fc.record({ from: fc.integer({ min: 0, max: L - 1 }), sliding: fc.boolean() }), { minLength: L, maxLength: L })
    .map((rows) => rows.map((r) => ({ keysFrom: r.from, valuesFrom: r.from, sliding: r.sliding }))));
