/**
 * Attention over a KV cache read in place (kernel interface v2): prefill of a ragged chunk of new
 * queries per sequence, and decode of one query per sequence. What CompiledAttention.prefill,
 * decode and decodeSync check and send to the addon's attend().
 *
 * Layouts (row-major, f32): queries q [rows, Hq, D] packed by sequence (rows of sequence b are
 * `counts[b]` consecutive rows, sequences in order), positions [rows]; out [rows, Hq, Dv],
 * lse [rows, Hq] (natural log). Decode has one row per batch slot: q [B, Hq, D]; the rows of
 * released sequences are not computed (async: zeros; sync: left as they were).
 *
 * Each call proves its integer range (KVF3007) over the box of its query positions and the
 * positions the cache holds. Interval bounds are monotone in the box, so a box already proven
 * covers every smaller one: a decode loop proves a box twice as wide once and then costs nothing
 * until its positions leave it.
 */
import os from 'node:os';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { checkCallIntegerRange } from '../../codegen/passes/checkIntegerRange.ts';
import type { KernelUnitData } from '../../codegen/unit.ts';
import type { Backend, NativeAddon } from '../api/native.ts';
import { MAX_THREADS } from '../api/options.ts';
import { checkArray } from '../api/validate.ts';
import { allocating, CALL_HINT, outOfMemoryAs } from '../api/nativeError.ts';
import { TargetBuffer } from '../api/buffer.ts';
import type { NativeAttendPlan, NativeBuffer, NativeCache as NativeCacheHandle } from '../api/native.ts';
import type { KvCache } from './kvCache.ts';

/** The kernel side of a call: what CompiledAttention knows. */
export interface CacheKernel {
  readonly unit: KernelUnitData;
  readonly addon: NativeAddon;
  readonly backend: Backend;
}

export interface PrefillInputs {
  /** [rows, Hq, D], rows packed by sequence. */
  readonly q: Float32Array;
  /** [rows]: the token position of each query row. */
  readonly positions: Int32Array;
  /** [B]: query rows of each sequence (0: it takes no part). */
  readonly counts: ArrayLike<number>;
  /**
   * A cache whose value rows are read instead of `cache`'s (keys, positions and lengths stay
   * `cache`'s): a layer that takes keys and values from different layers. Slot s of both must hold
   * the same token; it needs at least as many slots per (sequence, KV head). @defaultValue cache
   */
  readonly values?: KvCache;
}

export interface DecodeInputs {
  /** [B, Hq, D]: one query row per sequence (a TargetBuffer of f32 only with decodeSync). */
  readonly q: Float32Array | TargetBuffer;
  /** [B]: each row's position. @defaultValue the last position appended to its sequence */
  readonly positions?: Int32Array;
  /** A cache whose value rows are read instead of `cache`'s (see PrefillInputs.values). */
  readonly values?: KvCache;
}

export interface DecodeOutputs {
  /** [B, Hq, Dv], written in place (a Float32Array, or an f32 TargetBuffer of the kernel's target). */
  readonly out: Float32Array | TargetBuffer;
  /** [B, Hq], written in place. */
  readonly lse: Float32Array | TargetBuffer;
}

/** What the arrays of a call must hold, for messages (built only on the way to an error). */
type Formula = (k: CacheKernel, B: number) => string;
const Q_FORMULA: Formula = (k, B) => `B*Hq*D (B=${B}, Hq=${k.unit.heads.q}, D=${k.unit.headDim})`;
const OUT_FORMULA: Formula = (k, B) => `B*Hq*Dv (B=${B}, Hq=${k.unit.heads.q}, Dv=${k.unit.valueDim})`;
const LSE_FORMULA: Formula = (k, B) => `B*Hq (B=${B}, Hq=${k.unit.heads.q})`;

/**
 * A typed array checked as usual, or an f32 buffer of the kernel's addon and target with `length`
 * values. The accepted cases allocate nothing (decodeSync calls this three times per step).
 */
