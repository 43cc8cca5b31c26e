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
import { TargetBuffer } from '../api/buffer.ts';
import type { NativeBuffer } from '../api/native.ts';
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
}

export interface DecodeInputs {
  /** [B, Hq, D]: one query row per sequence (a TargetBuffer of f32 only with decodeSync). */
  readonly q: Float32Array | TargetBuffer;
  /** [B]: each row's position. @defaultValue the last position appended to its sequence */
  readonly positions?: Int32Array;
}

export interface DecodeOutputs {
  /** [B, Hq, Dv], written in place (a Float32Array, or an f32 TargetBuffer of the kernel's target). */
  readonly out: Float32Array | TargetBuffer;
  /** [B, Hq], written in place. */
  readonly lse: Float32Array | TargetBuffer;
}

/** A typed array checked as usual, or an f32 buffer of the kernel's addon and target with `length` values. */
function arrayOrBuffer(k: CacheKernel, name: string, x: unknown, length: number, formula: string, allowBuffer: boolean): Float32Array | NativeBuffer {
  if (x instanceof TargetBuffer) {
    if (!allowBuffer) throw new KvforgeError('KVF3001', `'${name}' is a TargetBuffer: buffers are read and written in place by decodeSync only`, { hint: 'pass a Float32Array to the asynchronous calls' });
    if (x.disposed) throw new KvforgeError('KVF3012', `buffer '${name}' was disposed`);
    if (x.addon !== k.addon || x.backend !== k.backend) throw new KvforgeError('KVF3011', `buffer '${name}' lives on backend '${x.backend}' of another addon or target than kernel '${k.unit.id}' ('${k.backend}')`);
    if (x.dtype !== 'f32') throw new KvforgeError('KVF3001', `buffer '${name}' must hold f32 values, it holds ${x.dtype}`);
    if (x.length !== length) throw new KvforgeError('KVF3002', `buffer '${name}' holds ${x.length} values, expected ${formula} = ${length}`);
    return x.native;
  }
  return checkArray(name, x, Float32Array, length, formula);
}

interface Box { qlo: number; qhi: number; klo: number; khi: number }
const proven = new WeakMap<KernelUnitData, Map<string, Box>>();

function contains(a: Box, b: Box): boolean {
  return a.qlo <= b.qlo && b.qhi <= a.qhi && a.klo <= b.klo && b.khi <= a.khi;
}

/** KVF3007 unless the box of this call is proven; proves a wider box when it can (see above). */
function checkRange(k: CacheKernel, cache: KvCache, box: Box, params: Readonly<Record<string, number>>): void {
  const u = k.unit;
  if (!u.mask && !u.score) return;
  const key = `${cache.batch} ${JSON.stringify(params)}`;
  let byParams = proven.get(u);
  if (!byParams) proven.set(u, (byParams = new Map()));
  const have = byParams.get(key);
  if (have && contains(have, box)) return;
  const call = (b: Box) => checkCallIntegerRange(u, { B: cache.batch, Hq: u.heads.q, qpos: [b.qlo, b.qhi], kpos: [b.klo, b.khi], params });
  const widen = (lo: number, hi: number) => [Math.min(lo, 0) * 2, Math.max(hi, 0) * 2 + 1024] as const;
  const [qlo, qhi] = widen(box.qlo, box.qhi);
  const [klo, khi] = widen(box.klo, box.khi);
  const wide = { qlo: Math.min(qlo, klo), qhi: Math.max(qhi, khi), klo: Math.min(qlo, klo), khi: Math.max(qhi, khi) };
  try {
    call(wide);
    byParams.set(key, wide);
  } catch {
    call(box); // throws KVF3007 for the call's own box when that is out of range
    byParams.set(key, box);
  }
}

