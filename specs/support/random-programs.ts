/**
 * Random, well-typed mask and score programs as JavaScript source text, for fuzz tests that
 * compare the original function with its translation (front end) or with a generated kernel.
 *
 * Literals are drawn from JavaScript's whole numeric grammar (spellInt, spellFloat): hex, octal,
 * binary, separators, leading and trailing dots, exponents, -0, integers near 2^31 and 2^53 (in
 * comparisons), tiny and huge exponent forms (as factors and divisors of scores).
 *
 * Masks are integer logic over b, h, q, k and int parameters. Every product has a literal or a
 * parameter (|value| <= 64) on one side and expressions nest at most 4 deep, so for indices with
 * |x| <= 2^20 every intermediate value stays below 2^44: exact in float64 (JavaScript) and int64
 * (kernels) alike.
 *
 * Scores are tame float expressions: assuming |s| <= 10, |q - k| <= 4096, 0 <= b, h <= 64 and
 * float parameters in [0.25, 4], every program's value is at most 50 in magnitude. Each
 * subexpression is generated against a budget (the bound its value must keep) so that float32
 * kernels and the float64 reference stay comparable. Scores avoid Math.floor and float
 * comparisons, whose results can jump between float32 and float64.
 */
import fc from 'fast-check';
import type { ParamDecls, ParamType } from '../../dsl/types.ts';

/** A random program: the whole function as source text, and the parameters it reads. */
export interface RandomProgram {
  readonly role: 'mask' | 'score';
  /** `(b, h, q, k, p) => ...` or `(s, b, h, q, k, p) => ...`, possibly a block body with consts. */
  readonly source: string;
  /** Exactly the parameters the source reads (`p.i0`, `p.f1`, ...). */
  readonly params: ParamDecls;
}

/** Names of the int32 and float32 parameters programs may read. */
export const INT_PARAMS = ['i0', 'i1', 'i2'] as const;
export const FLOAT_PARAMS = ['f0', 'f1'] as const;

/** Bounds the generated values are designed for (see the module comment). */
export const PROGRAM_BOUNDS = {
  maxDepth: 4,
  maxIntParam: 64,
  floatParam: { min: 0.25, max: 4 },
  maxScore: 50,
} as const;

/** `12345` -> `12_345` (numeric separators between digit groups). */
const separated = (digits: string): string => digits.replace(/\B(?=(\d{3})+$)/g, '_');

/**
 * The integer `v` written in any of JavaScript's spellings of it: decimal, hex, octal, binary,
 * with separators, a trailing dot, `.0`, an exponent; negatives as `(-<spelling>)`. The front end
 * must read each as the number the engine computes (issue 6 defect 1).
 */
export function spellInt(v: number): fc.Arbitrary<string> {
  const a = Math.abs(v);
  const forms = [String(a), `0x${a.toString(16).toUpperCase()}`, `0o${a.toString(8)}`, `0b${a.toString(2)}`,
    separated(String(a)), `${a}.`, `${a}.0`, `${a}e0`];
  if (a !== 0) forms.push(`${a}0e-1`);
  if (a !== 0 && a % 10 === 0) forms.push(`${a / 10}e1`, `${a / 10}E+1`);
  return fc.constantFrom(...forms).map((t) => (v < 0 || Object.is(v, -0) ? `(-${t})` : t));
}

/** The double `v` in its decimal spellings: shortest, exponent form, leading dot, trailing zeros. */
export function spellFloat(v: number): fc.Arbitrary<string> {
  if (Number.isSafeInteger(v) || Object.is(v, -0)) return spellInt(v);
  const a = Math.abs(v);
  const s = String(a);
  const forms = [s, a.toExponential(), `${s}00`];
  if (s.startsWith('0.')) forms.push(s.slice(1), `${s.slice(1)}e0`);
  if (/e/.test(s)) forms.push(s.replace('e', 'E'));
  return fc.constantFrom(...forms).map((t) => (v < 0 || Object.is(v, -0) ? `(-${t})` : t));
}

/** Integers near the edges: int32's, 2^32 and the exact range of doubles (compared, never combined). */
export const EDGE_INTEGERS = [2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) + 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 52 + 1] as const;
/** Tiny and huge literals of every exponent form: a score multiplies by a tiny one, divides by a huge one. */
export const TINY_LITERALS = ['1e-7', '0.0000005', '5e-25', '1e-30', '5E-324', '1_0e-8', '.1e-6'] as const;
export const HUGE_LITERALS = ['1e21', '1e30', '5e25', '1_000e18', '1E+21', '0x1000000000000000000'] as const;

