/**
 * The front end's law: for every input, the original JavaScript function and the interpreter of
 * its translation give the same value (Object.is: -0 and NaN included). Checked on hand-written
 * masks and scores and on random programs, with a fixed seed (FUZZ_SEED, FUZZ_RUNS to change).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ts } from 'ts-morph';
import { describe, expect, it } from 'vitest';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { fingerprint } from '../codegen/frontend/fingerprint.ts';
import { translate } from '../codegen/frontend/index.ts';
import { E, type Expr } from '../codegen/ir/expr.ts';
import { interpret } from '../codegen/ir/interpret.ts';
import { captureCallSite, parseStackFrame } from '../dsl/callsite.ts';
import type { FunctionDef, ParamDecls } from '../dsl/types.ts';
import {
  PROGRAM_BOUNDS, indexValues, maskProgram, paramValues, programToFunction, scoreProgram, scoreValues,
  type RandomProgram,
} from './support/random-programs.ts';

const seed = Number(process.env.FUZZ_SEED ?? 42);
const numRuns = Number(process.env.FUZZ_RUNS ?? 300);

type Loose = (...args: any[]) => unknown;

/** Declared the way defineMask declares: the call site is this file. */
function mask(name: string, fn: Loose, params: ParamDecls = {}): FunctionDef {
  return { role: 'mask', name, fn, params, site: captureCallSite(1) };
}
function score(name: string, fn: Loose, params: ParamDecls = {}): FunctionDef {
  return { role: 'score', name, fn, params, site: captureCallSite(1) };
}

/** Run the original function on one point. */
function runOriginal(def: FunctionDef, s: number, ix: { b: number; h: number; q: number; k: number }, params: Record<string, number>): unknown {
  const fn = def.fn as Loose;
  return def.role === 'mask' ? fn(ix.b, ix.h, ix.q, ix.k, params) : fn(s, ix.b, ix.h, ix.q, ix.k, params);
}

function expectAgreement(def: FunctionDef, ir: Expr, points: readonly { b: number; h: number; q: number; k: number; s: number }[], params: Record<string, number>, label: string): void {
  for (const p of points) {
    const want = runOriginal(def, p.s, p, params);
    const got = interpret(ir, { b: p.b, h: p.h, q: p.q, k: p.k, s: p.s, params });
    if (!Object.is(got, want)) {
      throw new Error(`${label}\nat ${JSON.stringify(p)} (s=${String(p.s)}), params ${JSON.stringify(params)}: JavaScript ${String(want)}, IR ${String(got)}`);
    }
  }
}

const points = fc.array(fc.tuple(indexValues(), scoreValues()).map(([ix, s]) => ({ ...ix, s })), { minLength: 1, maxLength: 24 });

const int = (min: number, max: number) => fc.integer({ min, max });
const nonzero = (max: number) => fc.oneof(int(-max, -1), int(1, max));
const float = (min: number, max: number) => fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true });

interface HandWritten {
  readonly def: FunctionDef;
  readonly values: fc.Arbitrary<Record<string, number>>;
}
const none = fc.constant({});

