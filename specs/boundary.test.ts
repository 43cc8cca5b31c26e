/**
 * A property test of the addon boundary (issue 6): random calls on random shipped kernels, each
 * argument either right (as a plain array, a subarray view with a byte offset, or a view of a
 * SharedArrayBuffer) or wrong in one of the ways a caller can get it wrong (another typed-array
 * kind, a plain array, a DataView, null, a number, a length off by one or zero, a detached
 * buffer), made through `run()` and straight through `addon.forward`, several at once on the same
 * buffers with one buffer detached mid-flight and the garbage collected.
 *
 * Every call either matches the float64 reference within the tolerance table, or fails the way
 * the contract says: through `run()` a KvforgeError whose code says what was wrong with the first
 * wrong argument (in checking order) and names it; through `forward()` a TypeError (wrong kind)
 * or RangeError (wrong value) naming it. Never a crash, never a silent wrong result.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { roundInputs } from '../runtime/verify/dtype.ts';
import { makeInputs } from '../runtime/verify/fuzz.ts';
import type { AttentionInputs } from '../runtime/api/inputs.ts';
import type { CompiledAttention } from '../runtime/api/kernels.ts';
import { loadAddon, type NativeAddon } from '../runtime/api/native.ts';
import { unitReferenceAttention } from '../runtime/verify/reference.ts';
import { loadShipped } from '../runtime/api/shipped.ts';
import { compareArrays, TOLERANCES } from '../runtime/verify/tolerance.ts';
import { collectGarbage, detach } from './support/gc.ts';
import { runs, SEED } from './support/random-expr.ts';

let kernels: ReadonlyMap<string, CompiledAttention>;
let addon: NativeAddon;
beforeAll(async () => {
  const s = await loadShipped();
  kernels = s.kernels;
  addon = loadAddon(s.addon.path);
});

// ---- the model of one argument -------------------------------------------------------------

/** How a right array is presented. */
type View = 'plain' | 'offset' | 'shared' | 'sharedOffset';
/** What is wrong with an argument. */
type Wrong =
  | { readonly kind: 'type'; readonly as: string }       // another kind of value, same length where it has one
  | { readonly kind: 'length'; readonly by: -1 | 1 | 'zero' }
  | { readonly kind: 'detached' }
  | { readonly kind: 'number'; readonly value: unknown }; // a scalar argument that is not acceptable

const OTHER_KINDS = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'Array', 'DataView', 'null', 'number', 'string', 'undefined'] as const;

function otherValue(as: string, n: number): unknown {
  switch (as) {
    case 'Array': return Array.from({ length: n }, () => 0);
    case 'DataView': return new DataView(new ArrayBuffer(4 * n));
    case 'null': return null;
    case 'number': return 3;
    case 'string': return 'q';
    case 'undefined': return undefined;
    default: return new (globalThis as unknown as Record<string, new (n: number) => unknown>)[as]!(n);
  }
}

/** `a` as `view` presents it: the same elements, another buffer arrangement. */
function present<T extends Float32Array | Int32Array | Uint8Array | Float64Array>(a: T, view: View): T {
  if (view === 'plain') return a;
  const ctor = a.constructor as { new (b: ArrayBufferLike, offset: number, length: number): T; BYTES_PER_ELEMENT: number };
  const offset = view === 'offset' || view === 'sharedOffset' ? 3 : 0;
  const bytes = (a.length + offset + 2) * ctor.BYTES_PER_ELEMENT;
  const buf = view === 'shared' || view === 'sharedOffset' ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const t = new ctor(buf, offset * ctor.BYTES_PER_ELEMENT, a.length);
  t.set(a as never);
  return t;
}

/**
 * The wrong value standing for an array argument `right`. Positions are optional (undefined in
 * run(), null or undefined in forward() mean the defaults), so they never get those two.
 */
