import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpret } from '../codegen/ir/interpret.ts';
import { E, type Expr } from '../codegen/ir/expr.ts';
import { foldConstants } from '../codegen/passes/foldConstants.ts';
import { bindParams } from '../codegen/passes/bindParams.ts';
import { boundIntervals } from '../codegen/passes/boundIntervals.ts';
import { classifyTile, classifyTiles, TILE_EMPTY, TILE_FULL, TILE_PARTIAL } from '../codegen/passes/classifyTiles.ts';
import { intExprArb, maskExprArb, paramsArb, runs, SEED } from './support/random-expr.ts';

const idx = fc.integer({ min: -300, max: 300 });
const env = fc.record({ b: fc.integer({ min: 0, max: 3 }), h: fc.integer({ min: 0, max: 7 }), q: idx, k: idx });

describe(`passes preserve meaning (seed ${SEED})`, () => {
  it('foldConstants', () => {
    fc.assert(fc.property(maskExprArb, env, paramsArb, (e, i, params) => {
      expect(interpret(foldConstants(e), { ...i, params })).toBe(interpret(e, { ...i, params }));
    }), { seed: SEED, numRuns: runs(2000) });
  });

  it('bindParams then foldConstants', () => {
    fc.assert(fc.property(maskExprArb, env, paramsArb, (e, i, params) => {
      expect(interpret(foldConstants(bindParams(e, params)), { ...i, params: {} })).toBe(interpret(e, { ...i, params }));
    }), { seed: SEED, numRuns: runs(2000) });
  });

  it('folds constant subtrees and logic with a constant side', () => {
    const q = E.index('q');
    expect(foldConstants(E.binary('add', E.int(2), E.int(3)))).toEqual(E.int(5));
    expect(foldConstants(E.binary('and', E.bool(true), E.binary('lt', q, E.int(1))))).toEqual(E.binary('lt', q, E.int(1)));
    expect(foldConstants(E.binary('or', E.binary('lt', q, E.int(1)), E.bool(true)))).toEqual(E.bool(true));
    expect(foldConstants(E.binary('floorDiv', E.int(-7), E.int(2)))).toEqual(E.int(-4));
  });
});

describe(`interval bounds are sound (seed ${SEED})`, () => {
  const range = fc.tuple(idx, fc.integer({ min: 0, max: 12 })).map(([lo, w]) => ({ lo, hi: lo + w }));
  it('every value over a box lies within the bounds', () => {
    fc.assert(fc.property(intExprArb, range, range, paramsArb, (e, qr, kr, params) => {
      const r = boundIntervals(e, {
        indices: { b: { lo: 1, hi: 1 }, h: { lo: 2, hi: 2 }, q: qr, k: kr },
        params: { w: { lo: params.w, hi: params.w }, d: { lo: params.d, hi: params.d } },
      });
      for (let q = qr.lo; q <= qr.hi; q++) {
        for (let k = kr.lo; k <= kr.hi; k++) {
          const v = interpret(e, { b: 1, h: 2, q, k, params }) as number;
          if (v < r.lo || v > r.hi) throw new Error(`value ${v} at q=${q} k=${k} outside [${r.lo}, ${r.hi}]`);
        }
      }
    }), { seed: SEED, numRuns: runs(1500) });
  });
});

describe(`tile classification is sound (seed ${SEED})`, () => {
  // Random positions (sorted with gaps, or shuffled) and tile sizes; brute force every element.
  const positions = (n: number) => fc.array(fc.integer({ min: -40, max: 200 }), { minLength: n, maxLength: n });
  const grid = fc.record({
    Lq: fc.integer({ min: 1, max: 40 }), Lk: fc.integer({ min: 1, max: 60 }),
    tileQ: fc.integer({ min: 1, max: 16 }), tileK: fc.integer({ min: 1, max: 32 }), sorted: fc.boolean(),
  }).chain((g) => fc.record({ g: fc.constant(g), qpos: positions(g.Lq), kpos: positions(g.Lk) }));

  it('EMPTY tiles admit nothing, FULL tiles admit everything', () => {
    fc.assert(fc.property(maskExprArb, grid, paramsArb, (mask, { g, qpos, kpos }, params) => {
      if (g.sorted) { qpos.sort((a, b) => a - b); kpos.sort((a, b) => a - b); }
      const B = 2;
      const Hq = 3;
      const t = classifyTiles(mask, { B, Hq, tileQ: g.tileQ, tileK: g.tileK, qpos, kpos, params });
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < Hq; h++) {
          for (let i = 0; i < g.Lq; i++) {
            for (let j = 0; j < g.Lk; j++) {
              const c = t.map[(((t.mapB === 1 ? 0 : b) * t.mapH + (t.mapH === 1 ? 0 : h)) * t.nQt + Math.floor(i / g.tileQ)) * t.nKt + Math.floor(j / g.tileK)]!;
              const admitted = interpret(mask, { b, h, q: qpos[i]!, k: kpos[j]!, params });
              if ((c === TILE_EMPTY && admitted) || (c === TILE_FULL && !admitted)) {
                throw new Error(`tile class ${c} wrong at b=${b} h=${h} row ${i} slot ${j}`);
              }
            }
          }
        }
      }
    }), { seed: SEED, numRuns: runs(600) });
  });

  it('is tight where it matters: causal and windows skip and spare the right tiles', () => {
    const q = E.index('q');
    const k = E.index('k');
    const causal = E.binary('le', k, q);
    const at = (qlo: number, qhi: number, klo: number, khi: number) =>
      classifyTile(causal, { b: { lo: 0, hi: 0 }, h: { lo: 0, hi: 0 }, q: { lo: qlo, hi: qhi }, k: { lo: klo, hi: khi } }, {});
    expect(at(0, 63, 128, 255)).toBe(TILE_EMPTY);
    expect(at(128, 191, 0, 127)).toBe(TILE_FULL);
    expect(at(64, 127, 0, 127)).toBe(TILE_PARTIAL);
    const qpos = Int32Array.from({ length: 4096 }, (_, i) => i);
    const window = E.binary('and', E.binary('lt', E.binary('sub', q, E.int(256)), k), causal);
    const t = classifyTiles(window, { B: 1, Hq: 1, tileQ: 64, tileK: 128, qpos, kpos: qpos, params: {} });
    const empty = t.map.filter((c) => c === TILE_EMPTY).length / t.map.length;
    expect(empty).toBeGreaterThan(0.88);
  });
});