const HAND_WRITTEN: readonly HandWritten[] = [
  { def: mask('causal', (b, h, q, k) => k <= q), values: none },
  { def: mask('renamed', (_batch, _head, row, col) => col < row), values: none },
  { def: mask('slidingWindow', (b, h, q, k, p) => q - p.window < k && k <= q, { window: 'int32' }), values: fc.record({ window: int(1, 5000) }) },
  {
    def: mask('sinksAndWindow', (b, h, q, k, p) => k < p.sinks || (q - p.window < k && k <= q), { sinks: 'int32', window: 'int32' }),
    values: fc.record({ sinks: int(0, 8), window: int(1, 300) }),
  },
  { def: mask('prefixLM', (b, h, q, k, p) => k <= q || k < p.prefix, { prefix: 'int32' }), values: fc.record({ prefix: int(-4, 200) }) },
  { def: mask('dilated', (b, h, q, k, p) => k <= q && (q - k) % p.stride === 0, { stride: 'int32' }), values: fc.record({ stride: nonzero(16) }) },
  { def: mask('destructured', (b, h, q, k, { window, sinks: s }) => k < s || q - k < window, { window: 'int32', sinks: 'int32' }), values: fc.record({ window: int(1, 64), sinks: int(0, 4) }) },
  { def: mask('elementAccess', (b, h, q, k, p) => q - p['window'] < k, { window: 'int32' }), values: fc.record({ window: int(1, 64) }) },
  {
    def: mask('nestedTernary', (b, h, q, k, p) => (h % 2 === 0 ? k <= q : q - k < p.w ? k <= q : b > 3 ? true : false), { w: 'int32' }),
    values: fc.record({ w: int(-10, 100) }),
  },
  {
    def: mask('mathFunctions', (b, h, q, k, p) => Math.abs(q - k) <= Math.max(p.w, Math.min(h, 3), -b)
      && Math.floor(q / p.block) === Math.floor(k / p.block) && Math.floor(-q / -3) !== Math.floor(k / 5), { w: 'int32', block: 'int32' }),
    values: fc.record({ w: int(0, 50), block: nonzero(64) }),
  },
  { def: mask('floorOfInt', (b, h, q, k) => Math.floor(q - k) >= Math.floor(Math.floor(q / 4) / -2)), values: none },
  { def: mask('remainders', (b, h, q, k, p) => (q % 7) - (k % -3) > (h % (p.m * 2 - 1)), { m: 'int32' }), values: fc.record({ m: int(1, 9) }) },
  { def: mask('boolEquality', (b, h, q, k) => (k <= q) === (h < 2) && (b > 0) !== !(q >= 0)), values: none },
  { def: mask('looseEquality', (b, h, q, k) => q == k + 1 || q != q), values: none },
  { def: mask('unaryPlusMinus', (b, h, q, k) => +q > -k && -(-q) >= -3 && -(q - k) * 2 < 10), values: none },
  {
    def: mask('constBlock', function (b: number, h: number, q: number, k: number, p: { window: number; sinks: number }) {
      const d = q - k;
      const inWindow = d >= 0 && d < p.window;
      const { sinks } = p;
      return inWindow || k < sinks;
    }, { window: 'int32', sinks: 'int32' }),
    values: fc.record({ window: int(1, 100), sinks: int(0, 4) }),
  },
  { def: mask('typed', (b: number, h: number, q: number, k: number) => (k as number) <= q!), values: none },
  { def: mask('chunkedCausal', (b, h, q, k, p) => k <= q && Math.floor(q / p.chunk) === Math.floor(k / p.chunk), { chunk: 'int32' }), values: fc.record({ chunk: nonzero(128) }) },
  { def: mask('bigProducts', (b, h, q, k) => q * k - (q - 1) * (k + 1) > h * 1000003), values: none },
  { def: score('softcap', (s, b, h, q, k, p) => p.cap * Math.tanh(s / p.cap), { cap: 'float32' }), values: fc.record({ cap: float(1, 50) }) },
  { def: score('alibi', (s, b, h, q, k, p) => s - Math.exp(-(h + 1) * p.sl) * (q - k), { sl: 'float32' }), values: fc.record({ sl: float(0.01, 1) }) },
  { def: score('intScore', (s, b, h, q, k) => q - k), values: none },
  { def: score('onlyScore', (s) => s * 2), values: none },
  { def: score('intDivision', (s, b, h, q, k) => s + (q - k) / 7 - Math.floor(q / 3)), values: none },
  { def: score('floorOfFloat', (s, b, h, q, k) => Math.floor(s) + Math.floor(s / 0.5) - Math.floor(q / 2.5)), values: none },
  { def: score('floatFunctions', (s, b, h, q, k) => Math.sqrt(Math.abs(s)) + Math.log(Math.abs(s) + 1) - Math.exp(-Math.abs(s)) + Math.log(s) + Math.sqrt(s)), values: none },
  { def: score('mixedTernary', (s, b, h, q, k) => (q > k ? s : 0) + (h === 1 ? q - k : 0.5)), values: none },
  { def: score('minMaxMixed', (s, b, h, q, k) => Math.max(s, q - k, 0.5) + Math.min(-s, 3, h)), values: none },
  { def: score('signs', (s, b, h, q, k) => -s + +s * -0.5 - -s + s * 0 + 0 * -(q - k)), values: none },
  { def: score('remainderInScore', (s, b, h, q, k, p) => ((q - k) % 3) * s + (q % p.n) / p.n, { n: 'int32' }), values: fc.record({ n: nonzero(9) }) },
  { def: score('floatComparisons', (s, b, h, q, k, p) => (s < p.t && s !== q ? s : s === 0 ? -1 : s >= q * 0.5 ? 2 : p.t), { t: 'float32' }), values: fc.record({ t: float(-4, 4) }) },
  {
    def: score('constBlockScore', (s, b, h, q, k, p) => {
      const slope = Math.exp(-p.sl * (h + 1));
      const distance = Math.abs(q - k);
      return s - slope * distance;
    }, { sl: 'float32' }),
    values: fc.record({ sl: float(0.01, 1) }),
  },
  { def: score('functionExpression', function (s: number, b: number, h: number, q: number, k: number) { return s * (q - k) / 1024; }), values: none },
];