const intLiteral = fc.integer({ min: -8, max: 8 }).chain(spellInt);
const nonzeroLiteral = fc.integer({ min: -8, max: 8 }).filter((v) => v !== 0).chain(spellInt);
const edgeLiteral = fc.constantFrom(...EDGE_INTEGERS).chain(spellInt);
const intParam = fc.constantFrom(...INT_PARAMS.map((n) => `p.${n}`));
const floatParam = fc.constantFrom(...FLOAT_PARAMS.map((n) => `p.${n}`));
// Float literals exact in float32, so a kernel's constants equal the reference's.
// (Tiny and huge literals, which are not, come in as factors and divisors: their rounding to
// float32 changes a score by a relative 6e-8 at most.) -0 is a leaf too.
const FLOAT_LITERALS = [0.0625, 0.125, 0.25, 0.5, 0.75, 1.5, 2.5, 1, 2, 3, -0].flatMap((v) => (v === 0 ? [v] : [v, -v]));

/** A name bound by a const, usable as a leaf: an int, or a float with a bound on its value. */
interface Extra {
  readonly ints: readonly string[];
  readonly floats: readonly { readonly name: string; readonly bound: number }[];
}

/** The grammar, memoised per depth (and budget) so building it is linear in the depth. */
class Grammar {
  private readonly memo = new Map<string, fc.Arbitrary<string>>();
  private readonly extra: Extra;

  constructor(extra: Extra = { ints: [], floats: [] }) {
    this.extra = extra;
  }

  private cached(key: string, build: () => fc.Arbitrary<string>): fc.Arbitrary<string> {
    let arb = this.memo.get(key);
    if (!arb) {
      arb = build();
      this.memo.set(key, arb);
    }
    return arb;
  }

  /** An int expression nested at most `depth` deep. */
  int(depth: number): fc.Arbitrary<string> {
    return this.cached(`int:${depth}`, () => {
      const leaf = fc.oneof(fc.constantFrom('b', 'h', 'q', 'k', ...this.extra.ints), intLiteral, intParam);
      if (depth === 0) return leaf;
      const a = this.int(depth - 1);
      const scalar = fc.oneof(intLiteral, intParam);
      const divisor = fc.oneof(nonzeroLiteral, intParam);
      return fc.oneof(
        { arbitrary: leaf, weight: 4 },
        fc.tuple(a, fc.constantFrom('+', '-'), a).map(([x, op, y]) => `(${x} ${op} ${y})`),
        fc.tuple(a, scalar, fc.boolean()).map(([x, c, left]) => (left ? `(${c} * ${x})` : `(${x} * ${c})`)),
        fc.tuple(fc.constantFrom('min', 'max'), a, a).map(([f, x, y]) => `Math.${f}(${x}, ${y})`),
        a.map((x) => `Math.abs(${x})`),
        fc.tuple(a, divisor).map(([x, c]) => `Math.floor(${x} / ${c})`),
        fc.tuple(a, divisor).map(([x, c]) => `(${x} % ${c})`),
        a.map((x) => `(-${x})`),
        fc.tuple(this.bool(depth - 1), a, a).map(([c, x, y]) => `(${c} ? ${x} : ${y})`),
      );
    });
  }

  /** A boolean expression nested at most `depth` deep. */
  bool(depth: number): fc.Arbitrary<string> {
    return this.cached(`bool:${depth}`, () => {
      const ints = this.int(Math.max(0, depth - 1));
      const compare = fc.oneof(
        { arbitrary: fc.tuple(ints, fc.constantFrom('<', '<=', '>', '>=', '===', '!=='), ints).map(([x, op, y]) => `(${x} ${op} ${y})`), weight: 6 },
        fc.tuple(ints, fc.constantFrom('<', '<=', '>', '>=', '===', '!=='), edgeLiteral).map(([x, op, y]) => `(${x} ${op} ${y})`),
      );
      if (depth === 0) return fc.oneof({ arbitrary: compare, weight: 8 }, fc.constantFrom('true', 'false'));
      const b = this.bool(depth - 1);
      return fc.oneof(
        { arbitrary: compare, weight: 4 },
        fc.tuple(b, fc.constantFrom('&&', '||'), b).map(([x, op, y]) => `(${x} ${op} ${y})`),
        b.map((x) => `(!${x})`),
        fc.tuple(b, b, b).map(([c, x, y]) => `(${c} ? ${x} : ${y})`),
        fc.tuple(b, fc.constantFrom('===', '!=='), b).map(([x, op, y]) => `(${x} ${op} ${y})`),
      );
    });
  }

