/**
 * Schemes (semantics.md section 2): the named schemes give the strings semantics and LCKV's README
 * write; derived sets, iteration plans and cache plans of named and random schemes equal an
 * independent straightforward implementation written here; memory figures equal the formula;
 * bad declarations are KVF2009 at the user's line.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cla, crossLayer, lckv, layerTypes, mixAttentionPairs, printLayerTypes, sandwichMiddle, scheme, standard, yoco,
  type LayerTable, type SchemeSpec,
} from '../dsl/index.ts';
import { analyseLayers } from '../codegen/scheme/layers.ts';
import { iterationPlan, exactPromptLength } from '../codegen/scheme/iterationPlan.ts';
import { cachePlan, maxBatch, memoryFigures } from '../codegen/scheme/cachePlan.ts';
import { schemeVariants, variantMask } from '../codegen/scheme/variants.ts';
import { compileUnit } from '../codegen/pipeline.ts';
import { evaluateMask } from '../dsl/mask.ts';
import { caught } from './support/caught.ts';
import { tableArb } from './support/scheme-arbs.ts';

const seed = Number(process.env.FUZZ_SEED ?? 42);
const numRuns = Number(process.env.FUZZ_RUNS ?? 200);
const shape = { heads: { q: 8, kv: 2 }, headDim: 16 } as const;
const at22 = (kv: Parameters<typeof scheme>[0]['kv'], extra: object = {}) => scheme({ ...shape, layers: 22, kv, ...extra });
const types = (s: SchemeSpec) => printLayerTypes(s.table);
const rep = (n: number, x: string) => Array.from({ length: n }, () => x);

describe('named schemes give the strings of semantics.md and LCKV\'s README', () => {
  it.each([
    ['standard', standard(), Array.from({ length: 22 }, (_, i) => i).join('_')],
    ['LCKV w=2', lckv({ warmup: 2 }), ['0', ...rep(20, '20'), '21'].join('_')],
    ['sandwich-middle', sandwichMiddle(), ['0', ...rep(20, '10'), '21'].join('_')],
    ['CLA-2', cla(2), '0_0_2_2_4_4_6_6_8_8_10_10_12_12_14_14_16_16_18_18_20_20'],
    ['YOCO', yoco(), '0s_1s_2s_3s_4s_5s_6s_7s_8s_9s_10s_11_11_11_11_11_11_11_11_11_11_11'],
    ['MixAttention pairs', mixAttentionPairs(), '0_1s_1s_3s_3s_3s_0_7s_7s_9s_9s_9s_12_13s_13s_15s_15s_15s_12_19s_19s_19s'],
  ])('%s', (_, kv, expected) => {
    expect(types(at22(kv))).toBe(expected);
  });

  it('the study family: sandwich-top / -middle with n = 3 are LCKV and sandwich-middle; lasagna-bottom is CLA', () => {
    // 21 layers, reduction 7 -> n = 3: a = 1 self layer below, c = 1 above, group 1..19.
    const at21 = (kv: ReturnType<typeof crossLayer>) => types(scheme({ ...shape, layers: 21, kv }));
    expect(at21(crossLayer('sandwich', 'top', { reduction: 7 }))).toBe(['0', ...rep(19, '19'), '20'].join('_'));
    expect(at21(crossLayer('sandwich', 'middle', { reduction: 7 }))).toBe(['0', ...rep(19, '10'), '20'].join('_'));
    expect(at21(crossLayer('sandwich', 'bottom', { reduction: 7 }))).toBe(['0', ...rep(19, '1'), '20'].join('_'));
    expect(types(at22(crossLayer('lasagna', 'bottom', { reduction: 2 })))).toBe(types(at22(cla(2))));
    expect(types(at22(crossLayer('lasagna', 'top', { reduction: 2 })))).toBe('1_1_3_3_5_5_7_7_9_9_11_11_13_13_15_15_17_17_19_19_21_21');
    expect(types(at22(crossLayer('lasagna', 'middle', { reduction: 2 })))).toBe(types(at22(cla(2))));
    expect(types(scheme({ ...shape, layers: 8, kv: crossLayer('lasagna', 'middle', { reduction: 4 }) }))).toBe('1_1_1_1_5_5_5_5');
    // pizza: layers 0..n-2 self, n-1..L-1 one group. 22 layers, reduction 2 -> n = 11.
    expect(types(at22(crossLayer('pizza', 'bottom', { reduction: 2 })))).toBe([...Array.from({ length: 10 }, (_, i) => String(i)), ...rep(12, '10')].join('_'));
    expect(types(at22(crossLayer('pizza', 'top', { reduction: 2 })))).toBe([...Array.from({ length: 10 }, (_, i) => String(i)), ...rep(12, '21')].join('_'));
    expect(types(at22(crossLayer('pizza', 'middle', { reduction: 2 })))).toBe([...Array.from({ length: 10 }, (_, i) => String(i)), ...rep(12, '15')].join('_'));
    // lasagna with a last, shorter group: 6 layers, reduction 3 -> groups 0..2, 3..5; reduction 6 -> one group.
    expect(types(scheme({ ...shape, layers: 6, kv: crossLayer('lasagna', 'top', { reduction: 3 }) }))).toBe('2_2_2_5_5_5');
    expect(types(scheme({ ...shape, layers: 6, kv: crossLayer('pizza', 'top', { reduction: 6 }) }))).toBe('5_5_5_5_5_5');
  });

  it("LCKV's README conversion examples: 0_6_6_6_6_6_6_7 is lckv warmup 2 on 8 layers", () => {
    expect(types(scheme({ ...shape, layers: 8, kv: lckv({ warmup: 2 }) }))).toBe('0_6_6_6_6_6_6_7');
    expect(types(scheme({ ...shape, layers: 8, kv: lckv({ warmup: 0 }) }))).toBe('7_7_7_7_7_7_7_7');
    expect(types(scheme({ ...shape, layers: 8, kv: lckv({ warmup: 8 }) }))).toBe('0_1_2_3_4_5_6_7');
    expect(types(scheme({ ...shape, layers: 8, kv: cla(2) }))).toBe('0_0_2_2_4_4_6_6');
  });

  it('YOCO and MixAttention bring window 1024; an explicit window wins', () => {
    expect(at22(yoco()).window).toBe(1024);
    expect(at22(mixAttentionPairs()).window).toBe(1024);
    expect(at22(yoco(), { window: 256 }).window).toBe(256);
    expect(at22(lckv({ warmup: 2 })).window).toBe(4096);
  });

  it('patterns that cannot serve a layer count are KVF2009', () => {
    expect(caught(() => scheme({ ...shape, layers: 21, kv: mixAttentionPairs() })).message).toMatch(/defined for 22 layers/);
    expect(caught(() => scheme({ ...shape, layers: 22, kv: crossLayer('pizza', 'top', { reduction: 3 }) })).message).toMatch(/not a multiple of the reduction 3/);
    expect(caught(() => lckv({ warmup: 3 })).message).toMatch(/warmup must be even/);
    expect(caught(() => scheme({ ...shape, layers: 4, kv: lckv({ warmup: 6 }) })).message).toMatch(/more than the 4 layers/);
    expect(caught(() => crossLayer('pie' as 'pizza', 'top', { reduction: 2 })).message).toMatch(/unknown partition 'pie'/);
    expect(caught(() => crossLayer('pizza', 'up' as 'top', { reduction: 2 })).message).toMatch(/unknown target 'up'/);
    expect(caught(() => cla(0)).code).toBe('KVF2009');
  });
});

/** Independent derived sets and plans, straight from semantics.md's words. */
function independent(s: SchemeSpec) {
  const L = s.layers;
  const srcs = (i: number) => [s.table[i].keysFrom, s.table[i].valuesFrom];
  const computes = Array.from({ length: L }, (_, j) => s.table.some((l) => l.keysFrom === j || l.valuesFrom === j));
  const top = Array.from({ length: L }, (_, i) => srcs(i).some((j) => j > i));
  // Cyclic groups = unions of overlapping spans [i, target(i)] of top-attending layers.
  const spans: Array<[number, number]> = [];
  for (let i = 0; i < L; i++) if (top[i]) spans.push([i, Math.max(...srcs(i))]);
  const merged: Array<[number, number]> = [];
  for (const [a, b] of spans) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  const groups: Array<{ kind: string; first: number; last: number }> = [];
  let i = 0;
  for (const [a, b] of merged) {
    if (i < a) groups.push({ kind: 'plain', first: i, last: a - 1 });
    groups.push({ kind: 'cyclic', first: a, last: b });
    i = b + 1;
  }
  if (i < L) groups.push({ kind: 'plain', first: i, last: L - 1 });
  return { computes, top, groups };
}