describe(`front end: translation equals the original function (seed ${seed})`, () => {
  it.each(HAND_WRITTEN)(`$def.name (seed ${seed})`, ({ def, values }) => {
    const ir = translate(def);
    expect(ir.type).toBe(def.role === 'mask' ? 'bool' : 'float');
    // The original file and fn.toString() must give the same IR: both are the same code.
    expect(translate({ ...def, site: undefined })).toEqual(ir);
    expect(JSON.parse(JSON.stringify(ir))).toEqual(ir);
    fc.assert(fc.property(values, points, (params, pts) => expectAgreement(def, ir, pts, params, def.name)), { seed, numRuns });
  });

  const randomCase = (label: string, programs: fc.Arbitrary<RandomProgram>) => () => {
    const cases = programs.chain((prog) => fc.tuple(fc.constant(prog), paramValues(prog.params), points));
    fc.assert(fc.property(cases, ([prog, params, pts]) => {
      const def: FunctionDef = { role: prog.role, name: label, fn: programToFunction(prog.source), params: prog.params, site: undefined };
      const ir = translate(def);
      expect(ir.type).toBe(prog.role === 'mask' ? 'bool' : 'float');
      expectAgreement(def, ir, pts, params, prog.source);
    }), { seed, numRuns });
  };
  it(`random masks (seed ${seed})`, randomCase('randomMask', maskProgram()));
  it(`random scores (seed ${seed})`, randomCase('randomScore', scoreProgram()));
});

