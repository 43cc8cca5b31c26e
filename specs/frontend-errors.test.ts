/**
 * Every construct a mask or score body may not use: the code, the message, the exact location
 * in the user's file (found by searching the fixture's text), the caret, the hint, and no
 * trace of kvforge's own frames.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KvforgeError, type DiagnosticCode } from '../dsl/diagnostics.ts';
import { translate } from '../codegen/frontend/index.ts';
import type { FunctionDef } from '../dsl/types.ts';
import * as bad from './fixtures/bad-masks.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/bad-masks.ts', import.meta.url));
const TEXT = readFileSync(FIXTURE, 'utf8');

interface Case {
  readonly name: keyof typeof bad;
  readonly code: DiagnosticCode;
  /** A piece of the message after the catalogue title. */
  readonly message: string;
  /** Text to find in the case's definition, with the offending span marked as «...». */
  readonly at: string;
  /** The whole hint, or a pattern it matches: every user error says what to do instead. */
  readonly hint: string | RegExp;
}

const MASK_CALLS = 'a mask may call Math.min, Math.max, Math.abs, Math.floor';
const BITWISE = /use arithmetic/;

const CASES: readonly Case[] = [
  // statements
  { name: 'forLoop', code: 'KVF1001', message: '`for` loop is not allowed in a mask', at: '«for» (let i', hint: /loops are not allowed/ },
  { name: 'whileLoop', code: 'KVF1001', message: '`while` loop', at: '«while» (q > k)', hint: /loops are not allowed/ },
  { name: 'ifStatement', code: 'KVF1001', message: '`if` statement', at: '«if» (k > q)', hint: 'use a conditional expression: cond ? a : b' },
  { name: 'letDeclaration', code: 'KVF1001', message: '`let` declarations are not allowed', at: '«let» d', hint: /use const/ },
  { name: 'varDeclaration', code: 'KVF1001', message: '`var` declarations are not allowed', at: '«var» d', hint: /use const/ },
  { name: 'assignment', code: 'KVF1001', message: 'assignment `=` is not allowed', at: '(q «=» k)', hint: /pure expression/ },
  { name: 'increment', code: 'KVF1001', message: '`++` is not allowed', at: '«q++» > k', hint: /pure expression/ },
  { name: 'missingReturn', code: 'KVF1001', message: 'does not end with `return`', at: '=> «{»', hint: /one return/ },
  { name: 'afterReturn', code: 'KVF1001', message: 'statement after `return`', at: '«const d = q - k;»', hint: 'a body ends with its return' },
  // calls
  { name: 'unknownFunction', code: 'KVF1002', message: '`foo`', at: '«foo»(q)', hint: MASK_CALLS },
  { name: 'mathPow', code: 'KVF1002', message: '`Math.pow`', at: '«Math.pow»(q, 2)', hint: MASK_CALLS },
  { name: 'mathRound', code: 'KVF1002', message: '`Math.round`', at: '«Math.round»(q)', hint: MASK_CALLS },
  { name: 'consoleLog', code: 'KVF1002', message: '`console.log`', at: '«console.log»(q)', hint: MASK_CALLS },
  { name: 'tanhInMask', code: 'KVF1002', message: '`Math.tanh`, which only score functions may call', at: '«Math.tanh»(q)', hint: /masks are integer logic/ },
  { name: 'minOfOne', code: 'KVF1001', message: '`Math.min` needs at least 2 arguments, got 1', at: '«Math.min(q)»', hint: 'write Math.min(a, b)' },
  // literals
  { name: 'stringLiteral', code: 'KVF1011', message: 'string literal', at: "b === «'x'»", hint: /numbers and booleans/ },
  { name: 'templateLiteral', code: 'KVF1011', message: 'template literal', at: 'b === «`row ${q}`»', hint: /numbers and booleans/ },
  { name: 'regexLiteral', code: 'KVF1011', message: 'regular expression literal', at: 'pattern = «/x+/»', hint: /numbers and booleans/ },
  { name: 'bigintLiteral', code: 'KVF1011', message: 'bigint literal', at: 'b === «1n»', hint: /without the n suffix/ },
  { name: 'infinity', code: 'KVF1011', message: '`Infinity` is not allowed', at: 's : -«Infinity»', hint: /exclude keys with a mask/ },
  { name: 'notANumber', code: 'KVF1011', message: '`NaN` is not allowed', at: 's : «NaN»', hint: /exclude keys with a mask/ },
  // operators and other syntax
  { name: 'exponent', code: 'KVF1001', message: 'exponentiation `**`', at: 'q «**» 2', hint: /x \* x/ },
  { name: 'thisKeyword', code: 'KVF1001', message: '`this` is not allowed', at: 'return «this».window', hint: /p\.name/ },
  { name: 'newExpression', code: 'KVF1001', message: '`new` is not allowed', at: 'b === «new Date(q)»', hint: /numbers and booleans/ },
  { name: 'typeofOperator', code: 'KVF1001', message: '`typeof` is not allowed', at: '«typeof q»', hint: /no type test is needed/ },
  { name: 'inOperator', code: 'KVF1001', message: '`in` operator', at: "'window' «in» p", hint: 'parameters are declared; read them as p.name' },
  { name: 'optionalChaining', code: 'KVF1001', message: 'optional chaining `?.`', at: 'p«?.»window', hint: /is ever null or undefined/ },
  { name: 'spread', code: 'KVF1001', message: 'spread `...`', at: 'Math.max(«...[q, k]»)', hint: /one by one/ },
  { name: 'arrayLiteral', code: 'KVF1001', message: 'array literal', at: 'pair = «[q, k]»', hint: /numbers and booleans/ },
  { name: 'objectLiteral', code: 'KVF1001', message: 'object literal', at: 'point = «{ q }»', hint: /numbers and booleans/ },
  { name: 'bitAnd', code: 'KVF1001', message: 'bitwise operator `&`', at: '(q «&» 1)', hint: BITWISE },
  { name: 'bitOr', code: 'KVF1001', message: 'bitwise operator `|`', at: '(q «|» k)', hint: BITWISE },
  { name: 'bitXor', code: 'KVF1001', message: 'bitwise operator `^`', at: '(q «^» k)', hint: BITWISE },
  { name: 'shiftLeft', code: 'KVF1001', message: 'bitwise operator `<<`', at: 'q «<<» 1', hint: BITWISE },
  { name: 'shiftRight', code: 'KVF1001', message: 'bitwise operator `>>`', at: 'q «>>» 1', hint: BITWISE },
  { name: 'shiftRightUnsigned', code: 'KVF1001', message: 'bitwise operator `>>>`', at: 'q «>>>» 1', hint: BITWISE },
  { name: 'bitNot', code: 'KVF1001', message: 'bitwise operator `~`', at: '«~q» > k', hint: BITWISE },
  // names and parameters
  {
    name: 'captured', code: 'KVF1005', message: '`W`, defined outside the mask', at: 'q - k < «W»',
    hint: "declare it: defineMask(fn, { params: { W: 'int32' } }) and read it as p.W",
  },
  {
    name: 'capturedObject', code: 'KVF1005', message: '`CONFIG`, defined outside the mask', at: 'q - k < «CONFIG».window',
    hint: "declare it: defineMask(fn, { params: { window: 'int32' } }) and read it as p.window",
  },
  {
    name: 'missingParamsObject', code: 'KVF1005', message: '`cfg` is not a parameter of this mask', at: 'q - k < «cfg».window',
    hint: 'take the parameters object as the last parameter: (b, h, q, k, p) => ..., and read window as p.window',
  },
  { name: 'unknownDestructured', code: 'KVF1004', message: '`windw` is not a declared parameter (declared: window)', at: '{ «windw» }', hint: "declare it: { params: { windw: 'int32' } }" },
  { name: 'unknownParameter', code: 'KVF1004', message: '`windw` is not a declared parameter of unknownParameter (declared: window)', at: 'q - k < «p.windw»', hint: "declare it: { params: { windw: 'int32' } }, or fix the name" },
  { name: 'tooManyMaskParams', code: 'KVF1009', message: 'a mask takes at most 5 parameters (b, h, q, k, p), got 6', at: 'p, «extra»', hint: 'a mask is a plain function (b, h, q, k, p) => boolean; parameters are positional' },
  { name: 'tooManyScoreParams', code: 'KVF1009', message: 'a score takes at most 6 parameters (s, b, h, q, k, p), got 7', at: 'p, «extra»', hint: 'a score is a plain function (s, b, h, q, k, p) => number; parameters are positional' },
  { name: 'asyncMask', code: 'KVF1009', message: 'cannot be async', at: '«async» (b, h, q, k)', hint: /plain function/ },
  { name: 'generatorMask', code: 'KVF1009', message: 'cannot be a generator', at: 'function«*» (b', hint: /plain function/ },
  // types
  { name: 'floatInMask', code: 'KVF1006', message: 'float literal `2.5` in a mask', at: 'q - k < «2.5»', hint: /use integers/ },
  { name: 'scoreReturnsBool', code: 'KVF1006', message: 'a score function must return a number, got a boolean', at: '=> «s > 0»', hint: /use a mask/ },
  { name: 'maskReturnsInt', code: 'KVF1006', message: 'a mask must return a boolean, got an integer', at: '=> «q - k»', hint: 'return a comparison, e.g. k <= q' },
  { name: 'andOfInts', code: 'KVF1006', message: '`&&` needs a boolean, got an integer', at: '=> «q» && k', hint: /compare explicitly/ },
  { name: 'boolEqualsInt', code: 'KVF1006', message: '`===` compares a boolean with an integer', at: '(k <= q) «===» b', hint: /numbers with numbers, booleans with booleans/ },
  { name: 'intCondition', code: 'KVF1006', message: 'the condition of `?:` needs a boolean', at: '(«q» ? k <= q', hint: /compare explicitly/ },
  { name: 'floatRemainder', code: 'KVF1006', message: '`%` needs an integer, got a float', at: '=> «s» % 2', hint: /integer remainder/ },
  { name: 'floatParamInMask', code: 'KVF1006', message: 'float parameter `ratio` in a mask', at: 'q - k < «p.ratio»', hint: "declare it as 'int32'" },
  { name: 'intDivision', code: 'KVF1007', message: '`q / 2` divides integers', at: '=> «q / 2» > k', hint: 'write Math.floor(a / b) for integer division' },
  { name: 'indexDivisor', code: 'KVF1008', message: 'the divisor of `%` is `k`', at: '(q - k) % «k»', hint: /nonzero integer literal or a declared parameter/ },
  { name: 'zeroDivisor', code: 'KVF1008', message: 'is 0', at: 'Math.floor(q / «0»)', hint: /nonzero integer literal/ },
];

