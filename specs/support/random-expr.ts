/**
 * Random well-typed Expr IR (masks: int arithmetic and logic over b, h, q, k and int params), for
 * testing passes without going through the front end. Divisors are nonzero literals or the
 * parameter `d`, whose values are drawn nonzero.
 */
import fc from 'fast-check';
import { E, type Expr } from '../../codegen/ir/expr.ts';

const intLeaf: fc.Arbitrary<Expr> = fc.oneof(
  fc.constantFrom<Expr>(E.index('b'), E.index('h'), E.index('q'), E.index('k'), E.index('q'), E.index('k')),
  fc.integer({ min: -8, max: 8 }).map(E.int),
  // JavaScript's -0 (the literal `-0`, or folded from `0 * -1`): equal to 0 except as a divisor.
  fc.constant(E.int(-0)),
  fc.constant(E.param('w', 'int')),
);
const divisor: fc.Arbitrary<Expr> = fc.oneof(
  fc.integer({ min: 1, max: 7 }).chain((v) => fc.constantFrom(E.int(v), E.int(-v))),
  fc.constant(E.param('d', 'int')),
);

export const intExprArb: fc.Arbitrary<Expr> = fc.letrec<{ int: Expr; bool: Expr }>((tie) => ({
  int: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    intLeaf,
    fc.tuple(fc.constantFrom('add', 'sub', 'mul', 'min', 'max' as const), tie('int'), tie('int')).map(([f, a, b]) => E.binary(f, a, b)),
    fc.tuple(fc.constantFrom('floorDiv', 'mod' as const), tie('int'), divisor).map(([f, a, b]) => E.binary(f, a, b)),
    fc.tuple(fc.constantFrom('neg', 'abs' as const), tie('int')).map(([f, a]) => E.unary(f, a)),
    fc.tuple(tie('bool'), tie('int'), tie('int')).map(([c, a, b]) => E.select(c, a, b)),
  ),
  bool: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constantFrom('lt', 'le', 'gt', 'ge', 'eq', 'ne' as const), tie('int'), tie('int')).map(([f, a, b]) => E.binary(f, a, b)),
    fc.tuple(fc.constantFrom('and', 'or' as const), tie('bool'), tie('bool')).map(([f, a, b]) => E.binary(f, a, b)),
    tie('bool').map((a) => E.unary('not', a)),
    fc.boolean().map(E.bool),
  ),
})).int;

export const maskExprArb: fc.Arbitrary<Expr> = fc.letrec<{ int: Expr; bool: Expr }>((tie) => ({
  int: intExprArb,
  bool: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constantFrom('lt', 'le', 'gt', 'ge', 'eq', 'ne' as const), intExprArb, intExprArb).map(([f, a, b]) => E.binary(f, a, b)),
    fc.tuple(fc.constantFrom('and', 'or' as const), tie('bool'), tie('bool')).map(([f, a, b]) => E.binary(f, a, b)),
    tie('bool').map((a) => E.unary('not', a)),
  ),
})).bool;

/** Values of the params the generated expressions read: `w` any small int, `d` nonzero. */
export const paramsArb = fc.record({
  w: fc.integer({ min: -20, max: 300 }),
  d: fc.integer({ min: 1, max: 9 }).chain((v) => fc.constantFrom(v, -v)),
});

/** The fixed seed of this run: FUZZ_SEED, else 42. Goes into every property's title. */
export const SEED = Number(process.env.FUZZ_SEED ?? 42);
/** Runs per property: FUZZ_RUNS scales every campaign (default per test). */
export function runs(base: number): number {
  return process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : base;
}