describe('front end: what each construct becomes', () => {
  const q = E.index('q');
  const k = E.index('k');
  const s = E.score();
  const t = (def: FunctionDef) => translate(def);

  it('Math.floor of an integer division is floorDiv; of a float it is floor', () => {
    expect(t(mask('m', (b, h, q, k) => Math.floor(q / 2) < k))).toEqual(E.binary('lt', E.binary('floorDiv', q, E.int(2)), k));
    expect(t(score('m', (s) => Math.floor(s)))).toEqual(E.unary('floor', s));
    expect(t(score('m', (s, b, h, q) => Math.floor(q / 2)))).toEqual(E.unary('toFloat', E.binary('floorDiv', q, E.int(2))));
  });
  it('in a score, integer / integer is float division, as in JavaScript', () => {
    expect(t(score('m', (s, b, h, q) => q / 2))).toEqual(E.binary('div', E.unary('toFloat', q), E.float(2)));
  });
  it('an int meeting a float becomes a float; an int score is converted', () => {
    expect(t(score('m', (s, b, h, q, k) => s + q))).toEqual(E.binary('add', s, E.unary('toFloat', q)));
    expect(t(score('m', (s, b, h, q, k) => (q > k ? s : 0)))).toEqual(E.select(E.binary('gt', q, k), s, E.float(0)));
    expect(t(score('m', (s, b, h, q, k) => q - k))).toEqual(E.unary('toFloat', E.binary('sub', q, k)));
  });
  it('Math.min/max of several arguments fold left; negative literals are constants', () => {
    expect(t(mask('m', (b, h, q, k) => Math.max(q, k, -3) > 0)))
      .toEqual(E.binary('gt', E.binary('max', E.binary('max', q, k), E.int(-3)), E.int(0)));
  });
  it('parameters are positional and read as p.name, p["name"] or destructured', () => {
    const want = E.binary('lt', E.binary('sub', q, E.param('w', 'int')), k);
    const decl = { w: 'int32' } as const;
    expect(t(mask('m', (b, h, q, k, p) => q - p.w < k, decl))).toEqual(want);
    expect(t(mask('m', (x0, x1, row, col, cfg) => row - cfg['w'] < col, decl))).toEqual(want);
    expect(t(mask('m', (b, h, q, k, { w }) => q - w < k, decl))).toEqual(want);
    expect(t(mask('m', (b, h, q, k, { w: width }) => q - width < k, decl))).toEqual(want);
    expect(t(mask('m', (b, h, q, k, p) => { const { w } = p; return q - w < k; }, decl))).toEqual(want);
    expect(t(score('m', (s, b, h, q, k, p) => p.c * s, { c: 'float32' }))).toEqual(E.binary('mul', E.param('c', 'float'), s));
  });
  it('type annotations and grouping are transparent', () => {
    const want = E.binary('lt', E.binary('sub', q, E.param('w', 'int')), k);
    expect(t(mask('m', (b, h, q, k, p) => q - (p as { w: number }).w < k, { w: 'int32' }))).toEqual(want);
    expect(t(mask('m', (b, h, q, k, p) => (q satisfies number) - p!['w' as 'w'] < k, { w: 'int32' }))).toEqual(want);
    expect(t(mask('m', (b, h, q, k) => (Math).max(q, k) > (0)))).toEqual(E.binary('gt', E.binary('max', q, k), E.int(0)));
  });
  it('function declarations and methods are read too', () => {
    function causal(b: number, h: number, q: number, k: number) {
      return k <= q;
    }
    const obj = { m(b: number, h: number, q: number, k: number) { return k <= q; } };
    expect(t(mask('m', causal))).toEqual(E.binary('le', k, q));
    expect(t(mask('m', obj.m))).toEqual(E.binary('le', k, q));
    expect(t(mask('m', programToFunction('function named(b, h, q, k) { return k <= q }')))).toEqual(E.binary('le', k, q));
  });
});

