// The memo of a call's parameter array (runtime/api/callParams.ts): hits never hand out a stale
// array, and a decode loop that reuses its options computes them once.
import { describe, expect, it } from 'vitest';
import { CallParamsMemo, type CallParams } from '../runtime/api/callParams.ts';

function counting() {
  let n = 0;
  const memo = new CallParamsMemo((opts) => {
    n++;
    const o = (opts ?? {}) as { threads?: number; params?: Record<string, unknown> };
    for (const v of Object.values(o.params ?? {})) if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`bad value ${String(v)}`);
    const w = (o.params?.window as number | undefined) ?? 8;
    return { params: Float64Array.of(w), values: { m0_window: w }, threads: o.threads } satisfies CallParams;
  });
  return { memo, count: () => n };
}

describe('call parameter memo', () => {
  it('options without params: one array per thread count', () => {
    const { memo, count } = counting();
    const a = memo.get(undefined), b = memo.get({}), c = memo.get({ threads: 2 }), d = memo.get({ threads: 2 });
    expect(a).toBe(b);
    expect(c).toBe(d);
    expect(c).not.toBe(a);
    expect(count()).toBe(2);
  });

  it('the same options object: computed once while unchanged, again after any change', () => {
    const { memo, count } = counting();
    const opts: { threads?: number; params: Record<string, unknown> } = { params: { window: 64 } };
    const first = memo.get(opts);
    for (let i = 0; i < 5; i++) expect(memo.get(opts)).toBe(first);
    expect(count()).toBe(1);
    opts.params.window = 128;
    expect(memo.get(opts).params[0]).toBe(128);
    opts.params.window = 64;
    expect(memo.get(opts)).toBe(first); // the value set seen before: the same array
    opts.threads = 3;
    expect(memo.get(opts).threads).toBe(3);
    delete opts.threads;
    opts.params.extra = 1;
    memo.get(opts);
    const before = count();
    opts.params = { window: 64 }; // a new params object
    expect(memo.get(opts)).toBe(first);
    expect(count()).toBe(before + 1);
  });

  it('fresh literals with equal values share one array; -0 and 0 do not', () => {
    const { memo } = counting();
    const a = memo.get({ params: { window: 64 } }), b = memo.get({ params: { window: 64 } });
    expect(b).toBe(a);
    expect(memo.get({ params: { window: 64 }, threads: 1 })).not.toBe(a);
    const z = new CallParamsMemo((o) => ({ params: Float64Array.of((o as { params: { x: number } }).params.x), values: {}, threads: undefined }));
    expect(z.get({ params: { x: -0 } })).not.toBe(z.get({ params: { x: 0 } }));
  });

  it('refused options are refused every time and leave nothing behind', () => {
    const { memo, count } = counting();
    const opts = { params: { window: 1.5 as number } };
    expect(() => memo.get(opts)).toThrow(/bad value 1.5/);
    expect(() => memo.get(opts)).toThrow(/bad value 1.5/);
    expect(count()).toBe(2);
    opts.params.window = 4;
    expect(memo.get(opts).params[0]).toBe(4);
  });

  it('a getter is read on every call: a changed value misses', () => {
    const { memo } = counting();
    let w = 16;
    const opts = { params: { get window() { return w; } } };
    expect(memo.get(opts).params[0]).toBe(16);
    w = 32;
    expect(memo.get(opts).params[0]).toBe(32);
  });

  it('inherited enumerable keys take the checked path', () => {
    const { memo, count } = counting();
    const params = Object.create({ inherited: 999 }) as Record<string, unknown>;
    params.window = 8;
    const opts = { params };
    memo.get(opts);
    memo.get(opts);
    expect(count()).toBe(2);
  });
});