const randomScheme = fc.record({
  table: tableArb(24),
  forceNoDiagonal: fc.boolean(),
  window: fc.integer({ min: 1, max: 64 }),
  m: fc.integer({ min: 1, max: 8 }), b: fc.integer({ min: 0, max: 3 }),
  split: fc.boolean(), salt: fc.integer({ min: 0, max: 1 << 20 }),
}).map(({ table, forceNoDiagonal, window, m, b, split, salt }) => {
  // Some layers take values from another layer than keys (the DSL's list form).
  const L = table.length;
  const kv = table.map((r, i) => (split && (salt >> (i % 20)) & 1 ? { keysFrom: r.keysFrom, valuesFrom: (r.keysFrom + i) % L, sliding: r.sliding } : { from: r.keysFrom, sliding: r.sliding }));
  return scheme({ ...shape, layers: L, kv, forceNoDiagonal, window, iterations: { m, b } });
});

describe(`derived sets, iteration plan and caches against an independent implementation (seed ${seed})`, () => {
  const check = (s: SchemeSpec) => {
    const ind = independent(s);
    const layers = analyseLayers(s);
    expect(layers.map((l) => l.computesKv)).toEqual(ind.computes);
    expect(layers.map((l) => l.attendsTop)).toEqual(ind.top);
    expect(layers.map((l) => l.diagonalMasked)).toEqual(ind.top.map((t) => t || s.forceNoDiagonal));
    expect(iterationPlan(s).map(({ kind, first, last }) => ({ kind, first, last }))).toEqual(ind.groups);
    for (const g of iterationPlan(s)) expect(g.passes).toBe(g.kind === 'cyclic' ? s.iterations.m + s.iterations.b : 1);
    expect(exactPromptLength(s)).toBe(ind.groups.some((g) => g.kind === 'cyclic') ? s.iterations.m + s.iterations.b : Infinity);
    // Every layer's reads stay inside its group or below it: a group never reads a later group's KV.
    for (const g of iterationPlan(s)) for (let i = g.first; i <= g.last; i++) for (const j of [s.table[i].keysFrom, s.table[i].valuesFrom]) expect(j).toBeLessThanOrEqual(g.last);
    // Caches: owners are the computing layers; keys/values as read; full when any reader is full.
    const plan = cachePlan(s);
    expect(plan.map((e) => e.owner)).toEqual(ind.computes.flatMap((c, j) => (c ? [j] : [])));
    for (const e of plan) {
      const readers = s.table.flatMap((l, i) => (l.keysFrom === e.owner || l.valuesFrom === e.owner ? [i] : []));
      expect(e.readers).toEqual(readers);
      expect(e.keys).toBe(s.table.some((l) => l.keysFrom === e.owner));
      expect(e.values).toBe(s.table.some((l) => l.valuesFrom === e.owner));
      // Linked caches (a reader takes keys from one, values from the other) keep the same tokens:
      // the class of owners reachable through split readers, full when any of theirs reads in full.
      const linked = new Set([e.owner]);
      for (let grew = true; grew;) {
        grew = false;
        for (const l of s.table) {
          if (l.keysFrom !== l.valuesFrom && (linked.has(l.keysFrom) || linked.has(l.valuesFrom)) && !(linked.has(l.keysFrom) && linked.has(l.valuesFrom))) {
            linked.add(l.keysFrom).add(l.valuesFrom);
            grew = true;
          }
        }
      }
      const anyFull = s.table.some((l) => !l.sliding && (linked.has(l.keysFrom) || linked.has(l.valuesFrom)));
      expect(e.retention).toEqual(anyFull ? { kind: 'full' } : { kind: 'window', window: s.window });
    }
    // Variants: each layer's variant admits exactly its mask (causal / noDiagonal, and the window).
    for (const v of schemeVariants(s)) {
      v.layers.forEach((li, n) => {
        const l = layers[li];
        const W = v.windows ? v.windows[n] : undefined;
        expect(W).toBe(l.window);
        // The variant's spec binds its first layer's window; each layer runs it with its own.
        const mask = n === 0 ? v.spec.mask! : variantMask(v.key, W, s.attention.mask);
        for (let q = 0; q < 70; q += 3) for (let k = 0; k < 72; k += 2) {
          const want = (l.diagonalMasked ? k < q : k <= q) && (W === undefined || q - W < k);
          expect(evaluateMask(mask, 0, 0, q, k)).toBe(want);
        }
      });
    }
  };
  it('named schemes', () => {
    for (const kv of [standard(), lckv({ warmup: 2 }), lckv({ warmup: 0 }), sandwichMiddle(), cla(2), cla(3), yoco(), mixAttentionPairs(), crossLayer('pizza', 'top', { reduction: 2 })]) check(at22(kv));
    check(at22(lckv({ warmup: 2 }), { forceNoDiagonal: true }));
  });
  it('regression examples: cycles, a layer reading below its group, touching spans', () => {
    for (const t of ['1_2s_0', '1_2s_0_3', '2_2_2_5_5_5', '0_3_3_3_1', '1_1_3_3', '3_0_0_3', '0s_0', '1_0']) check(scheme({ ...shape, layers: t.split('_').length, kv: t }));
  });
  it('random schemes', () => {
    fc.assert(fc.property(randomScheme, (s) => check(s)), { seed, numRuns });
  });
});