describe('front end: finding the source', () => {
  it('errors of a function without a file point into its own text', () => {
    const fn = programToFunction('(b, h, q, k) => q / 2 > k');
    const err = (() => { try { translate({ role: 'mask', name: 'made', fn, params: {}, site: undefined }); } catch (e) { return e as KvforgeError; } return undefined; })();
    expect(err?.code).toBe('KVF1007');
    const text = fn.toString();
    expect(err?.location).toMatchObject({ file: '<made>', line: 1, column: text.indexOf('q / 2') + 1, length: 5, sourceLine: text });
  });
  it('an unreadable file or a site far away still works', () => {
    const def = mask('m', (b, h, q, k) => q / 2 > k);
    const far = translateError({ ...def, site: { file: def.site!.file, line: 1, column: 1 } });
    expect(far.location?.file).toBe(def.site!.file);
    const missing = translateError({ ...def, site: { file: '/nonexistent/file.ts', line: 3, column: 1 } });
    expect(missing.location?.file).toBe('<m>');
    // A site in this file, but no function here has that structure: the running code wins.
    const other = translateError({ ...def, fn: programToFunction('(b, h, q, k) => q / 3 > k') });
    expect(other.location).toMatchObject({ file: '<m>', line: 1, column: 17 });
  });
  it('fingerprints ignore what transpilers change and nothing else', () => {
    const print = (text: string) => {
      const sf = ts.createSourceFile('x.ts', `(${text})`, ts.ScriptTarget.Latest, true);
      return fingerprint((sf.statements[0] as ts.ExpressionStatement).expression);
    };
    const original = `(b: number, h, q, k, p: any) => {
      const d = (q - (k as number));;
      return d <= 0x10 && p['w'] > 1.50 && k !== undefined;
    }`;
    const printed = '(b,h,q,k,p)=>{const d=q-k;return d<=16&&p.w>1.5&&k!==void 0}';
    expect(print(printed)).toBe(print(original));
    expect(print(printed.replace('16', '17'))).not.toBe(print(original));
    expect(print(printed.replace('d<=', 'd<'))).not.toBe(print(original));
    expect(print(printed.replace('const', 'let'))).not.toBe(print(original));
    expect(print(printed.replace('p.w', 'p.v'))).not.toBe(print(original));
  });
  it('fn.toString() is read as JavaScript, not TypeScript (shrunk counterexample)', () => {
    // TypeScript's parser reads `x < ((b > (-5)) ? h : 7)` as the start of type arguments.
    const source = '(b, h, q, k, p) => ((-Math.min(p.i0, p.i1)) < ((b > (-5)) ? h : 7))';
    const def: FunctionDef = { role: 'mask', name: 'm', fn: programToFunction(source), params: { i0: 'int32', i1: 'int32' }, site: undefined };
    const ir = translate(def);
    fc.assert(fc.property(paramValues(def.params), points, (params, pts) => expectAgreement(def, ir, pts, params, source)), { seed, numRuns: 50 });
  });
  it('native and bound functions are KVF1010', () => {
    expect(translateError(mask('max', Math.max)).code).toBe('KVF1010');
    expect(translateError(mask('bound', ((b: number, h: number, q: number, k: number) => k <= q).bind(null))).code).toBe('KVF1010');
  });
  it('a failure inside the front end is KVF9001, not a raw exception', () => {
    const params = new Proxy({}, { getOwnPropertyDescriptor() { throw new TypeError('boom'); } }) as ParamDecls;
    const err = translateError({ role: 'mask', name: 'proxy', fn: (b: number, h: number, q: number, k: number, p: { w: number }) => q < p.w, params, site: undefined });
    expect(err.code).toBe('KVF9001');
    expect(err.message).toContain('boom');
  });
});

function translateError(def: FunctionDef): KvforgeError {
  try {
    translate(def);
  } catch (e) {
    expect(e).toBeInstanceOf(KvforgeError);
    return e as KvforgeError;
  }
  throw new Error('no error');
}