function arrayOrBuffer(k: CacheKernel, name: string, x: unknown, length: number, formula: Formula, B: number, allowBuffer: boolean): Float32Array | NativeBuffer {
  if (x instanceof TargetBuffer) {
    if (!allowBuffer) throw new KvforgeError('KVF3001', `'${name}' is a TargetBuffer: buffers are read and written in place by decodeSync only`, { hint: 'pass a Float32Array to the asynchronous calls' });
    if (x.disposed) throw new KvforgeError('KVF3012', `buffer '${name}' was disposed`);
    if (x.addon !== k.addon || x.backend !== k.backend) throw new KvforgeError('KVF3011', `buffer '${name}' lives on backend '${x.backend}' of another addon or target than kernel '${k.unit.id}' ('${k.backend}')`);
    if (x.dtype !== 'f32') throw new KvforgeError('KVF3001', `buffer '${name}' must hold f32 values, it holds ${x.dtype}`);
    if (x.length !== length) throw new KvforgeError('KVF3002', `buffer '${name}' holds ${x.length} values, expected ${formula(k, B)} = ${length}`);
    return x.native;
  }
  // A detached array has length 0, so one of the right non-zero length is usable as it is.
  if (x instanceof Float32Array && x.length === length && length > 0) return x;
  return checkArrayFor(k, name, x, length, formula, B);
}

// The slow paths with closures live in functions of their own: V8 allocates a function's closure
// context on entry, whether or not the closure is created, so a closure in a hot function costs
// an allocation per call.
function checkArrayFor(k: CacheKernel, name: string, x: unknown, length: number, formula: Formula, B: number): Float32Array {
  return checkArray(name, x, Float32Array, length, () => formula(k, B));
}

interface Box { qlo: number; qhi: number; klo: number; khi: number }
/** Per kernel, per parameter array (one per distinct run options, see CompiledAttention), per batch: the widest box proven. */
const proven = new WeakMap<KernelUnitData, WeakMap<Float64Array, Map<number, Box>>>();

/**
 * KVF3007 unless the box [qlo, qhi] x [klo, khi] of this call is proven; proves a wider box when
 * it can (see above). A box inside one already proven costs a few comparisons and allocates nothing.
 */
function checkRange(k: CacheKernel, cache: KvCache, qlo: number, qhi: number, klo: number, khi: number, params: Float64Array, values: Readonly<Record<string, number>>): void {
  const u = k.unit;
  if (!u.mask && !u.score) return;
  let byParams = proven.get(u);
  if (!byParams) proven.set(u, (byParams = new WeakMap()));
  let byBatch = byParams.get(params);
  if (!byBatch) byParams.set(params, (byBatch = new Map()));
  const have = byBatch.get(cache.batch);
  if (have && have.qlo <= qlo && qhi <= have.qhi && have.klo <= klo && khi <= have.khi) return;
  proveRange(u, cache.batch, { qlo, qhi, klo, khi }, byBatch, values);
}

/** Proves a box twice as wide as `box` (or else `box` itself, or throws KVF3007) and records it. */
function proveRange(u: KernelUnitData, B: number, box: Box, byBatch: Map<number, Box>, values: Readonly<Record<string, number>>): void {
  const call = (b: Box) => checkCallIntegerRange(u, { B, Hq: u.heads.q, qpos: [b.qlo, b.qhi], kpos: [b.klo, b.khi], params: values });
  const lo = Math.min(box.qlo, box.klo, 0) * 2, hi = Math.max(box.qhi, box.khi, 0) * 2 + 1024;
  const wide = { qlo: lo, qhi: hi, klo: lo, khi: hi };
  try {
    call(wide);
    byBatch.set(B, wide);
  } catch {
    call(box); // throws KVF3007 for the call's own box when that is out of range
    byBatch.set(B, box);
  }
}

const kernelName = (k: CacheKernel): string => `kernel '${k.unit.id}'`;

/** KVF3011 unless `cache` can serve kernel `k` (allocates nothing when it can). */
export function checkCacheFits(k: CacheKernel, cache: KvCache): void {
  const { heads, headDim, valueDim, plan } = k.unit;
  if (cache === null || typeof cache !== 'object' || typeof (cache as { native?: unknown }).native !== 'object') {
    throw new KvforgeError('KVF3011', `${kernelName(k)} needs a KvCache from createCache(), received ${cache === null ? 'null' : typeof cache}`);
  }
  if (cache.disposed) throw new KvforgeError('KVF3012', `the KV cache passed to ${kernelName(k)} was disposed`);
  if (cache.addon !== k.addon) {
    throw new KvforgeError('KVF3011', `the KV cache was created for kernels of another addon than ${kernelName(k)}'s`, {
      hint: 'compile the kernels that share a cache in one compile() call, and create the cache from one of them',
    });
  }
  if (cache.backend !== k.backend) {
    throw new KvforgeError('KVF3011', `the KV cache lives on backend '${cache.backend}', ${kernelName(k)} runs on '${k.backend}': a cache serves kernels of its own target`);
  }
  if (cache.kvHeads !== heads.kv || cache.headDim !== headDim || cache.valueDim !== valueDim) {
    throw new KvforgeError('KVF3011', `the KV cache holds Hkv=${cache.kvHeads}, D=${cache.headDim}, Dv=${cache.valueDim}; ${kernelName(k)} reads Hkv=${heads.kv}, D=${headDim}, Dv=${valueDim}`);
  }
  if (plan.target === 'cuda' && cache.dtype !== plan.dtype) {
    throw new KvforgeError('KVF3011', `${kernelName(k)} reads ${plan.dtype} slots, the cache holds ${cache.dtype}`, { hint: `createCache(kernel, { dtype: '${plan.dtype}', ... })` });
  }
}