describe('cache plan and memory figures', () => {
  const bytes = { f32: 4, f16: 2, bf16: 2 } as const;
  it('full-attention schemes: (#computing layers) x one layer\'s KV, for every named scheme and dtype', () => {
    for (const dtype of ['f32', 'f16', 'bf16'] as const) {
      for (const [kv, caches] of [[standard(), 22], [lckv({ warmup: 2 }), 3], [sandwichMiddle(), 3], [cla(2), 11], [crossLayer('pizza', 'bottom', { reduction: 2 }), 11]] as const) {
        const s = at22(kv, { dtype });
        const one = s.heads.kv * (s.headDim + s.valueDim) * bytes[dtype];
        for (const C of [1, 100, 2048]) {
          const m = memoryFigures(s, C);
          expect(m.caches).toBe(caches);
          expect(m.bytesPerSequence).toBe(caches * one * C);
          expect(m.bytesPerToken).toBe(caches * one);
          expect(m.standardBytesPerToken).toBe(22 * one);
          expect(maxBatch(s, C, 1e9)).toBe(Math.floor(1e9 / (caches * one * C)));
        }
      }
    }
  });
  it('sliding caches hold min(C, W + WINDOW_SLACK) slots at the peak of a step; YOCO and MixAttention', () => {
    const y = at22(yoco());
    const one = y.heads.kv * 32 * 2;
    for (const C of [10, 1024, 1039, 1040, 1041, 4096]) expect(memoryFigures(y, C).bytesPerSequence).toBe(11 * one * Math.min(C, 1024 + 16) + one * C);
    const mix = at22(mixAttentionPairs());
    // Full caches 0 and 12; sliding 1, 3, 7, 9, 13, 15, 19.
    expect(cachePlan(mix).map((e) => `${e.owner}:${e.retention.kind}`)).toEqual(['0:full', '1:window', '3:window', '7:window', '9:window', '12:full', '13:window', '15:window', '19:window']);
    for (const C of [512, 4096]) expect(memoryFigures(mix, C).bytesPerSequence).toBe(2 * one * C + 7 * one * Math.min(C, 1024 + 16));
  });
  it('a full-attention reader keeps a sliding owner\'s whole history (what LCKV\'s cache loses)', () => {
    const s = scheme({ ...shape, layers: 2, kv: '0s_0', window: 8 });
    expect(cachePlan(s)[0]).toMatchObject({ owner: 0, retention: { kind: 'full' }, fullReaders: [1] });
    const t = scheme({ ...shape, layers: 2, kv: [{ from: 0, sliding: true, window: 8 }, { from: 0, sliding: true, window: 32 }] });
    expect(cachePlan(t)[0].retention).toEqual({ kind: 'window', window: 32 });
  });
  it('separate key and value sources cache only what is read', () => {
    const s = scheme({ ...shape, layers: 3, kv: [0, { keysFrom: 1, valuesFrom: 0 }, { keysFrom: 1, valuesFrom: 0 }] });
    expect(cachePlan(s).map((e) => [e.owner, e.keys, e.values, e.rowBytes])).toEqual([[0, true, true, 2 * 32 * 2], [1, true, false, 2 * 16 * 2]]);
    expect(analyseLayers(s)[1]).toMatchObject({ attendsTop: false, diagonalMasked: false });
  });
});

