/**
 * The addon owns the memory of every call (issue 6, defect 3): inputs are copied when the call is
 * made, outputs are allocated by the addon; decode-shaped calls (Lq <= 8, cpu) instead run before
 * forward() returns, reading the inputs in place while no JS can run. Before, the addon kept references to the typed arrays
 * only: transferring an input's buffer while the kernel ran, then collecting garbage, gave SIGSEGV
 * or wrong output, and views of a SharedArrayBuffer failed with a bare `Error: Invalid argument`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { KvforgeError } from '../dsl/diagnostics.ts';
import type { CompiledAttention } from '../runtime/api/kernels.ts';
import type { AttentionInputs } from '../runtime/api/inputs.ts';
import { loadAddon, type NativeAddon, type NativeForwardArgs } from '../runtime/api/native.ts';
import { randomFloats } from '../runtime/verify/random.ts';
import { unitReferenceAttention } from '../runtime/verify/reference.ts';
import { loadShipped } from '../runtime/api/shipped.ts';
import { compareArrays, TOLERANCES } from '../runtime/verify/tolerance.ts';
import { collectGarbage, detach } from './support/gc.ts';

let causal: CompiledAttention;
let addon: NativeAddon;
beforeAll(async () => {
  const s = await loadShipped();
  causal = s.kernels.get('causalAttention')!;
  addon = loadAddon(s.addon.path);
});

// causalAttention: Hq = 32, Hkv = 4, D = Dv = 64. A prefill this long runs for tens of ms, long
// enough for the main thread to detach and collect while the kernel still reads.
function inputs(Lq: number, Lk: number, seed = 1): AttentionInputs {
  return { B: 1, Lq, Lk, q: randomFloats(32 * Lq * 64, seed), k: randomFloats(4 * Lk * 64, seed + 1), v: randomFloats(4 * Lk * 64, seed + 2) };
}
const copy = (x: AttentionInputs): AttentionInputs => ({ ...x, q: x.q.slice(), k: x.k.slice(), v: x.v.slice(), qpos: x.qpos?.slice(), kpos: x.kpos?.slice() });

function expectReference(got: { out: Float32Array; lse: Float32Array }, x: AttentionInputs): void {
  const ref = unitReferenceAttention(causal.unit, x);
  const o = compareArrays(got.out, ref.out, TOLERANCES.f32.out);
  const l = compareArrays(got.lse, ref.lse, TOLERANCES.f32.lse);
  expect(o.first, 'out').toBeUndefined();
  expect(l.first, 'lse').toBeUndefined();
  expect(o.ok && l.ok).toBe(true);
}

/** Bitwise equality of two results (expect().toEqual is far too slow on arrays this long). */
function expectSameBits(got: { out: Float32Array; lse: Float32Array }, want: { out: Float32Array; lse: Float32Array }): void {
  const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  expect(got.out.length).toBe(want.out.length);
  expect(bytes(got.out).equals(bytes(want.out)), 'out bitwise').toBe(true);
  expect(bytes(got.lse).equals(bytes(want.lse)), 'lse bitwise').toBe(true);
}

