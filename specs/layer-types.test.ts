/**
 * LCKV's layer_types: print(parse(s)) === s and parse(print(t)) equals t on random valid tables
 * (cycles, sliding, any depth), and every malformed string is KVF2008 naming its token and
 * position. Random strings over the grammar's alphabet (digits, s, _, signs, spaces, other
 * letters) are accepted exactly when an independent acceptor says so.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseLayerTypes, printLayerTypes, standardTypes } from '../dsl/index.ts';
import { caught } from './support/caught.ts';
import { tableArb } from './support/scheme-arbs.ts';

const seed = Number(process.env.FUZZ_SEED ?? 42);
const numRuns = Number(process.env.FUZZ_RUNS ?? 300);

/** Independent acceptor: split on '_', each token digits without a leading zero (or '0'), optional 's'. */
function accepts(s: string, L?: number): boolean {
  if (s === '') return false;
  const toks = s.split('_');
  if (L !== undefined && toks.length !== L) return false;
  const n = L ?? toks.length;
  return toks.every((t) => {
    const body = t.endsWith('s') ? t.slice(0, -1) : t;
    if (body.length === 0 || [...body].some((c) => c < '0' || c > '9')) return false;
    if (body.length > 1 && body[0] === '0') return false;
    return Number(body) < n;
  });
}

describe(`layer_types round trip (seed ${seed})`, () => {
  it('parse(print(t)) equals t, print(parse(s)) equals s', () => {
    fc.assert(fc.property(tableArb(), (t) => {
      const s = printLayerTypes(t);
      expect(parseLayerTypes(s, t.length)).toEqual(t);
      expect(printLayerTypes(parseLayerTypes(s))).toBe(s);
    }), { seed, numRuns });
  });

  it('random strings over the alphabet: accepted exactly when the independent acceptor accepts, else KVF2008', () => {
    const alphabet = fc.constantFrom('0', '1', '2', '3', '9', 's', 'S', '_', '_', '_', ' ', '+', '-', 'x', '.', '\t');
    fc.assert(fc.property(fc.array(alphabet, { maxLength: 14 }).map((a) => a.join('')), fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }), (s, L) => {
      let ok = true;
      try {
        const t = parseLayerTypes(s, L);
        expect(printLayerTypes(t)).toBe(s);
      } catch (e) {
        ok = false;
        expect((e as { code?: string }).code).toBe('KVF2008');
      }
      expect(ok).toBe(accepts(s, L));
    }), { seed, numRuns: numRuns * 3 });
  });

  it('regression examples: cycles and the README strings', () => {
    for (const s of ['1_2s_0', '0', '0s', '1_0', '0_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_20_21', '0s_1s_2s_3s_4s_5s_6s_7s_8s_9s_10s_11_11_11_11_11_11_11_11_11_11_11']) {
      expect(printLayerTypes(parseLayerTypes(s))).toBe(s);
    }
    expect(parseLayerTypes('1_2s_0')).toEqual([
      { keysFrom: 1, valuesFrom: 1, sliding: false }, { keysFrom: 2, valuesFrom: 2, sliding: true }, { keysFrom: 0, valuesFrom: 0, sliding: false },
    ]);
    expect(standardTypes(4)).toBe('0_1_2_3');
  });
});

describe('layer_types errors name the token and its position', () => {
  const cases: Array<[string, number | undefined, RegExp]> = [
    ['', 3, /layer_types is empty/],
    ['0__1', undefined, /token 1 \(''.*at character 3: empty token/],
    ['0_1_', undefined, /token 2 .* at character 5: empty token/],
    ['_0', undefined, /token 0 .* at character 1: empty token/],
    ['0_ 1', undefined, /token 1 \(' 1', layer 1\) at character 3: whitespace/],
    ['0_1 ', undefined, /token 1 .*whitespace/],
    ['0_+1', undefined, /token 1 \('\+1'.*a sign is not allowed/],
    ['0_-1', undefined, /token 1 \('-1'.*a sign is not allowed/],
    ['0_01', undefined, /token 1 \('01'.*leading zero/],
    ['0_1x', undefined, /token 1 \('1x'.*unknown suffix 'x'/],
    ['0_1S', undefined, /unknown suffix 'S'/],
    ['0_1ss', undefined, /unknown suffix 'ss'/],
    ['0_s', undefined, /token 1 \('s'.*not a layer index/],
    ['0_1.0', undefined, /unknown suffix '\.0'/],
    ['0_1e1', undefined, /unknown suffix 'e1'/],
    ['0_\u0661', undefined, /not a layer index/],
    ['0_2', undefined, /token 1 \('2', layer 1\) at character 3: layer 2 is out of range: the scheme has 2 layers/],
    ['0_99999999999999999999999', undefined, /out of range/],
    ['0_1_2', 2, /token 2 .*out of range|3 tokens for 2 layers/],
    ['0_1', 3, /has 2 tokens for 3 layers/],
    ['0_1_1_1', 3, /out of range|4 tokens for 3 layers/],
  ];
  it.each(cases)('%j (layers %s)', (s, L, re) => {
    const e = caught(() => parseLayerTypes(s, L));
    expect(e.code).toBe('KVF2008');
    expect(e.message).toMatch(re);
  });
  it('hints give the canonical spelling', () => {
    expect(caught(() => parseLayerTypes('0_01')).hint).toMatch(/did you mean '1'/);
    expect(caught(() => parseLayerTypes('0_+1s')).hint).toMatch(/did you mean '1s'/);
  });
  it('a control character in a token is escaped in the message', () => {
    const e = caught(() => parseLayerTypes('0_1\u001b[31m'));
    expect(e.message).not.toContain('\u001b');
    expect(e.message).toContain('\\u{1b}');
  });
  it('a non-string is KVF2008', () => {
    expect(caught(() => parseLayerTypes(3 as unknown as string)).code).toBe('KVF2008');
  });
  it('printing a table with separate key and value sources is KVF2008', () => {
    const e = caught(() => printLayerTypes([{ keysFrom: 0, valuesFrom: 0, sliding: false }, { keysFrom: 1, valuesFrom: 0, sliding: false }]));
    expect(e.code).toBe('KVF2008');
    expect(e.message).toMatch(/layer 1 takes keys from layer 1 and values from layer 0/);
  });
});

describe('regressions from a hostile review', () => {
  it('a string with the wrong token count says so before judging a token', () => {
    const lckv22 = ['0', ...Array.from({ length: 20 }, () => '20'), '21'].join('_');
    expect(caught(() => parseLayerTypes(lckv22, 4)).message).toMatch(/has 22 tokens for 4 layers/);
  });
  it('hints: 3S -> 3s; no hint made of a huge number; a huge index is shortened in the message', () => {
    expect(caught(() => parseLayerTypes('0_3S')).hint).toMatch(/did you mean '3s'/);
    const e = caught(() => parseLayerTypes(`0_0${'9'.repeat(400)}`));
    expect(e.hint).not.toMatch(/Infinity/);
    const big = caught(() => parseLayerTypes(`0_${'9'.repeat(400)}`));
    expect(big.message.length).toBeLessThan(300);
  });
});