describe('kernels: one per variant, windows do not multiply them', () => {
  it('LCKV needs two kernels for 22 layers; YOCO two; MixAttention two', () => {
    expect(schemeVariants(at22(lckv({ warmup: 2 }))).map((v) => [v.key, v.layers.length])).toEqual([['causal', 3], ['noDiagonal', 19]]);
    expect(schemeVariants(at22(yoco())).map((v) => [v.key, v.layers.length])).toEqual([['causal', 11], ['window', 11]]);
    expect(schemeVariants(at22(mixAttentionPairs())).map((v) => v.key)).toEqual(['causal', 'window']);
  });
  it('layers with different windows share one run-time-parameter kernel id', () => {
    const s = scheme({ ...shape, layers: 3, kv: [{ from: 0, sliding: true, window: 8 }, { from: 1, sliding: true, window: 64 }, 2] });
    const [, win] = schemeVariants(s);
    expect(win.windows).toEqual([8, 64]);
    const other = scheme({ ...shape, layers: 3, kv: [{ from: 0, sliding: true, window: 64 }, { from: 1, sliding: true }, 2] });
    const a = compileUnit(win.spec, { paramMode: 'runtime' });
    const b = compileUnit(schemeVariants(other)[1].spec, { paramMode: 'runtime' });
    expect(a.id).toBe(b.id);
    expect(compileUnit(win.spec).id).not.toBe(compileUnit(schemeVariants(other)[1].spec).id);
  });
  it('the scheme\'s extra mask and score reach every variant', () => {
    const s = at22(lckv({ warmup: 2 }), { attention: { mask: crossMask, scale: 0.5 } });
    for (const v of schemeVariants(s)) {
      expect(v.spec.scale).toBe(0.5);
      expect(evaluateMask(v.spec.mask!, 0, 0, 5, 2)).toBe(false); // q - k = 3 is odd: the extra mask rejects it
      expect(evaluateMask(v.spec.mask!, 0, 0, 5, 3)).toBe(true);
    }
  });
});