/**
 * The native values cache of a call: undefined for none (or `cache` itself); else checked as
 * checkCacheFits does, plus KVF3011 unless one of the two holds at least as many slots as the
 * other for every (sequence, KV head) (the call reads the slots both hold: runtime/native/src/napi_attend_bind.hpp).
 */
function valuesOf(k: CacheKernel, cache: KvCache, values: KvCache | undefined): NativeCacheHandle | undefined {
  if (values === undefined || values === cache) return undefined;
  checkSplit(k, cache, values);
  const lk = cache.lengths(), lv = values.lengths();
  let keysLonger = -1, valuesLonger = -1;
  for (let i = 0; i < lk.length; i++) {
    if (lk[i]! > lv[i]!) keysLonger = i;
    if (lv[i]! > lk[i]!) valuesLonger = i;
  }
  if (keysLonger >= 0 && valuesLonger >= 0) {
    const at = (i: number) => `sequence ${Math.floor(i / cache.kvHeads)}, KV head ${i % cache.kvHeads}`;
    throw new KvforgeError('KVF3011', `the keys cache is longer at ${at(keysLonger)} and the values cache at ${at(valuesLonger)}: slot s of both must hold the same token`);
  }
  return values.native;
}

/** KVF3011/KVF3012 unless `values` can serve kernel `k` beside keys cache `cache`. */
function checkSplit(k: CacheKernel, cache: KvCache, values: KvCache): void {
  checkCacheFits(k, values);
  if (values.dtype !== cache.dtype) throw new KvforgeError('KVF3011', `the values cache holds ${values.dtype} slots, the keys cache ${cache.dtype}`);
  if (values.batch !== cache.batch) throw new KvforgeError('KVF3011', `the values cache holds ${values.batch} sequences, the keys cache ${cache.batch}`);
}

/** Run `f` with the keys cache, and the values cache when there is one, marked as read. */
function readingBoth<T>(cache: KvCache, values: KvCache | undefined, f: () => Promise<T>): Promise<T> {
  return values === undefined || values === cache ? cache.reading(f) : values.reading(() => cache.reading(f));
}

const DEFAULT_THREADS = Math.min(os.availableParallelism(), MAX_THREADS);

function threadsOf(threads: number | undefined): number {
  return threads ?? DEFAULT_THREADS;
}

/** [min, max] of the positions held by the sequences with rows (reused; lo > hi: none hold any). */
const keys = new Float64Array(2);

/** Prefill: `counts[b]` new query rows of sequence b at `positions`, against the cache's slots. */
export async function prefill(k: CacheKernel, cache: KvCache, x: PrefillInputs, params: Float64Array, values: Readonly<Record<string, number>>, threads?: number) {
  checkCacheFits(k, cache);
  const { heads, headDim } = k.unit;
  if (x === null || typeof x !== 'object') throw new KvforgeError('KVF3004', `prefill needs { q, positions, counts }, received ${String(x)}`);
  if (!x.counts || x.counts.length !== cache.batch) throw new KvforgeError('KVF3002', `'counts' must list the query rows of each of the ${cache.batch} sequences`);
  const rowStart = new Int32Array(cache.batch), rowCount = new Int32Array(cache.batch);
  let rows = 0;
  for (let b = 0; b < cache.batch; b++) {
    const n = x.counts[b];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new KvforgeError('KVF3004', `counts[${b}] must be a non-negative integer, received ${String(n)}`);
    if (n > 0 && cache.isReleased(b)) throw new KvforgeError('KVF3010', `sequence ${b} was released: it has no slots to attend to`);
    rowStart[b] = rows;
    rowCount[b] = n;
    rows += n;
  }
  const shape = `rows=${rows}, Hq=${heads.q}, D=${headDim}`;
  checkArray('q', x.q, Float32Array, rows * heads.q * headDim, `rows*Hq*D (${shape})`);
  checkArray('positions', x.positions, Int32Array, rows, `rows (${shape})`);
  if (rows === 0) return { out: new Float32Array(0), lse: new Float32Array(0) };
  let qlo = Infinity, qhi = -Infinity;
  for (const p of x.positions) (qlo = Math.min(qlo, p)), (qhi = Math.max(qhi, p));
  cache.heldRange(rowCount, keys);
  if (keys[0]! <= keys[1]!) checkRange(k, cache, qlo, qhi, keys[0]!, keys[1]!, params, values);
  const valuesCache = valuesOf(k, cache, x.values);
  try {
    return await readingBoth(cache, x.values, () => k.addon.attend(k.unit.id, k.backend, cache.native, {
      q: x.q, qpos: x.positions, rowStart, rowCount, Hq: heads.q, scale: k.unit.scale, params, threads: threadsOf(threads), values: valuesCache, countBias: cache.countBias, mass: cache.tracksMass,
    }));
  } catch (e) {
    throw outOfMemoryAs(e, `the working memory of kernel '${k.unit.id}' for a prefill of ${rows} rows`, CALL_HINT);
  }
}

