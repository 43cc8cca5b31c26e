/**
 * The C-family printer: C and JavaScript agree on the precedence and meaning of every integer
 * operator the printer emits (+ - * % < <= > >= == != && || ! ?:), so a printed mask, evaluated as
 * JavaScript with the kvf:: helpers supplied, must equal the interpreter. This checks parentheses
 * on random programs without a C compiler; the kernel suites then compile the same text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CPP_DIALECT } from '../codegen/backends/cfamily/dialect.ts';
import { printExpr, printFloatLiteral } from '../codegen/backends/cfamily/printer.ts';
import { E } from '../codegen/ir/expr.ts';
import { interpret } from '../codegen/ir/interpret.ts';
import { maskExprArb, paramsArb, runs, SEED } from './support/random-expr.ts';

const kvf = {
  floor_div: (a: number, b: number) => Math.floor(a / b),
  imin: Math.min, imax: Math.max, iabs: Math.abs,
};

function asJs(text: string): (b: number, h: number, q: number, k: number, w: number, d: number) => unknown {
  // static_cast<int64_t>(x) widens a literal for C; in JavaScript it is x itself.
  const js = text.replace(/kvf::/g, 'kvf.').replace(/static_cast<int64_t>/g, '');
  return new Function('kvf', `return (b, h, q, k, p_w, p_d) => (${js});`)(kvf);
}

describe(`C-family printer (seed ${SEED})`, () => {
  it('printed masks keep the meaning of the IR', () => {
    const idx = fc.integer({ min: -200, max: 200 });
    fc.assert(fc.property(maskExprArb, idx, idx, paramsArb, (e, q, k, params) => {
      const f = asJs(printExpr(e, CPP_DIALECT));
      expect(f(1, 2, q, k, params.w, params.d)).toBe(interpret(e, { b: 1, h: 2, q, k, params }));
    }), { seed: SEED, numRuns: runs(3000) });
  });

  it('never prints a decrement, and parenthesises only where needed', () => {
    const q = E.index('q');
    const k = E.index('k');
    expect(printExpr(E.unary('neg', E.int(-5)), CPP_DIALECT)).toBe('-(-5)');
    expect(printExpr(E.unary('neg', E.unary('neg', q)), CPP_DIALECT)).toBe('-(-q)');
    expect(printExpr(E.binary('sub', q, E.binary('sub', k, E.int(1))), CPP_DIALECT)).toBe('q - (k - 1)');
    expect(printExpr(E.binary('sub', E.binary('sub', q, k), E.int(1)), CPP_DIALECT)).toBe('q - k - 1');
    expect(printExpr(E.binary('mul', E.binary('add', q, k), E.int(2)), CPP_DIALECT)).toBe('(q + k) * 2');
    expect(printExpr(E.binary('or', E.binary('lt', k, E.int(4)), E.binary('and', E.bool(true), E.binary('le', k, q))), CPP_DIALECT))
      .toBe('k < 4 || (true && k <= q)');
    expect(printExpr(E.select(E.binary('lt', q, k), q, E.select(E.bool(false), k, q)), CPP_DIALECT)).toBe('q < k ? q : false ? k : q');
  });

  it('prints float literals that C reads back as the same float', () => {
    expect(printFloatLiteral(30)).toBe('30.0f');
    expect(printFloatLiteral(0.1732867956161499)).toBe('0x1.62e43p-3f');
    expect(printFloatLiteral(-0.0625)).toBe('-0.0625f');
    expect(printFloatLiteral(-0)).toBe('-0.0f');
    // 1e-7 is not a float: Math.fround(1e-7), written exactly (was '1e-7f').
    expect(printFloatLiteral(1e-7)).toBe('0x1.ad7f2ap-24f');
    expect(printFloatLiteral(-Infinity)).toBe('-INFINITY');
    expect(printFloatLiteral(Number.NaN)).toBe('NAN');
  });
});