function wrongArray(name: string, right: ArrayBufferView & { length: number }, w: Wrong): unknown {
  const ctor = right.constructor as { new (n: number): ArrayBufferView; name: string };
  switch (w.kind) {
    case 'type': {
      const optional = (name === 'qpos' || name === 'kpos') && (w.as === 'null' || w.as === 'undefined');
      return otherValue(w.as === ctor.name || optional ? 'Array' : w.as, right.length);
    }
    case 'length': return new ctor(w.by === 'zero' ? (right.length === 0 ? 1 : 0) : Math.max(0, right.length + w.by) === right.length ? right.length + 1 : Math.max(0, right.length + w.by));
    case 'detached': {
      const t = new ctor(right.length);
      detach(t);
      return t;
    }
    default: throw new Error(`no array form for ${w.kind}`);
  }
}

// ---- the random case -------------------------------------------------------------------------

const KERNELS = ['causalAttention', 'noDiagonalAttention', 'window256', 'sinksWindow', 'prefixLm', 'softcapCausal',
  'alibiCausal', 'dense', 'causal128', 'window256d256', 'causalAttention@cuda-bf16', 'causalAttention@cuda-f32',
  'window256@cuda-f16', 'softcapCausal@cuda-bf16', 'causal128@cuda-bf16', 'window256d256@cuda-f16'];
const RUN_ARRAYS = ['q', 'k', 'v', 'qpos', 'kpos'] as const;
const SCALARS = ['B', 'Hq', 'Hkv', 'Lq', 'Lk', 'D', 'Dv', 'scale', 'threads'] as const;
/** The order the addon checks its arguments in (napi_forward.cpp parse()): the first wrong one is named. */
const FORWARD_ORDER = ['kernelId', 'backend', 'a', ...SCALARS, 'q', 'k', 'v', 'qpos', 'kpos', 'params'] as const;
type ForwardArg = (typeof FORWARD_ORDER)[number];

interface Case {
  readonly kernel: string;
  readonly path: 'run' | 'forward';
  readonly B: number; readonly Lq: number; readonly Lk: number;
  readonly positions: 'default' | 'shifted' | 'gaps' | 'shuffled';
  readonly seed: number;
  readonly views: Readonly<Record<(typeof RUN_ARRAYS)[number], View>>;
  readonly wrong: ReadonlyArray<{ readonly arg: ForwardArg; readonly how: Wrong }>;
  /** Calls made at once on the same buffers. */
  readonly concurrent: number;
  /** Detach this input's buffer right after the calls were made (then collect garbage). */
  readonly detachAfter: (typeof RUN_ARRAYS)[number] | null;
  readonly threads: number;
}

const viewArb = fc.constantFrom<View>('plain', 'plain', 'offset', 'shared', 'sharedOffset');
const arrayWrong = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...OTHER_KINDS).map((as): Wrong => ({ kind: 'type', as })) },
  { weight: 2, arbitrary: fc.constantFrom<-1 | 1 | 'zero'>(-1, 1, 'zero').map((by): Wrong => ({ kind: 'length', by })) },
  { weight: 2, arbitrary: fc.constant<Wrong>({ kind: 'detached' }) },
);
// Scalars: values no argument accepts (-1 is a fine scale, so scale gets its own).
const intWrong = fc.constantFrom<unknown>(-1, 1.5, Number.NaN, 2 ** 60, '3', null, undefined).map((value): Wrong => ({ kind: 'number', value }));
const scaleWrong = fc.constantFrom<unknown>(Number.NaN, Number.POSITIVE_INFINITY, 'x', null).map((value): Wrong => ({ kind: 'number', value }));

function wrongArb(path: 'run' | 'forward'): fc.Arbitrary<{ arg: ForwardArg; how: Wrong }> {
  const arrays = path === 'run' ? RUN_ARRAYS : (['q', 'k', 'v', 'qpos', 'kpos', 'params'] as const);
  const onArray = fc.tuple(fc.constantFrom(...arrays), arrayWrong).map(([arg, how]) => ({ arg, how }));
  if (path === 'run') return onArray;
  return fc.oneof(
    { weight: 4, arbitrary: onArray },
    { weight: 2, arbitrary: fc.constantFrom(...SCALARS.filter((s) => s !== 'scale')).chain((arg) => intWrong.map((how) => ({ arg, how }))) },
    { weight: 1, arbitrary: scaleWrong.map((how) => ({ arg: 'scale' as ForwardArg, how })) },
    { weight: 1, arbitrary: fc.constantFrom<ForwardArg>('kernelId', 'backend', 'a').map((arg) => ({ arg, how: { kind: 'number', value: arg === 'a' ? null : 7 } as Wrong })) },
  );
}