/** The query positions of a decode step: `positions`, or each sequence's last appended one. */
function decodePositions(cache: KvCache, rowCount: Int32Array, positions: Int32Array | undefined): Int32Array {
  const B = cache.batch;
  if (positions !== undefined) {
    if (positions instanceof Int32Array && positions.length === B && B > 0) return positions;
    return checkArray('positions', positions, Int32Array, B, `B (${B})`);
  }
  for (let b = 0; b < B; b++) {
    if (rowCount[b] && cache.lastPosition(b) === undefined) {
      throw new KvforgeError('KVF3010', `sequence ${b} holds no token, so its query has no default position`, { hint: 'pass positions, or append the token first' });
    }
  }
  return cache.lastPositions();
}

/**
 * KVF3007 unless the positions of a decode step (sequences with a row) are in the kernel's range;
 * `appended` [B]: positions about to be appended, counted as held.
 */
function checkDecodeRange(k: CacheKernel, cache: KvCache, rowCount: Int32Array, qpos: Int32Array, params: Float64Array, values: Readonly<Record<string, number>>, appended?: Int32Array): void {
  let qlo = Infinity, qhi = -Infinity;
  for (let b = 0; b < cache.batch; b++) if (rowCount[b]) (qlo = Math.min(qlo, qpos[b]!)), (qhi = Math.max(qhi, qpos[b]!));
  cache.heldRange(rowCount, keys);
  if (appended) for (let b = 0; b < cache.batch; b++) if (rowCount[b]) (keys[0] = Math.min(keys[0]!, appended[b]!)), (keys[1] = Math.max(keys[1]!, appended[b]!));
  if (qlo <= qhi && keys[0]! <= keys[1]!) checkRange(k, cache, qlo, qhi, keys[0]!, keys[1]!, params, values);
}

function checkDecodeInputs(x: unknown): asserts x is DecodeInputs {
  if (x === null || typeof x !== 'object') throw new KvforgeError('KVF3004', `decode needs { q, positions? }, received ${String(x)}`);
}

/** Decode: one query per sequence against its slots; resolves with new arrays. */
export async function decode(k: CacheKernel, cache: KvCache, x: DecodeInputs, params: Float64Array, values: Readonly<Record<string, number>>, threads?: number) {
  checkCacheFits(k, cache);
  checkDecodeInputs(x);
  const { heads, headDim } = k.unit;
  const B = cache.batch;
  // A buffer is refused (with where buffers go): the asynchronous call copies its inputs.
  const q = arrayOrBuffer(k, 'q', x.q, B * heads.q * headDim, Q_FORMULA, B, false) as Float32Array;
  const { rowStart, rowCount } = cache.decodeRows();
  const qpos = decodePositions(cache, rowCount, x.positions);
  checkDecodeRange(k, cache, rowCount, qpos, params, values);
  const valuesCache = valuesOf(k, cache, x.values);
  try {
    return await readingBoth(cache, x.values, () => k.addon.attend(k.unit.id, k.backend, cache.native, {
      q, qpos, rowStart, rowCount, Hq: heads.q, scale: k.unit.scale, params, threads: threadsOf(threads), values: valuesCache, countBias: cache.countBias, mass: cache.tracksMass,
    }));
  } catch (e) {
    throw outOfMemoryAs(e, `the working memory of kernel '${k.unit.id}' for a decode step`, CALL_HINT);
  }
}