  /** A float expression nested at most `depth` deep whose value stays within +-`budget`. */
  float(depth: number, budget: number): fc.Arbitrary<string> {
    return this.cached(`float:${depth}:${budget}`, () => {
      // Budgets shrink to about 0.11 at depth 0 (sqrt, then two quarters): 0.0625 always fits.
      const leaves: fc.Arbitrary<string>[] = [fc.constantFrom(...FLOAT_LITERALS.filter((v) => Math.abs(v) <= budget)).chain(spellFloat)];
      if (budget >= 10) leaves.push(fc.constant('s'));
      if (budget >= 1) leaves.push(fc.constantFrom('Math.tanh(s)', '((q - k) / 4096)'));
      if (budget >= 4) leaves.push(floatParam, fc.constantFrom('((q - k) / 1024)', '(h / 16)', '(b / 16)'));
      const extras = this.extra.floats.filter((f) => f.bound <= budget).map((f) => f.name);
      if (extras.length) leaves.push(fc.constantFrom(...extras));
      const leaf = fc.oneof(...leaves);
      if (depth === 0) return leaf;
      const sub = (b: number): fc.Arbitrary<string> => this.float(depth - 1, b);
      const same = sub(budget);
      const options: fc.Arbitrary<string>[] = [
        fc.tuple(sub(budget / 2), fc.constantFrom('+', '-'), sub(budget / 2)).map(([x, op, y]) => `(${x} ${op} ${y})`),
        fc.tuple(sub(budget / 2), fc.constantFrom(0.5, 1.5, 2, -0.75, -2).chain(spellFloat)).map(([x, c]) => `(${x} * ${c})`),
        fc.tuple(same, fc.constantFrom(...TINY_LITERALS)).map(([x, c]) => `(${x} * ${c})`),
        fc.tuple(same, fc.constantFrom(...HUGE_LITERALS)).map(([x, c]) => `(${x} / ${c})`),
        fc.tuple(floatParam, sub(budget / 4)).map(([c, x]) => `(${c} * ${x})`),
        fc.tuple(sub(budget / 4), floatParam).map(([x, c]) => `(${x} / ${c})`),
        fc.tuple(same, fc.constantFrom(2, 4, -8).chain(spellInt)).map(([x, c]) => `(${x} / ${c})`),
        fc.tuple(sub(Math.sqrt(budget)), sub(Math.sqrt(budget))).map(([x, y]) => `(${x} * ${y})`),
        fc.tuple(fc.constantFrom('min', 'max'), same, same).map(([f, x, y]) => `Math.${f}(${x}, ${y})`),
        same.map((x) => `Math.abs(${x})`),
        same.map((x) => `(-${x})`),
        fc.tuple(this.bool(depth - 1), same, same).map(([c, x, y]) => `(${c} ? ${x} : ${y})`),
      ];
      const wide = sub(PROGRAM_BOUNDS.maxScore);
      if (budget >= 1) {
        options.push(wide.map((x) => `Math.tanh(${x})`));
        options.push(sub(Math.min(PROGRAM_BOUNDS.maxScore, budget * budget)).map((x) => `Math.sqrt(Math.abs(${x}))`));
      }
      if (budget >= 3) options.push(wide.map((x) => `Math.exp(Math.tanh(${x}))`));
      if (budget >= 4) options.push(wide.map((x) => `Math.log(1 + Math.abs(${x}))`));
      return fc.oneof({ arbitrary: leaf, weight: 3 }, ...options);
    });
  }
}

/** The parameters a source reads, declared with the types their names stand for. */
function usedParams(source: string): ParamDecls {
  const decls: Record<string, ParamType> = {};
  for (const [, name] of source.matchAll(/\bp\.([if]\d)\b/g)) decls[name!] = name!.startsWith('i') ? 'int32' : 'float32';
  return decls;
}

type BodyForm = 'arrow' | 'block' | 'function';

function wrap(signature: string, form: BodyForm, consts: readonly string[], result: string): string {
  if (form === 'arrow') return `(${signature}) => ${result}`;
  const body = [...consts.map((c) => `  ${c}`), `  return ${result};`].join('\n');
  return form === 'block' ? `(${signature}) => {\n${body}\n}` : `function (${signature}) {\n${body}\n}`;
}

