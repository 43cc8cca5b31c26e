/**
 * callSpan (codegen/frontend/callSpan.ts): the call at a stack frame's (line, column), found by
 * scanning, for reading a function when its whole file nests too deeply to parse. Random mask and
 * score programs (every literal form and body form of the front-end suites) placed among other
 * code come back exactly; strings, templates, regular expressions and comments holding brackets
 * do not count; a site where no call starts gives undefined.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blankOutside, callSpan } from '../codegen/frontend/callSpan.ts';
import { maskProgram, scoreProgram } from './support/random-programs.ts';

const seed = Number(process.env.FUZZ_SEED ?? 42);

/** The (line, column) of offset `at` in `text` (1-based, LF / CR LF lines). */
function siteOf(text: string, at: number): [number, number] {
  const before = text.slice(0, at).split(/\r\n|\n/);
  return [before.length, before[before.length - 1]!.length + 1];
}

describe(`callSpan (seed ${seed})`, () => {
  it('finds exactly the call of a random program placed among other code', () => {
    fc.assert(fc.property(fc.oneof(maskProgram(), scoreProgram()), fc.constantFrom('\n', '\r\n'), fc.boolean(), (p, nl, member) => {
      const call = `${member ? 'kvf.' : ''}defineMask(${p.source}, { name: 'x', params: { i0: 'int32' } })`;
      const text = [`import { defineMask } from 'kvforge';`, `const before = [(1), { a: '(' }, \`)\${(2)}\`];`, `export const m = ${call};`, `const after = ')';`].join(nl);
      const at = text.indexOf(call);
      const [line, column] = siteOf(text, at);
      const span = callSpan(text, line, column);
      expect(span && text.slice(span.start, span.end)).toBe(call);
      const blank = blankOutside(text, span!);
      expect(blank.length).toBe(text.length);
      expect(blank.split(/\r\n|\n/).length).toBe(text.split(/\r\n|\n/).length);
      expect(blank.trim()).toBe(call);
    }), { seed, numRuns: 200 });
  });

  it('brackets in strings, templates, regular expressions and comments do not count', () => {
    const call = "f((b, h, q, k) => { const s = ')' + `(${')'}` + /\\)[(]/.source; /* ) */ // )\n return k <= q; })";
    const text = `x = 1 / 2; ${call}; y()`;
    const span = callSpan(text, 1, text.indexOf('f((') + 1);
    expect(span && text.slice(span.start, span.end)).toBe(call);
  });

  it('no call at the site, or a site outside the text: undefined', () => {
    expect(callSpan('const a = 1;', 1, 1)).toBeUndefined();
    expect(callSpan('f(1', 1, 1)).toBeUndefined();
    expect(callSpan('f(1)', 2, 1)).toBeUndefined();
    expect(callSpan('f(1)', 1, 9)).toBeUndefined();
    expect(callSpan('f(1)', 0, 1)).toBeUndefined();
  });
});