/** Where `c.at` points in the fixture: searched in the text of the case's own definition. */
function expectedLocation(c: Case): { line: number; column: number; length: number; sourceLine: string } {
  const start = TEXT.indexOf(`export const ${c.name} =`);
  expect(start, `fixture has no case ${c.name}`).toBeGreaterThanOrEqual(0);
  const plain = c.at.replace('«', '').replace('»', '');
  const found = TEXT.indexOf(plain, start);
  expect(found, `'${plain}' not found in case ${c.name}`).toBeGreaterThan(start);
  const offset = found + c.at.indexOf('«');
  const lineStart = TEXT.lastIndexOf('\n', offset - 1) + 1;
  const lineEnd = TEXT.indexOf('\n', offset);
  return {
    line: TEXT.slice(0, offset).split('\n').length,
    column: offset - lineStart + 1,
    length: c.at.indexOf('»') - c.at.indexOf('«') - 1,
    sourceLine: TEXT.slice(lineStart, lineEnd === -1 ? undefined : lineEnd),
  };
}

function errorOf(def: FunctionDef): KvforgeError {
  try {
    translate(def);
  } catch (e) {
    expect(e).toBeInstanceOf(KvforgeError);
    return e as KvforgeError;
  }
  throw new Error(`${def.name} was translated without an error`);
}