/**
 * Native plans of decodeSync, per cache, per kernel, per parameter array (CompiledAttention keeps
 * one parameter array per thread count for calls without run-time params, so a loop that mixes
 * option forms keeps one plan per form), with the thread count they were bound to.
 */
interface PlanEntry { readonly threads: number; readonly values: KvCache | undefined; readonly plan: NativeAttendPlan }
const plans = new WeakMap<KvCache, Map<KernelUnitData, WeakMap<Float64Array, PlanEntry>>>();

/** The native plan of kernel `k` over `cache` for `params` and `threads` (built on first use). */
function planFor(k: CacheKernel, cache: KvCache, params: Float64Array, threads: number, values?: KvCache): NativeAttendPlan {
  let byKernel = plans.get(cache);
  if (!byKernel) plans.set(cache, (byKernel = new Map()));
  let byParams = byKernel.get(k.unit);
  if (!byParams) byKernel.set(k.unit, (byParams = new WeakMap()));
  const have = byParams.get(params);
  if (have && have.threads === threads && have.values === values) return have.plan;
  return newPlan(k, cache, params, threads, byParams, values);
}

function newPlan(k: CacheKernel, cache: KvCache, params: Float64Array, threads: number, byParams: WeakMap<Float64Array, PlanEntry>, values: KvCache | undefined): NativeAttendPlan {
  const plan = allocating(`a decode plan of kernel '${k.unit.id}'`, CALL_HINT,
    () => new k.addon.AttendPlan(k.unit.id, k.backend, cache.native, { Hq: k.unit.heads.q, scale: k.unit.scale, params, threads, values: values?.native ?? null, countBias: cache.countBias, mass: cache.tracksMass }));
  byParams.set(params, { threads, values, plan });
  return plan;
}

/**
 * Decode on the calling thread into preallocated `out` / `lse`: no copies, and in steady state
 * no allocation, in JS or native code (the per-call path of a serving loop; a plan bound to the
 * cache is built on the first step). Blocks JS for the kernel's duration.
 */
export function decodeSync(k: CacheKernel, cache: KvCache, x: DecodeInputs & DecodeOutputs, params: Float64Array, values: Readonly<Record<string, number>>, threads?: number): void {
  checkCacheFits(k, cache);
  checkDecodeInputs(x);
  const { heads, headDim, valueDim } = k.unit;
  const B = cache.batch;
  const q = arrayOrBuffer(k, 'q', x.q, B * heads.q * headDim, Q_FORMULA, B, true);
  const out = arrayOrBuffer(k, 'out', x.out, B * heads.q * valueDim, OUT_FORMULA, B, true);
  const lse = arrayOrBuffer(k, 'lse', x.lse, B * heads.q, LSE_FORMULA, B, true);
  const { rowStart, rowCount } = cache.decodeRows();
  const qpos = decodePositions(cache, rowCount, x.positions);
  checkDecodeRange(k, cache, rowCount, qpos, params, values);
  const split = x.values === cache ? undefined : x.values;
  if (split !== undefined) valuesOf(k, cache, split);
  try {
    planFor(k, cache, params, threadsOf(threads), split).run(q, qpos, rowStart, rowCount, out, lse);
  } catch (e) {
    throw outOfMemoryAs(e, `the working memory of kernel '${k.unit.id}' for a decode step`, CALL_HINT);
  }
}

/** A decode plan bound for a native model step (runtime/model/executor.ts), and its range check. */
export interface BoundDecode {
  readonly plan: NativeAttendPlan;
  /** KVF3007 unless query positions `qpos` [B] over what the cache holds (and `appended` [B]) are in the kernel's range. */
  check(qpos: Int32Array, appended?: Int32Array): void;
}

/** The plan decodeSync would use for kernel `k` over `cache`, for a caller that runs it from native code. */
export function bindDecode(k: CacheKernel, cache: KvCache, params: Float64Array, values: Readonly<Record<string, number>>, threads?: number, valuesCache?: KvCache): BoundDecode {
  checkCacheFits(k, cache);
  const split = valuesCache === cache ? undefined : valuesCache;
  if (split !== undefined) checkSplit(k, cache, split);
  const plan = planFor(k, cache, params, threadsOf(threads), split);
  return { plan, check: (qpos, appended) => checkDecodeRange(k, cache, cache.decodeRows().rowCount, qpos, params, values, appended) };
}