import { defineMask } from '../dsl/index.ts';
const crossMask = defineMask((b, h, q, k) => (q - k) % 2 === 0, { name: 'evenDistance' });

describe('scheme() errors are KVF2009 at the user\'s line', () => {
  const line = (e: { location?: { file: string; line: number } }) => e.location?.file.endsWith('schemes.test.ts') ? e.location.line : -1;
  it.each([
    [() => scheme(undefined as never), /takes an options object/],
    [() => scheme({ ...shape, layers: 0 }), /layers must be an integer in 1\.\.4096/],
    [() => scheme({ ...shape, layers: 2.5 }), /layers must be an integer in 1\.\.4096/],
    [() => scheme({ ...shape, layers: 2, kv: [0] }), /kv lists 1 entries for 2 layers/],
    [() => scheme({ ...shape, layers: 2, kv: [0, 2] }), /kv\[1\]: the entry must be a layer index in 0..1, got 2/],
    [() => scheme({ ...shape, layers: 2, kv: [0, { from: -1 }] }), /kv\[1\]: from must be a layer index/],
    [() => scheme({ ...shape, layers: 2, kv: [0, { keysFrom: 0 } as never] }), /kv\[1\]: valuesFrom must be a layer index/],
    [() => scheme({ ...shape, layers: 2, kv: [0, { from: 0, window: 4 }] }), /a window is given but the layer is not sliding/],
    [() => scheme({ ...shape, layers: 2, kv: [0, { from: 0, slide: true } as never] }), /unknown field\(s\) 'slide'/],
    [() => scheme({ ...shape, layers: 2, kv: [0, null as never] }), /expected a layer index or an object, got null/],
    [() => scheme({ ...shape, layers: 2, kv: 7 as never }), /kv must be a layer_types string/],
    [() => scheme({ ...shape, layers: 2, windw: 3 } as never), /unknown option\(s\) 'windw'/],
    [() => scheme({ ...shape, layers: 2, window: 0 }), /window must be an integer in 1\.\.2147483647/],
    [() => scheme({ ...shape, layers: 2, iterations: { m: 0 } }), /iterations.m must be an integer in 1\.\.1024/],
    [() => scheme({ ...shape, layers: 2, iterations: { b: -1 } }), /iterations.b must be an integer in 0\.\.1024/],
    [() => scheme({ ...shape, layers: 2, decode: 'literal' as never }), /decode must be 'exact' or 'lckvLiteralZeroFill'/],
    [() => scheme({ ...shape, layers: 2, dtype: 'f64' as never }), /dtype must be one of f32, f16, bf16/],
    [() => scheme({ ...shape, layers: 2, forceNoDiagonal: 1 as never }), /forceNoDiagonal must be true or false/],
    [() => scheme({ ...shape, layers: 2, attention: { mask: ((b: number, h: number, q: number, k: number) => k <= q) as never } }), /expected a mask, got a plain function/],
    [() => scheme({ ...shape, layers: 2, attention: { masks: 1 } as never }), /attention: unknown field\(s\) 'masks'/],
  ])('%#', (f, re) => {
    const e = caught(f);
    expect(e.code).toBe('KVF2009');
    expect(e.message).toMatch(re);
    expect(line(e)).toBeGreaterThan(0);
  });
  it('head counts and dims keep their own codes, at the user\'s line', () => {
    const e = caught(() => scheme({ layers: 2, heads: { q: 6, kv: 4 }, headDim: 16 }));
    expect(e.code).toBe('KVF2003');
    expect(line(e)).toBeGreaterThan(0);
    expect(caught(() => scheme({ layers: 2, heads: { q: 4, kv: 4 }, headDim: 0 })).code).toBe('KVF2004');
  });
  it('a bad layer_types string is KVF2008 at the scheme() call', () => {
    const e = caught(() => scheme({ ...shape, layers: 3, kv: '0_1_3' }));
    expect(e.code).toBe('KVF2008');
    expect(e.message).toMatch(/token 2 \('3', layer 2\) at character 5/);
    expect(line(e)).toBeGreaterThan(0);
    expect(caught(() => scheme({ ...shape, layers: 3, kv: layerTypes('0_1') })).message).toMatch(/2 tokens for 3 layers/);
  });
  it('a scheme is frozen plain data', () => {
    const s = at22(lckv({ warmup: 2 }));
    expect(Object.isFrozen(s) && Object.isFrozen(s.table) && Object.isFrozen(s.table[3])).toBe(true);
    expect(s.name).toBe('lckv(warmup=2)');
    expect(JSON.parse(JSON.stringify(s.table))).toEqual(s.table as LayerTable);
  });
});