/** KVF3011 unless `cache` can serve kernel `k`. */
export function checkCacheFits(k: CacheKernel, cache: KvCache): void {
  const { heads, headDim, valueDim, plan } = k.unit;
  const what = `kernel '${k.unit.id}'`;
  if (cache === null || typeof cache !== 'object' || typeof (cache as { native?: unknown }).native !== 'object') {
    throw new KvforgeError('KVF3011', `${what} needs a KvCache from createCache(), received ${cache === null ? 'null' : typeof cache}`);
  }
  if (cache.disposed) throw new KvforgeError('KVF3012', `the KV cache passed to ${what} was disposed`);
  if (cache.addon !== k.addon) {
    throw new KvforgeError('KVF3011', `the KV cache was created for kernels of another addon than ${what}'s`, {
      hint: 'compile the kernels that share a cache in one compile() call, and create the cache from one of them',
    });
  }
  if (cache.backend !== k.backend) {
    throw new KvforgeError('KVF3011', `the KV cache lives on backend '${cache.backend}', ${what} runs on '${k.backend}': a cache serves kernels of its own target`);
  }
  if (cache.kvHeads !== heads.kv || cache.headDim !== headDim || cache.valueDim !== valueDim) {
    throw new KvforgeError('KVF3011', `the KV cache holds Hkv=${cache.kvHeads}, D=${cache.headDim}, Dv=${cache.valueDim}; ${what} reads Hkv=${heads.kv}, D=${headDim}, Dv=${valueDim}`);
  }
  if (plan.target === 'cuda' && cache.dtype !== plan.dtype) {
    throw new KvforgeError('KVF3011', `${what} reads ${plan.dtype} slots, the cache holds ${cache.dtype}`, { hint: `createCache(kernel, { dtype: '${plan.dtype}', ... })` });
  }
}

function keyBox(cache: KvCache, seqs: Iterable<number>): { klo: number; khi: number } {
  let klo = Infinity, khi = -Infinity;
  for (const b of seqs) {
    const r = cache.positionRange(b);
    if (r) (klo = Math.min(klo, r.lo)), (khi = Math.max(khi, r.hi));
  }
  return { klo, khi };
}

function threadsOf(threads: number | undefined): number {
  return threads ?? Math.min(os.availableParallelism(), MAX_THREADS);
}

/** Prefill: `counts[b]` new query rows of sequence b at `positions`, against the cache's slots. */
export async function prefill(k: CacheKernel, cache: KvCache, x: PrefillInputs, params: Float64Array, values: Readonly<Record<string, number>>, threads?: number) {
  checkCacheFits(k, cache);
  const { heads, headDim } = k.unit;
  if (x === null || typeof x !== 'object') throw new KvforgeError('KVF3004', `prefill needs { q, positions, counts }, received ${String(x)}`);
  if (!x.counts || x.counts.length !== cache.batch) throw new KvforgeError('KVF3002', `'counts' must list the query rows of each of the ${cache.batch} sequences`);
  const rowStart = new Int32Array(cache.batch), rowCount = new Int32Array(cache.batch);
  let rows = 0;
  const active: number[] = [];
  for (let b = 0; b < cache.batch; b++) {
    const n = x.counts[b];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new KvforgeError('KVF3004', `counts[${b}] must be a non-negative integer, received ${String(n)}`);
    if (n > 0 && cache.isReleased(b)) throw new KvforgeError('KVF3010', `sequence ${b} was released: it has no slots to attend to`);
    rowStart[b] = rows;
    rowCount[b] = n;
    rows += n;
    if (n > 0) active.push(b);
  }
  const shape = `rows=${rows}, Hq=${heads.q}, D=${headDim}`;
  checkArray('q', x.q, Float32Array, rows * heads.q * headDim, `rows*Hq*D (${shape})`);
  checkArray('positions', x.positions, Int32Array, rows, `rows (${shape})`);
  if (rows === 0) return { out: new Float32Array(0), lse: new Float32Array(0) };
  let qlo = Infinity, qhi = -Infinity;
  for (const p of x.positions) (qlo = Math.min(qlo, p)), (qhi = Math.max(qhi, p));
  const kb = keyBox(cache, active);
  if (kb.klo <= kb.khi) checkRange(k, cache, { qlo, qhi, ...kb }, values);
  return await cache.reading(() => k.addon.attend(k.unit.id, k.backend, cache.native, {
    q: x.q, qpos: x.positions, rowStart, rowCount, Hq: heads.q, scale: k.unit.scale, params, threads: threadsOf(threads),
  }, false));
}