/** Options of {@link maskProgram} and {@link scoreProgram}. */
export interface ProgramOptions {
  /** Deepest nesting of operators. @defaultValue 4 (the bounds above assume at most 4) */
  readonly maxDepth?: number;
}

const bodyForm = fc.constantFrom<BodyForm>('arrow', 'arrow', 'block', 'function');

/**
 * A random mask `(b, h, q, k, p) => <bool>`; a block body names an int subexpression `t0`.
 * @example `fc.assert(fc.property(maskProgram(), (m) => ...), { seed: 42 })`
 */
export function maskProgram(options: ProgramOptions = {}): fc.Arbitrary<RandomProgram> {
  const depth = options.maxDepth ?? PROGRAM_BOUNDS.maxDepth;
  const plain = new Grammar();
  const withConst = new Grammar({ ints: ['t0'], floats: [] });
  return bodyForm.chain((form) => (form === 'arrow'
    ? plain.bool(depth).map((r) => wrap('b, h, q, k, p', form, [], r))
    : fc.tuple(plain.int(Math.max(0, depth - 2)), withConst.bool(depth - 1))
      .map(([t0, r]) => wrap('b, h, q, k, p', form, [`const t0 = ${t0};`], r))))
    .map((source) => ({ role: 'mask' as const, source, params: usedParams(source) }));
}

/**
 * A random score `(s, b, h, q, k, p) => <float>` with |value| <= 50 (see the module comment);
 * a block body names a float subexpression `u0` with |u0| <= 4.
 */
export function scoreProgram(options: ProgramOptions = {}): fc.Arbitrary<RandomProgram> {
  const depth = options.maxDepth ?? PROGRAM_BOUNDS.maxDepth;
  const plain = new Grammar();
  const withConst = new Grammar({ ints: [], floats: [{ name: 'u0', bound: 4 }] });
  const top = PROGRAM_BOUNDS.maxScore;
  return bodyForm.chain((form) => (form === 'arrow'
    ? plain.float(depth, top).map((r) => wrap('s, b, h, q, k, p', form, [], r))
    : fc.tuple(plain.float(Math.max(0, depth - 2), 4), withConst.float(depth - 1, top))
      .map(([u0, r]) => wrap('s, b, h, q, k, p', form, [`const u0 = ${u0};`], r))))
    .map((source) => ({ role: 'score' as const, source, params: usedParams(source) }));
}

/**
 * Values for declared parameters: int32 nonzero in [-64, 64] (they may be divisors), float32
 * float32-exact in [0.25, 4].
 */
export function paramValues(decls: ParamDecls): fc.Arbitrary<Record<string, number>> {
  const max = PROGRAM_BOUNDS.maxIntParam;
  const { min: fmin, max: fmax } = PROGRAM_BOUNDS.floatParam;
  const model: Record<string, fc.Arbitrary<number>> = {};
  for (const [name, type] of Object.entries(decls)) {
    model[name] = type === 'int32'
      ? fc.oneof(fc.integer({ min: -max, max: -1 }), fc.integer({ min: 1, max }))
      : fc.float({ min: fmin, max: fmax, noNaN: true, noDefaultInfinity: true });
  }
  return fc.record(model);
}

/** Indices `b, h, q, k`: small, large (up to +-`maxAbs`, negatives included), and k near q. */
export function indexValues(maxAbs = 2 ** 20): fc.Arbitrary<{ b: number; h: number; q: number; k: number }> {
  const index = fc.oneof(fc.integer({ min: -8, max: 64 }), fc.integer({ min: -maxAbs, max: maxAbs }));
  const independent = fc.record({ b: index, h: index, q: index, k: index });
  return fc.oneof(
    independent,
    fc.tuple(independent, fc.integer({ min: -70, max: 70 })).map(([v, d]) => ({ ...v, k: v.q + d })),
  );
}

/** Scores `s`: mostly moderate, sometimes any double, and the special values 0, -0, NaN, +-Infinity. */
export function scoreValues(): fc.Arbitrary<number> {
  return fc.oneof(
    { arbitrary: fc.double({ min: -10, max: 10, noNaN: true }), weight: 6 },
    { arbitrary: fc.double(), weight: 1 },
    { arbitrary: fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY), weight: 1 },
  );
}

/** The function a program's source defines, built without a call site (as `new Function` does). */
export function programToFunction(source: string): (...args: never[]) => unknown {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- building the program under test is the point
  return new Function(`return (${source})`)() as (...args: never[]) => unknown;
}
