/**
 * Number literals in mask and score bodies (issue 6 defect 1): the IR constant is the number the
 * JavaScript engine computes for the same source text (`Function` of the text is the oracle), in
 * every spelling; BigInt and legacy octal literals are coded errors; -0 keeps its sign; hashes
 * tell -0 from 0; `kvforge explain` shows the constant the kernel uses.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { translate } from '../codegen/frontend/index.ts';
import { canonicalJson, parseCanonicalJson, stableHash } from '../codegen/hash.ts';
import { E, type Expr } from '../codegen/ir/expr.ts';
import { interpret } from '../codegen/ir/interpret.ts';
import type { FunctionDef } from '../dsl/types.ts';
import { PACKAGE_ROOT } from '../runtime/build/paths.ts';
import { EDGE_INTEGERS, HUGE_LITERALS, TINY_LITERALS, programToFunction, spellFloat, spellInt } from './support/random-programs.ts';
import { runs, SEED } from './support/random-expr.ts';

/** Translate `(s, b, h, q, k) => <text>` (or a mask) built from text, as a user's function without a file. */
function translateText(role: 'mask' | 'score', body: string): Expr {
  const sig = role === 'mask' ? '(b, h, q, k)' : '(s, b, h, q, k)';
  const def: FunctionDef = { role, name: 'lit', fn: programToFunction(`${sig} => ${body}`), params: {}, site: undefined };
  return translate(def);
}
function errorOf(f: () => unknown): KvforgeError {
  try { f(); } catch (e) { if (e instanceof KvforgeError) return e; throw e; }
  throw new Error('no error');
}
/** The engine's value of a literal's text: the oracle. */
const engine = (text: string): number => new Function(`return (${text});`)() as number;

/** A score body that is just the literal: its IR is one float constant. */
function scoreConstant(text: string): number {
  const ir = translateText('score', text);
  if (ir.op !== 'const') throw new Error(`${text} translated to ${canonicalJson(ir)}, not a constant`);
  return ir.value as number;
}

// Shrunk or hand-picked cases kept as regressions: the five, then every form's edges.
const REGRESSIONS = [
  '1e-7', '0.0000005', '1e21', '1e30', '5e25', '.5', '5.', '5.e3', '.5e-3', '0x1F', '0XfF', '0o17', '0b101', '1_000',
  '1_0.2_5e-1_0', '1e1_0', '9007199254740993', '0x20000000000001', '18446744073709551616', '5e-324', '2e-324',
  '1.7976931348623157e308', '1e309', '0.1', '2147483648', '0x7fffffff', '(-0)', '-0.0', '-(0)', '-0x0', '0.0', '00.5e0'.slice(1),
];

describe(`numeric literals are read as JavaScript reads them (seed ${SEED})`, () => {
  it.each(REGRESSIONS)('%s', (text) => {
    expect(Object.is(scoreConstant(text), engine(text))).toBe(true);
  });

  it('every spelling of random numbers: the IR constant is the engine\'s value', () => {
    const value = fc.oneof(
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
      fc.constantFrom(...EDGE_INTEGERS, 2 ** 53, -0, 0),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.double({ min: -1e-300, max: 1e-300, noNaN: true }),
    );
    const spelled = fc.oneof(
      value.chain((v) => (Number.isInteger(v) && Math.abs(v) <= 2 ** 53 ? spellInt(v) : spellFloat(v))),
      fc.constantFrom(...TINY_LITERALS, ...HUGE_LITERALS),
    );
    fc.assert(fc.property(spelled, (text) => {
      const got = scoreConstant(text);
      if (!Object.is(got, engine(text))) throw new Error(`${text}: IR ${got}, JavaScript ${engine(text)}`);
    }), { seed: SEED, numRuns: runs(1500) });
  });

  it('in a mask, integers are exact ints; a fraction or an unsafe integer is an error', () => {
    expect(translateText('mask', 'k <= 0x7FFF_FFFF')).toEqual(E.binary('le', E.index('k'), E.int(2 ** 31 - 1)));
    expect(translateText('mask', 'k <= 2e3')).toEqual(E.binary('le', E.index('k'), E.int(2000)));
    expect(errorOf(() => translateText('mask', 'k <= 1e-7')).code).toBe('KVF1006');
    const big = errorOf(() => translateText('mask', 'k <= 1e21'));
    expect(big.code).toBe('KVF1011');
    expect(big.message).toContain('outside the exact integer range');
  });

  it('BigInt, legacy octal and leading-zero literals are KVF1011 with a hint', () => {
    const bigint = errorOf(() => translateText('score', 's * 1n'));
    expect(bigint.code).toBe('KVF1011');
    expect(bigint.hint).toMatch(/without the n suffix/);
    expect(errorOf(() => translateText('score', 's - 2n')).code).toBe('KVF1011');
    // Sloppy code only (programToFunction uses Function): 017 is 15 there, 08 is 8.
    const octal = errorOf(() => translateText('score', 's * 017'));
    expect(octal.code).toBe('KVF1011');
    expect(octal.message).toContain('legacy octal literal `017` (it means 15');
    expect(octal.hint).toBe('write 0o17 for octal, or 17 for decimal');
    expect(errorOf(() => translateText('score', 's * -08')).message).toContain('leading zero');
  });
});

describe('negative zero', () => {
  it('`s / -0` keeps the sign: the IR divides by the float -0, as JavaScript does', () => {
    const ir = translateText('score', 's / -0');
    expect(canonicalJson(ir)).toBe(canonicalJson(E.binary('div', E.score(), E.float(-0))));
    expect(interpret(ir, { b: 0, h: 0, q: 0, k: 0, s: 1, params: {} })).toBe(-Infinity);
  });

  it('canonicalJson and stableHash tell -0 from 0, and parse back', () => {
    const neg = E.binary('div', E.score(), E.float(-0));
    const pos = E.binary('div', E.score(), E.float(0));
    expect(stableHash(neg)).not.toBe(stableHash(pos));
    expect(canonicalJson(neg)).toContain('"__-0"');
    const back = parseCanonicalJson(canonicalJson(neg)) as typeof neg;
    expect(Object.is((back.rhs as { value: number }).value, -0)).toBe(true);
    expect(parseCanonicalJson(canonicalJson([NaN, Infinity, -Infinity, 0]))).toEqual([NaN, Infinity, -Infinity, 0]);
  });
});

describe('kvforge explain shows the constant the kernel uses', () => {
  it('`s - 1e-7 * (q - k)` (was printed as `s - 1 * (q - k)`)', () => {
    const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'runtime/cli/kvforge.mjs'), 'explain', 'specs/fixtures/tiny-literal.ts'], {
      cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 120_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('score: s - 0x1.ad7f2ap-24f /* 1e-7 */ * static_cast<float>(q - k)');
    expect(r.stdout).toContain('return s - 0x1.ad7f2ap-24f /* 1e-7 */ * static_cast<float>(q - k);');
    expect(r.stdout).not.toMatch(/\b1 \* /);
  });
});
