/**
 * Printed literals mean exactly the IR's number (issue 6 defect 1): for every finite double x,
 * the printed float literal is Math.fround(x) and the printed double literal is x, checked by an
 * independent exact reader (support/c-literals.ts) and by g++ itself, which prints the bits of
 * what it read. And the sign of zero of JavaScript's integers survives toFloat in a compiled
 * kernel expression (`s / -(q - k)` is -Infinity at q = k in JavaScript).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CPP_DIALECT } from '../codegen/backends/cfamily/dialect.ts';
import { printDoubleLiteral, printFloatLiteral, printIntLiteral } from '../codegen/backends/cfamily/literals.ts';
import { printExpr } from '../codegen/backends/cfamily/printer.ts';
import { E, type Expr } from '../codegen/ir/expr.ts';
import { interpret } from '../codegen/ir/interpret.ts';
import { PACKAGE_ROOT } from '../runtime/build/paths.ts';
import { float32Bits, float64Bits, parseCFloatLiteral } from './support/c-literals.ts';
import { intExprArb, paramsArb, runs, SEED } from './support/random-expr.ts';

const MIN_NORMAL = 2 ** -1022;
/** Doubles where rounding is delicate: subnormals, float32's edges and midpoints, 2^53. */
const EDGES = [
  0, -0, Number.MIN_VALUE, -Number.MIN_VALUE, MIN_NORMAL, MIN_NORMAL - Number.MIN_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE,
  2 ** -149, 2 ** -150, 3 * 2 ** -151, 2 ** -126, 2 ** -126 - 2 ** -150, 3.4028234663852886e38, 3.4028235677973366e38,
  3.4028235677973362e38, 1 + 2 ** -24, 1 + 2 ** -24 + 2 ** -52, 16777217, 2 ** 53, 2 ** 53 + 2, 0.1, 1e-7, 1e21, 5e-324,
];
const doubles = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: -MIN_NORMAL, max: MIN_NORMAL, noNaN: true }),
  fc.float({ noNaN: true, noDefaultInfinity: true }).map((f) => f * (1 + 2 ** -30)), // near a float, off it
  fc.constantFrom(...EDGES),
);

function expectFloat(text: string, x: number): void {
  const f = Math.fround(x);
  if (!Number.isFinite(f)) {
    expect(text).toBe(f > 0 ? 'INFINITY' : '-INFINITY');
    return;
  }
  const read = parseCFloatLiteral(text);
  expect(read.isFloat).toBe(true);
  if (!Object.is(read.value, f)) throw new Error(`${x}: printed ${text}, read back ${read.value}, Math.fround ${f}`);
}

describe(`printed literals round-trip exactly (seed ${SEED})`, () => {
  it('print(parse(x)) == x for doubles, Math.fround(x) for floats (independent exact reader)', () => {
    fc.assert(fc.property(doubles, (x) => {
      expectFloat(printFloatLiteral(x), x);
      const d = parseCFloatLiteral(printDoubleLiteral(x));
      if (d.isFloat || !Object.is(d.value, x)) throw new Error(`${x}: printed ${printDoubleLiteral(x)}, read ${d.value}`);
    }), { seed: SEED, numRuns: runs(20000) });
    for (const x of EDGES) expectFloat(printFloatLiteral(x), x);
  });

  it('integers near 2^31 and 2^53 print as int64 literals of the same value', () => {
    const near = (c: number) => fc.integer({ min: -4, max: 4 }).map((d) => c + d);
    fc.assert(fc.property(fc.oneof(near(2 ** 31), near(-(2 ** 31)), near(2 ** 53 - 4), near(-(2 ** 53 - 4)), fc.maxSafeInteger()), (v) => {
      expect(BigInt(printIntLiteral(v).replace(/LL$/, ''))).toBe(BigInt(v));
    }), { seed: SEED, numRuns: runs(500) });
    expect(printIntLiteral(2147483647)).toBe('2147483647');
    expect(printIntLiteral(-2147483648)).toBe('-2147483648LL');
    expect(printIntLiteral(2 ** 53)).toBe('9007199254740992LL');
  });
});

/** Compile `source` with g++ -std=c++17 in a temp dir and run it: its stdout. */
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
function runCpp(source: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kvf-literals-'));
  dirs.push(dir);
  const src = path.join(dir, 'check.cpp');
  writeFileSync(src, source);
  execFileSync('g++', ['-std=c++17', '-O1', '-I', path.join(PACKAGE_ROOT, 'runtime/native/include'), src, '-o', path.join(dir, 'check')], { stdio: 'pipe' });
  return execFileSync(path.join(dir, 'check'), { encoding: 'utf8', maxBuffer: 64 << 20 });
}