describe('regressions from a hostile review', () => {
  it('a hole in a kv list is KVF2009, not a crash later', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(caught(() => scheme({ ...shape, layers: 3, kv: [0, , 2] as never })).message).toMatch(/kv\[1\]: missing entry/);
    expect(caught(() => scheme({ ...shape, layers: 3, kv: new Array(3) as never })).message).toMatch(/kv\[0\]: missing entry/);
  });
  it('layer counts, windows and passes are bounded', () => {
    for (const layers of [4097, 2 ** 32, 1e9]) expect(caught(() => scheme({ ...shape, layers })).message).toMatch(/layers must be an integer in 1\.\.4096/);
    expect(caught(() => scheme({ ...shape, layers: 2, window: 2 ** 31 })).message).toMatch(/window must be an integer in 1\.\.2147483647/);
    expect(caught(() => scheme({ ...shape, layers: 2, kv: [0, { from: 0, sliding: true, window: 2 ** 40 }] })).message).toMatch(/kv\[1\]: window must be an integer/);
    expect(caught(() => scheme({ ...shape, layers: 2, iterations: { m: 1e300 } })).message).toMatch(/iterations\.m must be an integer in 1\.\.1024/);
    expect(caught(() => scheme({ ...shape, layers: 2, iterations: { m: 2, c: 1 } as never })).message).toMatch(/iterations: unknown field\(s\) 'c'/);
  });
  it('4096 layers that all read one sliding layer: no stack overflow, linear work', () => {
    const s = scheme({ ...shape, layers: 4096, kv: Array.from({ length: 4096 }, () => ({ from: 4095, sliding: true })) });
    expect(cachePlan(s)).toEqual([expect.objectContaining({ owner: 4095, retention: { kind: 'window', window: 4096 } })]);
    expect(iterationPlan(s)).toEqual([{ kind: 'cyclic', first: 0, last: 4095, passes: 9 }]);
  });
  it('the cross-layer study by KV layer count: sandwich-top / -middle with n = 3 on 22 layers are LCKV\'s', () => {
    expect(types(at22(crossLayer('sandwich', 'top', { kvLayers: 3 })))).toBe(types(at22(lckv({ warmup: 2 }))));
    expect(types(at22(crossLayer('sandwich', 'middle', { kvLayers: 3 })))).toBe(types(at22(sandwichMiddle())));
    expect(types(at22(crossLayer('pizza', 'bottom', { kvLayers: 11 })))).toBe(types(at22(crossLayer('pizza', 'bottom', { reduction: 2 }))));
    // lasagna: groups of `reduction` layers, the last one shorter.
    expect(types(scheme({ ...shape, layers: 7, kv: crossLayer('lasagna', 'bottom', { reduction: 3 }) }))).toBe('0_0_0_3_3_3_6');
    expect(caught(() => scheme({ ...shape, layers: 2, kv: crossLayer('pizza', 'top', { kvLayers: 3 }) })).message).toMatch(/3 KV layers are more than the 2 layers/);
  });
});