describe('call sites', () => {
  const THIS_FILE = fileURLToPath(import.meta.url);
  const lineOf = (text: string, marker: string) => text.slice(0, text.indexOf(marker)).split('\n').length;
  const columnOf = (text: string, marker: string, token: string) => {
    const line = text.split('\n')[lineOf(text, marker) - 1]!;
    return line.indexOf(token) + 1;
  };

  it('parses V8 stack lines', () => {
    expect(parseStackFrame('    at defineMask (file:///a/b%20c/x.ts:12:5)')).toEqual({ file: '/a/b c/x.ts', line: 12, column: 5 });
    expect(parseStackFrame('    at /a/x.ts:3:9')).toEqual({ file: '/a/x.ts', line: 3, column: 9 });
    expect(parseStackFrame('    at file:///a/x.ts:3:9')).toEqual({ file: '/a/x.ts', line: 3, column: 9 });
    expect(parseStackFrame('    at async run (/a/x.ts:1:2)')).toEqual({ file: '/a/x.ts', line: 1, column: 2 });
    expect(parseStackFrame('    at /a/(dir)/x.ts:7:8')).toEqual({ file: '/a/(dir)/x.ts', line: 7, column: 8 });
    expect(parseStackFrame('    at async Promise.all (index 0)')).toBeUndefined();
    expect(parseStackFrame('    at Object.m [as mask] (/a/(dir)/x.ts:7:8)')).toEqual({ file: '/a/(dir)/x.ts', line: 7, column: 8 });
    expect(parseStackFrame('    at f (C:\\work\\x.ts:7:8)')).toEqual({ file: 'C:\\work\\x.ts', line: 7, column: 8 });
    expect(parseStackFrame('    at <anonymous> (/a/x.ts?v=12ab:4:1)')).toEqual({ file: '/a/x.ts', line: 4, column: 1 });
    expect(parseStackFrame('    at eval (eval at <anonymous> (/a/x.ts:1:1), <anonymous>:1:1)')).toBeUndefined();
    expect(parseStackFrame('    at ModuleJob.run (node:internal/modules/esm/module_job:325:25)')).toBeUndefined();
    expect(parseStackFrame('    at new Promise (<anonymous>)')).toBeUndefined();
  });

  it('under vitest, map to the original .ts lines and columns', () => {
    const text = readFileSync(THIS_FILE, 'utf8');
    const direct = captureCallSite(0); // MARK-DIRECT
    const viaDefine = mask('m', (b, h, q, k) => k <= q); // MARK-DEFINE
    expect(direct).toEqual({ file: THIS_FILE, line: lineOf(text, '// MARK-DIRECT'), column: columnOf(text, '// MARK-DIRECT', 'captureCallSite(0)') });
    expect(viaDefine.site).toEqual({ file: THIS_FILE, line: lineOf(text, '// MARK-DEFINE'), column: columnOf(text, '// MARK-DEFINE', "mask('m'") });
  });

  it('under tsx, map to the original .ts lines, and errors point into the original file', () => {
    const probe = fileURLToPath(new URL('./fixtures/callsite-probe.ts', import.meta.url));
    const text = readFileSync(probe, 'utf8');
    const out = execFileSync(process.execPath, ['--import', 'tsx', probe], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) });
    const got = JSON.parse(out.trim().split('\n').pop()!);
    expect(got.direct).toEqual({ file: probe, line: lineOf(text, '// PROBE-DIRECT'), column: columnOf(text, '// PROBE-DIRECT', 'captureCallSite(0)') });
    expect(got.viaDefine).toEqual({ file: probe, line: lineOf(text, '// PROBE-DEFINE'), column: columnOf(text, '// PROBE-DEFINE', 'defineLike(') });
    // tsx runs transpiled code (types stripped, whitespace minified), yet the error is in the original.
    expect(got.fnText).not.toContain(': number');
    expect(got.error).toEqual({
      code: 'KVF1007',
      location: {
        file: probe, line: lineOf(text, '// PROBE-BAD'), column: columnOf(text, '// PROBE-BAD', 'q / 2'), length: 5,
        sourceLine: text.split('\n')[lineOf(text, '// PROBE-BAD') - 1],
      },
    });
  });
});

describe('random programs', () => {
  it(`scores stay within ${PROGRAM_BOUNDS.maxScore} inside the documented input bounds (seed ${seed})`, () => {
    const bounded = fc.record({
      s: fc.double({ min: -10, max: 10, noNaN: true }), b: int(0, 64), h: int(0, 64), q: int(0, 4096), k: int(0, 4096),
    });
    fc.assert(fc.property(
      scoreProgram().chain((prog) => fc.tuple(fc.constant(prog), paramValues(prog.params), fc.array(bounded, { minLength: 8, maxLength: 8 }))),
      ([prog, params, pts]) => {
        const fn = programToFunction(prog.source) as Loose;
        for (const p of pts) {
          const v = fn(p.s, p.b, p.h, p.q, p.k, params) as number;
          if (!(Math.abs(v) <= PROGRAM_BOUNDS.maxScore)) throw new Error(`${prog.source} = ${v} at ${JSON.stringify(p)}`);
        }
      },
    ), { seed, numRuns });
  });
});