describe(`g++ reads the printed literals as JavaScript's values (seed ${SEED})`, () => {
  it('double literals give the Float64 bits, float literals the Math.fround bits, int64 literals the value', () => {
    const xs = [...EDGES, ...fc.sample(doubles, { seed: SEED, numRuns: runs(3000) })];
    const ints = [...fc.sample(fc.oneof(fc.maxSafeInteger(), fc.integer({ min: -(2 ** 31) - 8, max: -(2 ** 31) + 8 }), fc.integer({ min: 2 ** 31 - 8, max: 2 ** 31 + 8 })), { seed: SEED, numRuns: 500 }), 2 ** 53, -(2 ** 53)];
    const out = runCpp(`#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
static const double d[] = {${xs.map(printDoubleLiteral).join(',\n')}};
static const float f[] = {${xs.map(printFloatLiteral).join(',\n')}};
static const int64_t n[] = {${ints.map(printIntLiteral).join(',\n')}};
int main() {
  for (double v : d) { uint64_t b; std::memcpy(&b, &v, 8); std::printf("%016" PRIx64 "\\n", b); }
  for (float v : f) { uint32_t b; std::memcpy(&b, &v, 4); std::printf("%08" PRIx32 "\\n", b); }
  for (int64_t v : n) std::printf("%" PRId64 "\\n", v);
}
`).trim().split('\n');
    const want = [...xs.map(float64Bits), ...xs.map((x) => float32Bits(Math.fround(x))), ...ints.map(String)];
    expect(out.length).toBe(want.length);
    const bad = out.map((got, i) => ({ got, want: want[i], i })).filter((r) => r.got !== r.want);
    expect(bad.slice(0, 5)).toEqual([]);
  });

  it('toFloat of an int keeps JavaScript\'s sign of zero (and value) in a compiled expression', () => {
    const exprs: Expr[] = [
      E.unary('neg', E.binary('sub', E.index('q'), E.index('k'))), E.int(-0), E.binary('mod', E.index('q'), E.int(3)),
      E.binary('mul', E.index('k'), E.int(-1)), E.binary('floorDiv', E.unary('neg', E.index('q')), E.int(4)),
      E.binary('min', E.int(0), E.unary('neg', E.index('q'))), E.binary('max', E.unary('neg', E.index('q')), E.int(0)),
      E.binary('add', E.unary('neg', E.index('q')), E.int(-0)), E.binary('sub', E.int(-0), E.index('q')),
      ...fc.sample(intExprArb, { seed: SEED, numRuns: runs(300) }),
    ];
    const points = fc.sample(fc.record({ b: fc.integer({ min: 0, max: 2 }), h: fc.integer({ min: 0, max: 2 }), q: fc.integer({ min: -6, max: 6 }), k: fc.integer({ min: -6, max: 6 }), p: paramsArb }), { seed: SEED, numRuns: 24 });
    const fns = exprs.map((e, i) => `static float f${i}(float s, int64_t b, int64_t h, int64_t q, int64_t k, int64_t p_w, int64_t p_d) {
  (void)s; (void)b; (void)h; (void)q; (void)k; (void)p_w; (void)p_d;
  return ${printExpr(E.unary('toFloat', e), CPP_DIALECT)};
}`);
    const out = runCpp(`#include <cinttypes>
#include <cstdio>
#include <cstring>
#include "kvforge/expr_ops.hpp"
${fns.join('\n')}
typedef float (*Fn)(float, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
static const Fn fns[] = {${exprs.map((_, i) => `f${i}`).join(', ')}};
static const int64_t pts[][6] = {${points.map((p) => `{${p.b}, ${p.h}, ${p.q}, ${p.k}, ${p.p.w}, ${p.p.d}}`).join(', ')}};
int main() {
  for (Fn f : fns) for (const auto& p : pts) {
    float v = f(1.0f, p[0], p[1], p[2], p[3], p[4], p[5]); uint32_t bits; std::memcpy(&bits, &v, 4); std::printf("%08" PRIx32 "\\n", bits);
  }
}
`).trim().split('\n');
    let i = 0;
    for (const e of exprs) {
      for (const p of points) {
        const want = float32Bits(Math.fround(interpret(e, { b: p.b, h: p.h, q: p.q, k: p.k, params: p.p }) as number));
        if (out[i] !== want) throw new Error(`${printExpr(e, CPP_DIALECT)} at ${JSON.stringify(p)}: kernel ${out[i]}, JavaScript ${want}`);
        i++;
      }
    }
  });
});