const caseArb: fc.Arbitrary<Case> = fc.constantFrom<'run' | 'forward'>('run', 'forward').chain((path) => fc.record({
  kernel: fc.constantFrom(...KERNELS),
  path: fc.constant(path),
  B: fc.integer({ min: 1, max: 2 }),
  Lq: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 1, max: 40 })),
  Lk: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 1, max: 300 })),
  positions: fc.constantFrom('default', 'shifted', 'gaps', 'shuffled'),
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  views: fc.record({ q: viewArb, k: viewArb, v: viewArb, qpos: viewArb, kpos: viewArb }),
  // Half the cases are right; the others get one or two wrong arguments.
  wrong: fc.oneof(fc.constant([]), fc.uniqueArray(wrongArb(path), { minLength: 1, maxLength: 2, selector: (w) => w.arg })),
  concurrent: fc.constantFrom(1, 1, 2, 5),
  detachAfter: fc.constantFrom(null, 'q', 'k', 'v', 'kpos'),
  threads: fc.integer({ min: 1, max: 3 }),
}) as fc.Arbitrary<Case>);

// ---- what the contract says about a case -----------------------------------------------------

/** The first wrong argument in checking order, or null when the call is right. */
function firstWrong(c: Case): { arg: ForwardArg; how: Wrong } | null {
  const order = c.path === 'run' ? RUN_ARRAYS : FORWARD_ORDER;
  for (const arg of order) {
    const w = c.wrong.find((x) => x.arg === arg);
    if (w) return w;
  }
  return null;
}

/** The KvforgeError code run() gives for `w`. */
function runCode(arg: string, w: Wrong): string {
  if (w.kind === 'detached') return 'KVF3009';
  if (arg === 'qpos' || arg === 'kpos') return 'KVF3006';
  return w.kind === 'length' ? 'KVF3002' : 'KVF3001';
}

/** TypeError for a value of the wrong kind (or a detached array), RangeError for a wrong value. */
function forwardError(arg: ForwardArg, w: Wrong): typeof TypeError | typeof RangeError {
  if (arg === 'kernelId' || arg === 'backend' || arg === 'a') return TypeError; // 7 for a string, null for the object
  if (w.kind === 'length') return RangeError;
  if (w.kind === 'number') return typeof w.value === 'number' ? RangeError : TypeError;
  return TypeError;
}

/** Outcomes seen, by kind: shows the cases reach every branch of the contract. */
const outcomes = new Map<string, number>();
const saw = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);