describe('front end errors point at the offending construct in the user file', () => {
  it('the fixture has exactly the cases listed here', () => {
    const defs = Object.keys(bad).sort();
    expect(defs).toEqual(CASES.map((c) => c.name).sort());
  });

  it.each(CASES)('$name: $code', (c) => {
    const err = errorOf(bad[c.name]);
    const want = expectedLocation(c);
    expect(err.code).toBe(c.code);
    expect(err.detail).toContain(c.message);
    expect(err.location?.file.endsWith('specs/fixtures/bad-masks.ts')).toBe(true);
    expect(err.location).toMatchObject({ line: want.line, column: want.column, length: want.length, sourceLine: want.sourceLine });

    const [head, source, caret, ...rest] = err.message.split('\n');
    expect(head!.startsWith(`${FIXTURE}:${want.line}:${want.column}: error ${c.code}: `)).toBe(true);
    expect(head).toContain(c.message);
    expect(source).toBe(`  ${want.sourceLine}`);
    expect(caret).toBe(`  ${' '.repeat(want.column - 1)}${'^'.repeat(want.length)}`);
    if (typeof c.hint === 'string') expect(err.hint).toBe(c.hint);
    else expect(err.hint).toMatch(c.hint);
    expect(rest).toEqual([`  hint: ${err.hint}`]);
    // The user sees their own code, never kvforge's stack frames.
    for (const text of [err.message, err.stack ?? '']) {
      expect(text).not.toContain('codegen/frontend');
      expect(text).not.toContain('node_modules');
      expect(text).not.toMatch(/\n\s+at /);
    }
  });

  it.each(CASES)('$name without a call site: same code, located in the function text', (c) => {
    const def = bad[c.name];
    const err = errorOf({ ...def, site: undefined });
    expect(err.code).toBe(c.code);
    expect(err.location?.file).toBe(`<${def.name}>`);
    const lines = def.fn.toString().split(/\r?\n/);
    expect(lines).toContain(err.location?.sourceLine);
    expect(err.location!.line).toBeLessThanOrEqual(lines.length);
  });
});