async function rejected(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('inputs are copied when the call is made', () => {
  it('detaching every input while the kernel runs, then collecting garbage, changes nothing', async () => {
    const x = inputs(512, 1024);
    const expected = await causal.run(copy(x), { threads: 2 });
    const pending = causal.run(x, { threads: 2 });
    detach(x.q), detach(x.k), detach(x.v);
    // The transferred memory is freed now (large buffers: unmapped); refill the heap meanwhile.
    for (let i = 0; i < 4; i++) {
      collectGarbage();
      new Float32Array(x.q.length + 1024 * i).fill(Number.NaN);
    }
    const got = await pending;
    expect(x.q.length).toBe(0); // really detached
    expectSameBits(got, expected);
  });

  it('writing the inputs right after the call does not reach the kernel', async () => {
    const x = { ...inputs(64, 1024, 7), kpos: Int32Array.from({ length: 1024 }, (_, j) => j), qpos: Int32Array.from({ length: 64 }, (_, i) => 960 + i) };
    const keep = copy(x);
    const pending = causal.run(x, { threads: 2 });
    x.q.fill(Number.NaN), x.k.fill(1e30), x.v.fill(Number.NaN), x.kpos.fill(0), x.qpos.fill(-5);
    expectReference(await pending, keep);
  });

  it('a getter that detaches an input already read does not reach the kernel', async () => {
    const x = inputs(64, 300, 11);
    const keep = copy(x);
    const args = {
      ...argsFor(x),
      get v() { detach(x.q); collectGarbage(); return x.v; }, // q was read (and copied) before v
    };
    const got = await addon.forward(causal.id, args as NativeForwardArgs);
    expect(x.q.length).toBe(0);
    expectReference(got, keep);
  });

  it('many concurrent calls on the same buffers, one detached mid-flight, all agree', async () => {
    const x = inputs(128, 700, 21);
    const keep = copy(x);
    const expected = await causal.run(keep, { threads: 1 });
    const calls = Array.from({ length: 8 }, (_, i) => causal.run(x, { threads: 1 + (i % 2) }));
    detach(x.k);
    collectGarbage();
    for (const r of await Promise.all(calls)) {
      expectSameBits(r, expected);
    }
  });
});

describe('decode-shaped calls (Lq <= 8) run before run() returns, reading the inputs in place', () => {
  it('writing or detaching the inputs right after the call changes nothing: the kernel is done', async () => {
    const x = { ...inputs(1, 2048, 41), kpos: Int32Array.from({ length: 2048 }, (_, j) => 3 * j), qpos: Int32Array.of(7000) };
    const keep = copy(x);
    const pending = causal.run(x, { threads: 2 });
    x.q.fill(Number.NaN), x.k.fill(1e30), x.v.fill(Number.NaN), x.kpos.fill(0), x.qpos.fill(-5);
    detach(x.k), detach(x.v);
    collectGarbage();
    expectReference(await pending, keep);
  });

  for (const [late, early] of [['v', 'q'], ['kpos', 'k'], ['params', 'v'], ['kpos', 'qpos']] as const) {
    it(`a getter for '${late}' that detaches '${early}' (read before it) is refused, never read`, async () => {
      const x = { ...inputs(2, 300, 43), qpos: Int32Array.of(298, 299), kpos: Int32Array.from({ length: 300 }, (_, j) => j) };
      const base = argsFor(x);
      const args = Object.defineProperty({ ...base }, late, {
        enumerable: true,
        get() { detach(base[early] as Float32Array | Int32Array); collectGarbage(); return base[late]; },
      });
      const e = await rejected(addon.forward(causal.id, args as NativeForwardArgs));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toMatch(new RegExp(`^forward: argument '${early}' is a \\w+ whose ArrayBuffer is detached`));
    });
  }

  it('a decode-shaped call equals the same rows cut out of a longer, copied call', async () => {
    const Lk = 777, x = inputs(24, Lk, 47); // 24 > 8: copied, run on a worker
    const long = await causal.run(x, { threads: 2 });
    for (const rows of [1, 8]) {
      const q = new Float32Array(32 * rows * 64);
      for (let h = 0; h < 32; h++) q.set(x.q.subarray((h * 24 + 24 - rows) * 64, (h * 24 + 24) * 64), h * rows * 64);
      const short = await causal.run({ ...x, Lq: rows, q }, { threads: 2 }); // in place, on this thread
      const ref = unitReferenceAttention(causal.unit, { ...x, Lq: rows, q });
      expect(compareArrays(short.out, ref.out, TOLERANCES.f32.out).ok, `Lq=${rows}`).toBe(true);
      for (let h = 0; h < 32; h++) {
        const a = short.lse.subarray(h * rows, (h + 1) * rows), b = long.lse.subarray(h * 24 + 24 - rows, h * 24 + 24);
        expect(compareArrays(a, b, TOLERANCES.f32.lse).ok, `head ${h}`).toBe(true);
      }
    }
  });
});

describe('views that are not plain arrays', () => {
  // Lq = 33 is copied for a worker; Lq = 2 is read in place on the calling thread.
  for (const Lq of [33, 2]) it(`SharedArrayBuffer views give the same result as plain arrays (Lq=${Lq})`, async () => {
    const x = { ...inputs(Lq, 190, 31), kpos: Int32Array.from({ length: 190 }, (_, j) => 2 * j), qpos: Int32Array.from({ length: Lq }, (_, i) => 300 + i) };
    const shared = <T extends Float32Array | Int32Array>(a: T): T => {
      const s = new (a.constructor as { new (b: SharedArrayBuffer): T })(new SharedArrayBuffer(a.byteLength));
      s.set(a as never);
      return s;
    };
    const sx = { ...x, q: shared(x.q), k: shared(x.k), v: shared(x.v), qpos: shared(x.qpos), kpos: shared(x.kpos) };
    expect(sx.q.buffer).toBeInstanceOf(SharedArrayBuffer);
    const plain = await causal.run(x, { threads: 2 });
    const got = await causal.run(sx, { threads: 2 });
    expectSameBits(got, plain);
    expectReference(got, x);
  });

  for (const Lq of [17, 1]) it(`subarray views with a byte offset read from their offset (Lq=${Lq})`, async () => {
    const x = inputs(Lq, 65, 41);
    const at = <T extends Float32Array>(a: T, offset: number): T => {
      const big = new Float32Array(a.length + offset + 5).fill(Number.NaN);
      big.set(a, offset);
      return big.subarray(offset, offset + a.length) as T;
    };
    const vx = { ...x, q: at(x.q, 3), k: at(x.k, 1), v: at(x.v, 16) };
    expect(vx.q.byteOffset).toBe(12);
    expectReference(await causal.run(vx, { threads: 2 }), x);
  });
});

describe('detached inputs are errors that say so', () => {
  it.each(['q', 'k', 'v'] as const)("run(): a detached '%s' is KVF3009", async (name) => {
    const x = inputs(3, 5);
    detach(x[name]);
    const e = await rejected(causal.run(x));
    expect(e).toBeInstanceOf(KvforgeError);
    expect((e as KvforgeError).code).toBe('KVF3009');
    expect(e.message).toContain(`argument '${name}' is detached`);
  });

  it("run(): a detached 'kpos' is KVF3009", async () => {
    const x = { ...inputs(3, 5), kpos: new Int32Array([0, 1, 2, 3, 4]) };
    detach(x.kpos);
    const e = await rejected(causal.run(x));
    expect((e as KvforgeError).code).toBe('KVF3009');
    expect(e.message).toContain("argument 'kpos' is detached");
  });

  it.each(['q', 'k', 'v', 'qpos', 'kpos', 'params'] as const)("forward(): a detached '%s' is a TypeError naming it", async (name) => {
    const a = argsFor({ ...inputs(3, 5), qpos: new Int32Array([2, 3, 4]), kpos: new Int32Array([0, 1, 2, 3, 4]) });
    detach(a[name]!);
    const e = await rejected(addon.forward(causal.id, a));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toMatch(new RegExp(`^forward: argument '${name}' is a \\w+ whose ArrayBuffer is detached`));
  });
});

/** The addon's own argument object for `x` on causalAttention. */
function argsFor(x: AttentionInputs): NativeForwardArgs {
  return {
    q: x.q, k: x.k, v: x.v, B: x.B, Hq: 32, Hkv: 4, Lq: x.Lq, Lk: x.Lk, D: 64, Dv: 64, scale: 0.125,
    qpos: x.qpos ?? null, kpos: x.kpos ?? null, params: new Float64Array(0), threads: 2,
  };
}