/** The rows of one decode step: every sequence that is not released, at its position. */
function decodeRows(k: CacheKernel, cache: KvCache, x: DecodeInputs, sync: boolean) {
  checkCacheFits(k, cache);
  const { heads, headDim } = k.unit;
  if (x === null || typeof x !== 'object') throw new KvforgeError('KVF3004', `decode needs { q, positions? }, received ${String(x)}`);
  const B = cache.batch;
  const q = arrayOrBuffer(k, 'q', x.q, B * heads.q * headDim, `B*Hq*D (B=${B}, Hq=${heads.q}, D=${headDim})`, sync);
  const rows = cache.decodeRows();
  let qpos = x.positions;
  if (qpos === undefined) {
    qpos = cache.lastPositions();
    for (let b = 0; b < B; b++) {
      if (rows.rowCount[b] && cache.lastPosition(b) === undefined) {
        throw new KvforgeError('KVF3010', `sequence ${b} holds no token, so its query has no default position`, { hint: 'pass positions, or append the token first' });
      }
    }
  } else checkArray('positions', qpos, Int32Array, B, `B (${B})`);
  return { ...rows, qpos, q };
}

function decodeRange(k: CacheKernel, cache: KvCache, rowCount: Int32Array, qpos: Int32Array, values: Readonly<Record<string, number>>): void {
  let qlo = Infinity, qhi = -Infinity;
  const active: number[] = [];
  for (let b = 0; b < cache.batch; b++) if (rowCount[b]) (active.push(b), (qlo = Math.min(qlo, qpos[b]!)), (qhi = Math.max(qhi, qpos[b]!)));
  const kb = keyBox(cache, active);
  if (qlo <= qhi && kb.klo <= kb.khi) checkRange(k, cache, { qlo, qhi, ...kb }, values);
}

/** Decode: one query per sequence against its slots; resolves with new arrays. */
export async function decode(k: CacheKernel, cache: KvCache, x: DecodeInputs, params: Float64Array, values: Readonly<Record<string, number>>, threads?: number) {
  const { rowStart, rowCount, qpos, q } = decodeRows(k, cache, x, false);
  decodeRange(k, cache, rowCount, qpos, values);
  return await cache.reading(() => k.addon.attend(k.unit.id, k.backend, cache.native, {
    q, qpos, rowStart, rowCount, Hq: k.unit.heads.q, scale: k.unit.scale, params, threads: threadsOf(threads),
  }, false));
}

/**
 * Decode on the calling thread into preallocated `out` / `lse`: no copies, no allocation (the
 * per-call path of a serving loop). Blocks JS for the kernel's duration.
 */
export function decodeSync(k: CacheKernel, cache: KvCache, x: DecodeInputs & DecodeOutputs, params: Float64Array, values: Readonly<Record<string, number>>, threads?: number): void {
  const { rowStart, rowCount, qpos, q } = decodeRows(k, cache, x, true);
  const { heads, valueDim } = k.unit;
  const B = cache.batch;
  const out = arrayOrBuffer(k, 'out', x.out, B * heads.q * valueDim, `B*Hq*Dv (B=${B}, Hq=${heads.q}, Dv=${valueDim})`, true);
  const lse = arrayOrBuffer(k, 'lse', x.lse, B * heads.q, `B*Hq (B=${B}, Hq=${heads.q})`, true);
  decodeRange(k, cache, rowCount, qpos, values);
  k.addon.attend(k.unit.id, k.backend, cache.native, {
    q, qpos, rowStart, rowCount, Hq: heads.q, scale: k.unit.scale, params, threads: threadsOf(threads), out, lse,
  }, true);
}