/** Run one case; throws (with the case) on any breach of the contract. */
async function check(c: Case): Promise<void> {
  const kernel = kernels.get(c.kernel)!;
  const x = makeInputs(kernel, { B: c.B, Lq: c.Lq, Lk: c.Lk, positions: c.positions, seed: c.seed, scale: 1 });
  const dtype = kernel.unit.plan.dtype;
  const ref = unitReferenceAttention(kernel.unit, roundInputs(x, dtype));
  const given: Record<string, unknown> = {};
  for (const name of RUN_ARRAYS) {
    const a = x[name];
    if (a) given[name] = present(a, c.views[name]);
  }
  let call: () => Promise<{ out: Float32Array; lse: Float32Array }>;
  if (c.path === 'run') {
    for (const w of c.wrong) given[w.arg] = wrongArray(w.arg, (x[w.arg as (typeof RUN_ARRAYS)[number]] ?? new Int32Array(w.arg === 'qpos' ? c.Lq : c.Lk)) as Int32Array, w.how);
    const inputs = { B: c.B, Lq: c.Lq, Lk: c.Lk, ...given } as unknown as AttentionInputs;
    call = () => kernel.run(inputs, { threads: c.threads });
  } else {
    const { heads, headDim, valueDim, scale } = kernel.unit;
    const a: Record<string, unknown> = {
      ...given, qpos: given.qpos ?? null, kpos: given.kpos ?? null,
      B: c.B, Hq: heads.q, Hkv: heads.kv, Lq: c.Lq, Lk: c.Lk, D: headDim, Dv: valueDim, scale,
      params: Float64Array.from(kernel.unit.runtimeParams.map((p) => p.value)), threads: c.threads,
    };
    let id: unknown = kernel.id, backend: unknown = kernel.backend, args: unknown = a;
    for (const { arg, how } of c.wrong) {
      if (arg === 'kernelId') id = (how as { value: unknown }).value;
      else if (arg === 'backend') backend = (how as { value: unknown }).value;
      else if (arg === 'a') args = (how as { value: unknown }).value;
      else if (how.kind === 'number') a[arg] = how.value;
      else a[arg] = wrongArray(arg, (a[arg] ?? new Int32Array(arg === 'qpos' ? c.Lq : c.Lk)) as Int32Array, how);
    }
    call = () => addon.forward(id as string, args as never, backend as never);
  }

  const pending = Array.from({ length: c.concurrent }, () => call().then((r) => ({ r }), (e: unknown) => ({ e })));
  const victim = c.detachAfter ? given[c.detachAfter] : undefined;
  if (ArrayBuffer.isView(victim) && victim.buffer instanceof ArrayBuffer && c.wrong.every((w) => w.arg !== c.detachAfter)) {
    detach(victim);
    collectGarbage();
  }
  const first = firstWrong(c);
  for (const got of await Promise.all(pending)) {
    if (!first) {
      if ('e' in got) throw new Error(`a right call failed: ${String((got.e as Error)?.stack ?? got.e)}`);
      const o = compareArrays(got.r.out, ref.out, TOLERANCES[dtype].out);
      const l = compareArrays(got.r.lse, ref.lse, TOLERANCES[dtype].lse);
      if (!o.ok || !l.ok) throw new Error(`kernel ${kernel.id} disagrees with the reference: ${JSON.stringify(o.first ?? l.first)} (out ${got.r.out.length}, lse ${got.r.lse.length})`);
      saw(`${c.path}: matches the reference${kernel.backend === 'cpu' ? '' : ` (${kernel.backend})`}`);
      continue;
    }
    if (!('e' in got)) throw new Error(`a call with a wrong '${first.arg}' (${JSON.stringify(first.how)}) succeeded`);
    const e = got.e as Error;
    if (c.path === 'run') {
      if (!(e instanceof KvforgeError)) throw new Error(`run(): expected a KvforgeError, got ${e?.stack ?? String(e)}`);
      expect(e.code).toBe(runCode(first.arg, first.how));
      expect(e.message).toContain(`argument '${first.arg}'`);
      if (first.how.kind === 'detached') expect(e.message).toContain('detached');
      saw(`run: ${e.code}`);
    } else {
      const want = forwardError(first.arg, first.how);
      if (!(e instanceof want)) throw new Error(`forward(): expected a ${want.name} naming '${first.arg}', got ${e?.stack ?? String(e)}`);
      expect(e.message.startsWith(`forward: argument '${first.arg}'`), e.message).toBe(true);
      if (first.how.kind === 'detached') expect(e.message).toContain('detached');
      saw(`forward: ${want.name}`);
    }
  }
}

describe(`the addon boundary (seed ${SEED})`, () => {
  it('every call matches the reference or fails with a coded error naming the argument', async () => {
    // FUZZ_BOUNDARY_RUNS: the sanitized flavour runs more of these than FUZZ_RUNS gives the kernel campaigns.
    const n = Number(process.env.FUZZ_BOUNDARY_RUNS ?? runs(200));
    const t0 = performance.now();
    await fc.assert(fc.asyncProperty(caseArb, check), { seed: SEED, numRuns: n });
    const calls = [...outcomes.values()].reduce((a, b) => a + b, 0);
    console.log(`boundary: ${n} cases, ${calls} calls (seed ${SEED}) in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
      [...outcomes].sort().map(([k, v]) => `${k} ${v}`).join(', '));
    // Both paths reached both halves of the contract.
    for (const k of ['run: matches the reference', 'run: KVF3001', 'run: KVF3009', 'forward: matches the reference', 'forward: TypeError', 'forward: RangeError']) {
      expect(outcomes.get(k), k).toBeGreaterThan(0);
    }
  });
});