import { checkSchemeExport } from '../codegen/loadSchemes.ts';
describe('an export that only looks like a scheme', () => {
  const s = scheme({ ...shape, layers: 2 });
  it('is KVF4004 naming the export', () => {
    expect(caught(() => checkSchemeExport('f.ts', 'edited', { ...s, window: -5 })).message).toMatch(/f\.ts: export 'edited' looks like a scheme but is not one scheme\(\) accepts: window must be/);
    expect(caught(() => checkSchemeExport('f.ts', 'b', { ...s, table: [{ keysFrom: 7, valuesFrom: 7, sliding: false }, s.table[1]] })).message).toMatch(/kv\[0\]: keysFrom must be a layer index/);
    expect(caught(() => checkSchemeExport('f.ts', 'c', { ...s, heads: { q: 3, kv: 2 } })).code).toBe('KVF4004');
    expect(checkSchemeExport('f.ts', 'ok', s)).toBe(s);
  });
});

describe('scheme names', () => {
  it('a name with control or bidirectional characters is KVF2007 at the user\'s line; any other text is kept', () => {
    for (const name of ['a\nb', 'x\u001b[2J', 'rtl\u202eevil', '']) expect(caught(() => scheme({ ...shape, layers: 1, name })).code).toBe('KVF2007');
    expect(scheme({ ...shape, layers: 1, name: 'LCKV "w=2" */ ??/ \\' }).name).toBe('LCKV "w=2" */ ??/ \\');
  });
});
