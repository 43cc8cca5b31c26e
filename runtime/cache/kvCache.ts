/**
 * The KV cache of one cache-owning layer: a batch of sequences, each with its own length, whose
 * slots live in the memory of one target (host memory for 'cpu' and 'cuda-emu', device memory
 * for 'cuda') and are read in place by the kernels of that target (`CompiledAttention.prefill`,
 * `decode`, `decodeSync`).
 *
 * Layout and contract (runtime/native/include/kvforge/cache_ops.hpp, slot_view.hpp):
 * - slots [0, length) of each (sequence, KV head) hold one token each: its key (D values) and
 *   value (Dv values) in the cache's dtype (f16/bf16 rounded to nearest even from f32), and its
 *   token position; lengths may differ per KV head (for per-head policies later);
 * - positions of one sequence strictly increase over its appends (KVF3010 otherwise);
 * - a per-tile summary of slot positions (16 slots per entry) is kept by every operation, so
 *   kernels classify tiles without scanning positions;
 * - capacity grows (doubling) when an append needs it, without losing a slot;
 * - `release(seq)` frees a sequence's slots (length 0) and marks it released: appending to it is
 *   KVF3010 until `admit()` hands the index out again; other sequences go on untouched.
 * A cache serves the kernels of the addon it was created from (compile the kernels that share a
 * cache in one `compile()` call). `dispose()` (or `using`) frees its memory at once; a finaliser
 * frees it when the object is collected otherwise.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { Backend, NativeAddon, NativeCache } from '../api/native.ts';
import { allocating, outOfMemoryAs } from '../api/nativeError.ts';
import { checkArray } from '../api/validate.ts';

export type CacheDType = 'f32' | 'f16' | 'bf16';
const DTYPE_NUMBER: Readonly<Record<CacheDType, number>> = { f32: 0, f16: 1, bf16: 2 };
const INT32_MAX = 2 ** 31 - 1;

export interface CacheShape {
  /** Sequences (batch slots). */
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
}

export interface CacheOptions {
  /** Sequences in the batch. */
  readonly batch: number;
  /** Slots allocated per (sequence, KV head) at first; grows as needed. @defaultValue 256 */
  readonly capacity?: number;
  /** Storage dtype. @defaultValue the kernel's plan dtype ('f32' for C++ kernels) */
  readonly dtype?: CacheDType;
  /**
   * Per-slot statistics for a compression policy (runtime/cache/policyCache.ts): every slot's
   * token count, accumulated attention mass and logit bias ln(count). With `countBias` every
   * attention call over the cache adds the bias to its scores; with `mass` every call adds the
   * attention mass its slots received (semantics.md section 3). @defaultValue none
   */
  readonly slotStats?: { readonly countBias?: boolean; readonly mass?: boolean };
}

/** Pooling numbers of the native merge (cache_ops.hpp, Pooling). */
export const MERGE_POOLING = { mean: 0, max: 1, bestMass: 2, bestKeyNorm: 3, bestVote: 4 } as const;
export type MergePooling = keyof typeof MERGE_POOLING;

/** A slot as read back: key, value, position and (with slot statistics) count, mass, bias. */
export interface SlotRead {
  k: Float32Array;
  v: Float32Array;
  positions: Int32Array;
  counts?: Int32Array;
  mass?: Float32Array;
  bias?: Float32Array;
}

/** One chunk of tokens for one sequence: k [n, Hkv, D], v [n, Hkv, Dv], positions [n]. */
export interface Chunk {
  readonly k: Float32Array;
  readonly v: Float32Array;
  readonly positions: Int32Array;
}

function positiveInt(name: string, v: unknown, max = INT32_MAX): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new KvforgeError('KVF3004', `'${name}' must be an integer from 1 to ${max}, received ${typeof v === 'number' ? v : typeof v}`);
  }
  return v;
}

const CACHE_HINT = 'a smaller capacity or batch, or fewer caches alive at once';

export class KvCache implements CacheShape {
  readonly batch: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly valueDim: number;
  readonly dtype: CacheDType;
  readonly backend: Backend;
  /** The addon whose kernels may read this cache. */
  readonly addon: NativeAddon;
  readonly #native: NativeCache;
  /** Slot statistics: whether attention calls add the bias / the mass (see CacheOptions.slotStats). */
  readonly countBias: boolean;
  readonly tracksMass: boolean;
  #disposed = false;
  /** Attention calls in flight that read this cache: changes wait until none (KVF3010). */
  #reading = 0;
  /** Per sequence: last appended position (-Infinity: none), min and max position held, released. */
  readonly #last: Float64Array;
  readonly #min: Float64Array;
  readonly #max: Float64Array;
  readonly #released: Uint8Array;
  /** Last appended position per sequence as int32 (a decode step's default query positions). */
  readonly #lastI32: Int32Array;
  /** Rows of a decode step (one per sequence that is not released), rebuilt on release/admit. */
  #rows: { readonly rowStart: Int32Array; readonly rowCount: Int32Array } | undefined;
  /** The layout of appendStep, rebuilt on release/admit. */
  #step: { readonly counts: Int32Array; readonly start: Int32Array; readonly touched: readonly number[]; readonly rows: number } | undefined;
  /** Per sequence: the length of its longest KV head (the native lengths' mirror, for growth). */
  readonly #len: Float64Array;

  constructor(addon: NativeAddon, backend: Backend, shape: CacheShape, opts: CacheOptions & { readonly dtype: CacheDType }) {
    this.batch = positiveInt('batch', opts.batch, 65535);
    this.kvHeads = shape.kvHeads;
    this.headDim = shape.headDim;
    this.valueDim = shape.valueDim;
    if (!(opts.dtype in DTYPE_NUMBER)) throw new KvforgeError('KVF3001', `cache dtype must be 'f32', 'f16' or 'bf16', received ${String(opts.dtype)}`);
    this.dtype = opts.dtype;
    this.backend = backend;
    this.addon = addon;
    const capacity = opts.capacity === undefined ? 256 : positiveInt('capacity', opts.capacity);
    const stats = opts.slotStats;
    if (stats !== undefined && (typeof stats !== 'object' || stats === null)) throw new KvforgeError('KVF3004', `slotStats must be { countBias?, mass? }, received ${String(stats)}`);
    this.countBias = stats?.countBias === true;
    this.tracksMass = stats?.mass === true;
    this.#native = allocating(`a cache of ${this.batch} x ${this.kvHeads} x ${capacity} slots`, CACHE_HINT,
      () => new addon.NativeCache(backend, this.batch, this.kvHeads, this.headDim, this.valueDim, DTYPE_NUMBER[this.dtype], capacity, stats !== undefined));
    this.#last = new Float64Array(this.batch).fill(-Infinity);
    this.#min = new Float64Array(this.batch).fill(Infinity);
    this.#max = new Float64Array(this.batch).fill(-Infinity);
    this.#released = new Uint8Array(this.batch);
    this.#lastI32 = new Int32Array(this.batch);
    this.#len = new Float64Array(this.batch);
  }

  /** The rows of a decode step: sequence b is row b, with no row when released (internal, reused). */
  decodeRows(): { readonly rowStart: Int32Array; readonly rowCount: Int32Array } {
    if (!this.#rows) {
      const rowStart = new Int32Array(this.batch), rowCount = new Int32Array(this.batch);
      for (let b = 0; b < this.batch; b++) (rowStart[b] = b), (rowCount[b] = this.#released[b] ? 0 : 1);
      this.#rows = { rowStart, rowCount };
    }
    return this.#rows;
  }

  /** The last appended position of every sequence (internal, reused: do not modify). */
  lastPositions(): Int32Array {
    return this.#lastI32;
  }

  /** The native object kernels read (internal: runtime/cache/attend.ts). */
  get native(): NativeCache {
    this.#requireLive();
    return this.#native;
  }

  /** Run `read` (an attention call) with the cache marked as read: changes meanwhile are KVF3010. */
  async reading<T>(read: () => Promise<T>): Promise<T> {
    this.#reading++;
    try {
      return await read();
    } finally {
      this.#reading--;
    }
  }

  /** Slots allocated per (sequence, KV head). */
  get capacity(): number {
    return this.#native.capacity;
  }

  /** Lengths, [batch, kvHeads]. */
  lengths(): Int32Array {
    this.#requireLive();
    return this.#native.lengths();
  }

  /** Length of a sequence (its longest KV head). */
  length(seq: number): number {
    const l = this.lengths();
    let m = 0;
    for (let h = 0; h < this.kvHeads; h++) m = Math.max(m, l[this.#seq(seq) * this.kvHeads + h]!);
    return m;
  }

  /** Whether sequence `seq` was released (and not admitted again). */
  isReleased(seq: number): boolean {
    return this.#released[this.#seq(seq)] === 1;
  }

  /** The last position appended to `seq` (undefined when it holds none since its last reset). */
  lastPosition(seq: number): number | undefined {
    const p = this.#last[this.#seq(seq)]!;
    return p === -Infinity ? undefined : p;
  }

  /** [min, max] of the positions `seq` holds (undefined when empty): the kernels' range checks use it. */
  positionRange(seq: number): { lo: number; hi: number } | undefined {
    const s = this.#seq(seq);
    return this.#min[s]! <= this.#max[s]! ? { lo: this.#min[s]!, hi: this.#max[s]! } : undefined;
  }

  /**
   * [min, max] over the sequences with `rows[b] > 0` of the positions they hold, written into
   * `into` (lo > hi: none holds any). Internal (runtime/cache/attend.ts); allocates nothing.
   */
  heldRange(rows: Int32Array, into: Float64Array): void {
    let lo = Infinity, hi = -Infinity;
    for (let b = 0; b < this.batch; b++) {
      if (rows[b]! > 0 && this.#min[b]! <= this.#max[b]!) (lo = Math.min(lo, this.#min[b]!)), (hi = Math.max(hi, this.#max[b]!));
    }
    into[0] = lo;
    into[1] = hi;
  }

  /** Append a chunk of tokens to one sequence. */
  append(seq: number, chunk: Chunk): void {
    const counts = new Int32Array(this.batch);
    const s = this.#seq(seq);
    counts[s] = chunk?.positions?.length ?? 0;
    this.#appendRows(counts, chunk, counts[s] ? [s] : []);
  }

  /**
   * Append to several sequences at once: `counts[b]` tokens for sequence b (0: none), rows packed
   * in sequence order: k [sum(counts), Hkv, D], v [.., Dv], positions [sum(counts)].
   */
  appendBatch(counts: ArrayLike<number>, chunk: Chunk): void {
    if (counts === null || typeof counts !== 'object' || counts.length !== this.batch) {
      throw new KvforgeError('KVF3002', `'counts' must list one token count per sequence (${this.batch})`);
    }
    const c = new Int32Array(this.batch);
    const touched: number[] = [];
    for (let b = 0; b < this.batch; b++) {
      const n = counts[b];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > INT32_MAX) throw new KvforgeError('KVF3004', `counts[${b}] must be a non-negative integer, received ${String(n)}`);
      c[b] = n;
      if (n > 0) touched.push(b);
    }
    this.#appendRows(c, chunk, touched);
  }

  /** One token for every sequence that is not released: rows in sequence order, positions [n]. */
  appendStep(chunk: Chunk): void {
    const step = this.#stepRows();
    this.#appendRows(step.counts, chunk, step.touched, step.start, step.rows);
  }

  /** The layout of appendStep (one row per sequence that is not released, packed), rebuilt on release/admit. */
  #stepRows(): { readonly counts: Int32Array; readonly start: Int32Array; readonly touched: readonly number[]; readonly rows: number } {
    if (!this.#step) {
      const counts = new Int32Array(this.batch), start = new Int32Array(this.batch), touched: number[] = [];
      for (let b = 0; b < this.batch; b++) {
        start[b] = touched.length;
        if (!this.#released[b]) (counts[b] = 1), touched.push(b);
      }
      this.#step = { counts, start, touched, rows: touched.length };
    }
    return this.#step;
  }

  /**
   * Appends rows `[start[b], start[b] + counts[b])` of the chunk to sequence b, for b in `touched`
   * (the sequences with counts[b] > 0). Checked first, so a refused chunk changes nothing. The
   * accepted case of a one-token step allocates nothing (messages are built only for errors).
   */
  #appendRows(counts: Int32Array, chunk: Chunk, touched: readonly number[], start?: Int32Array, rows?: number): void {
    this.#requireLive();
    this.#requireIdle('append');
    if (typeof chunk !== 'object' || chunk === null) throw new KvforgeError('KVF3004', `append needs { k, v, positions }, received ${String(chunk)}`);
    if (rows === undefined) {
      rows = 0;
      for (const b of touched) rows += counts[b]!;
    }
    this.#checkChunk(chunk, rows);
    if (start === undefined) {
      start = new Int32Array(this.batch);
      for (let b = 0, at = 0; b < this.batch; b++) (start[b] = at), (at += counts[b]!);
    }
    this.#reserve(counts, chunk.positions, touched, start);
    try {
      this.#native.append(chunk.k, chunk.v, chunk.positions, start, counts);
    } catch (e) {
      throw outOfMemoryAs(e, 'staging memory for the appended rows', CACHE_HINT);
    }
    this.#commit(counts, chunk.positions, touched, start);
  }

  /**
   * Internal (the model executor's native decode step, runtime/native/src/napi_model_step.hpp):
   * room for one token of every sequence at `positions` [batch], checked as appendStep would
   * (positions increasing, capacity grown), without writing K/V. Changes nothing a reader sees;
   * commitStep() records the token once the native step has appended it. Every sequence takes
   * part (KVF3010 when one is released).
   */
  reserveStep(positions: Int32Array): void {
    this.#requireLive();
    this.#requireIdle('append');
    const step = this.#stepRows();
    if (step.rows !== this.batch) throw new KvforgeError('KVF3010', `a native decode step appends to every one of the ${this.batch} sequences, and ${this.batch - step.rows} of them are released`);
    if (!(positions instanceof Int32Array) || positions.length !== this.batch) checkArray('positions', positions, Int32Array, this.batch, `batch (${this.batch})`);
    this.#reserve(step.counts, positions, step.touched, step.start);
  }

  /** Internal: the mirrors after the native step appended `positions` (reserveStep first). */
  commitStep(positions: Int32Array): void {
    const step = this.#stepRows();
    this.#commit(step.counts, positions, step.touched, step.start);
  }

  /** Check rows `[start[b], start[b] + counts[b])` of `positions` continue each sequence, and grow for them. */
  #reserve(counts: Int32Array, positions: Int32Array, touched: readonly number[], start: Int32Array): void {
    let need = 0;
    for (const b of touched) {
      const n = counts[b]!, at = start[b]!;
      if (this.#released[b]) {
        throw new KvforgeError('KVF3010', `sequence ${b} was released: it takes no tokens until admit() hands it out again`, { hint: 'call cache.admit() for a new sequence' });
      }
      let prev = this.#last[b]!;
      for (let r = at; r < at + n; r++) {
        const p = positions[r]!;
        if (!(p > prev)) this.#notIncreasing(b, p, r, prev);
        prev = p;
      }
      need = Math.max(need, this.#len[b]! + n);
    }
    if (need > INT32_MAX) throw new KvforgeError('KVF3005', `a sequence would hold ${need} slots, more than 2^31 - 1`);
    if (need > this.#native.capacity) this.#grow(Math.min(INT32_MAX, Math.max(need, 2 * this.#native.capacity)));
  }

  /** The mirrors after rows were appended. */
  #commit(counts: Int32Array, positions: Int32Array, touched: readonly number[], start: Int32Array): void {
    for (const b of touched) {
      const first = positions[start[b]!]!, last = positions[start[b]! + counts[b]! - 1]!;
      this.#len[b] = this.#len[b]! + counts[b]!;
      this.#last[b] = last;
      this.#lastI32[b] = last;
      this.#min[b] = Math.min(this.#min[b]!, first);
      this.#max[b] = Math.max(this.#max[b]!, last);
    }
  }

  /** KVF3001/KVF3002 unless the chunk's arrays hold `rows` tokens (no allocation when they do). */
  #checkChunk(chunk: Chunk, rows: number): void {
    const { k, v, positions } = chunk;
    const nk = rows * this.kvHeads * this.headDim, nv = rows * this.kvHeads * this.valueDim;
    const ok = positions instanceof Int32Array && positions.length === rows && k instanceof Float32Array && k.length === nk &&
      v instanceof Float32Array && v.length === nv && rows > 0 && nk > 0 && nv > 0;
    if (!ok) this.#chunkError(chunk, rows);
  }

  #chunkError(chunk: Chunk, rows: number): void {
    const shape = `rows=${rows}, Hkv=${this.kvHeads}, D=${this.headDim}, Dv=${this.valueDim}`;
    checkArray('positions', chunk.positions, Int32Array, rows, `rows (${shape})`);
    checkArray('k', chunk.k, Float32Array, rows * this.kvHeads * this.headDim, `rows*Hkv*D (${shape})`);
    checkArray('v', chunk.v, Float32Array, rows * this.kvHeads * this.valueDim, `rows*Hkv*Dv (${shape})`);
  }

  #notIncreasing(b: number, p: number, r: number, prev: number): never {
    throw new KvforgeError('KVF3010', `positions of sequence ${b} must increase: position ${p} (row ${r}) follows ${prev}`, {
      hint: 'append each token once, in order; reset(seq) or truncate first to restart a sequence',
    });
  }

  /**
   * Keep the last `keep` slots of every KV head of `seq` (of every sequence when omitted), or of
   * KV head `head` of `seq` only: heads of one sequence may then hold different lengths (ragged),
   * which attention over the cache reads as they are.
   */
  truncate(keep: number, seq?: number, head?: number): void {
    this.#requireLive();
    if (typeof keep !== 'number' || !Number.isInteger(keep) || keep < 0 || keep > INT32_MAX) {
      throw new KvforgeError('KVF3004', `truncate(keep) needs a non-negative integer, received ${String(keep)}`);
    }
    if (head !== undefined && seq === undefined) throw new KvforgeError('KVF3004', 'truncate(keep, seq, head): a head needs its sequence');
    if (head !== undefined && (typeof head !== 'number' || !Number.isInteger(head) || head < 0 || head >= this.kvHeads)) {
      throw new KvforgeError('KVF3004', `KV head index must be an integer in [0, ${this.kvHeads}), received ${String(head)}`);
    }
    this.#requireIdle('truncate');
    const H = this.kvHeads;
    const k = new Int32Array(this.batch * H).fill(-1);
    if (seq === undefined) k.fill(keep);
    else if (head === undefined) k.fill(keep, this.#seq(seq) * H, (this.#seq(seq) + 1) * H);
    else k[this.#seq(seq) * H + head] = keep;
    this.#native.truncate(k);
    this.#refreshRanges();
  }

  /** Empty `seq` (length 0); it stays active and may start again at any position. */
  reset(seq: number): void {
    const s = this.#seq(seq);
    this.truncate(0, s);
    this.#last[s] = -Infinity;
  }

  /** Free `seq`'s slots and mark it released (appending to it is KVF3010 until admit()). */
  release(seq: number): void {
    const s = this.#seq(seq);
    this.reset(s);
    this.#released[s] = 1;
    this.#rows = undefined;
    this.#step = undefined;
  }

  /** A released sequence index, now active and empty; KVF3010 when none is released. */
  admit(): number {
    this.#requireLive();
    const s = this.#released.indexOf(1);
    if (s < 0) throw new KvforgeError('KVF3010', `every one of the ${this.batch} sequences is active: release one first`);
    this.#released[s] = 0;
    this.#rows = undefined;
    this.#step = undefined;
    return s;
  }

  /** Grow every (sequence, KV head) to at least `capacity` slots, keeping every slot. */
  grow(capacity: number): void {
    this.#requireLive();
    this.#grow(positiveInt('capacity', capacity));
  }

  #grow(capacity: number): void {
    this.#requireIdle('grow');
    allocating(`growing the cache to ${capacity} slots per (sequence, KV head)`, CACHE_HINT, () => this.#native.grow(capacity));
  }

  /** The slots of (seq, KV head) as f32: k [len, D], v [len, Dv], positions [len], and the slot statistics when kept. */
  read(seq: number, head: number): SlotRead {
    this.#requireLive();
    this.#head(head);
    const r = this.#native.read(this.#seq(seq), head);
    const out: SlotRead = { k: r.k, v: r.v, positions: r.pos };
    if (r.count) out.counts = r.count, out.mass = r.mass, out.bias = r.bias;
    return out;
  }

  /** Positions and slot statistics of (seq, KV head) without copying K/V (what a policy decides on). */
  readStats(seq: number, head: number): { positions: Int32Array; counts?: Int32Array; mass?: Float32Array; bias?: Float32Array } {
    this.#requireLive();
    this.#head(head);
    const r = this.#native.read(this.#seq(seq), head, true);
    return { positions: r.pos, counts: r.count, mass: r.mass, bias: r.bias };
  }

  /** Whether the cache keeps slot statistics (count, mass, bias). */
  get hasStats(): boolean {
    return this.#native.hasStats;
  }

  /**
   * Per-head selection (a compression policy's eviction): `keep[seq * kvHeads + head]` lists the
   * slots that head keeps, increasing, each below its length (null or undefined: untouched); they
   * move to the front in order, with every column, and the head's length becomes the list's.
   */
  compact(keep: ReadonlyArray<ArrayLike<number> | null | undefined>): void {
    this.#requireLive();
    this.#requireIdle('compact');
    const H = this.batch * this.kvHeads;
    if (!Array.isArray(keep) || keep.length !== H) throw new KvforgeError('KVF3002', `compact needs one entry per (sequence, KV head): ${H}, received ${Array.isArray(keep) ? keep.length : typeof keep}`);
    const lengths = this.#native.lengths();
    const counts = new Int32Array(H).fill(-1);
    let listed = 0;
    for (let hd = 0; hd < H; hd++) if (keep[hd] !== null && keep[hd] !== undefined) listed += keep[hd]!.length;
    const flat = new Int32Array(listed);
    for (let hd = 0, at = 0; hd < H; hd++) {
      const list = keep[hd];
      if (list === null || list === undefined) continue;
      for (let i = 0; i < list.length; i++) {
        const s = list[i]!;
        if (!Number.isInteger(s) || s < 0 || s >= lengths[hd]! || (i > 0 && s <= list[i - 1]!)) {
          throw new KvforgeError('KVF3010', `compact: head ${hd} (sequence ${Math.floor(hd / this.kvHeads)}): kept slots must increase and lie below its length ${lengths[hd]}, received ${s} at ${i}`);
        }
        flat[at++] = s;
      }
      counts[hd] = list.length;
    }
    this.#native.compact(flat, counts);
    this.#refreshRanges();
  }

  /**
   * Pooled merges per head (semantics.md 3.3, runtime/native/include/kvforge/cache_ops.hpp): head hd
   * merges slots [start[hd], start[hd] + count[hd]) in groups of `groupSize` (pairs with the odd
   * last slot paired with itself when `pairOdd`) into slots from dst[hd] on, and the slots after
   * the region follow. count 0 leaves a head untouched. Needs slot statistics.
   */
  merge(start: ArrayLike<number>, count: ArrayLike<number>, dst: ArrayLike<number>, groupSize: number, pooling: MergePooling, pairOdd = false): void {
    this.#requireLive();
    this.#requireIdle('merge');
    const H = this.batch * this.kvHeads;
    if (!this.hasStats) throw new KvforgeError('KVF3010', 'merge needs slot statistics: create the cache with slotStats');
    if (!(pooling in MERGE_POOLING)) throw new KvforgeError('KVF3004', `merge: pooling must be one of ${Object.keys(MERGE_POOLING).join(', ')}, received ${String(pooling)}`);
    if (!Number.isInteger(groupSize) || groupSize < 2) throw new KvforgeError('KVF3004', `merge: groupSize must be an integer >= 2, received ${String(groupSize)}`);
    const lengths = this.#native.lengths();
    const as = (name: string, x: ArrayLike<number>) => {
      if (!x || x.length !== H) throw new KvforgeError('KVF3002', `merge: '${name}' needs one entry per (sequence, KV head): ${H}`);
      return Int32Array.from(x);
    };
    const s = as('start', start), n = as('count', count), d = as('dst', dst);
    const g = pairOdd ? 2 : groupSize;
    let need = 0;
    for (let hd = 0; hd < H; hd++) {
      if (n[hd]! <= 0) continue;
      const m = Math.ceil(n[hd]! / g), tail = lengths[hd]! - s[hd]! - n[hd]!;
      if (s[hd]! < 0 || tail < 0 || d[hd]! < 0 || (tail > 0 && d[hd]! + m > s[hd]! + n[hd]!)) {
        throw new KvforgeError('KVF3010', `merge: head ${hd}: region [${s[hd]}, ${s[hd]! + n[hd]!}) to ${d[hd]} must lie within its length ${lengths[hd]}, with its ${m} merged slots ending before the slots that follow it`);
      }
      need = Math.max(need, d[hd]! + m + tail);
    }
    // The literal decode may end longer than it started (a raw copy of the sinks in front).
    if (need > this.#native.capacity) this.#grow(Math.max(need, 2 * this.#native.capacity));
    this.#native.merge(s, n, d, groupSize, MERGE_POOLING[pooling], pairOdd);
    this.#refreshRanges();
  }

  /**
   * The pyramid rule (semantics.md 3.3) on every head with compressed[hd] >= 0: sinks[hd] raw
   * sinks, compressed[hd] merged slots, then raw recent slots; while more than `budget` recent
   * slots remain, the merged slots and the oldest `budget` recent ones merge in groups of
   * `groupSize`. One native pass per head (no slot moves twice but the final compaction).
   */
  pyramid(sinks: ArrayLike<number>, compressed: ArrayLike<number>, budget: number, groupSize: number, pooling: MergePooling): void {
    this.#requireLive();
    this.#requireIdle('pyramid');
    const H = this.batch * this.kvHeads;
    if (!this.hasStats) throw new KvforgeError('KVF3010', 'pyramid needs slot statistics: create the cache with slotStats');
    if (!(pooling in MERGE_POOLING)) throw new KvforgeError('KVF3004', `pyramid: pooling must be one of ${Object.keys(MERGE_POOLING).join(', ')}, received ${String(pooling)}`);
    if (!Number.isInteger(budget) || budget < 1) throw new KvforgeError('KVF3004', `pyramid: the budget must be an integer >= 1, received ${String(budget)}`);
    if (!Number.isInteger(groupSize) || groupSize < 2) throw new KvforgeError('KVF3004', `pyramid: groupSize must be an integer >= 2, received ${String(groupSize)}`);
    if (!sinks || sinks.length !== H || !compressed || compressed.length !== H) throw new KvforgeError('KVF3002', `pyramid: 'sinks' and 'compressed' need one entry per (sequence, KV head): ${H}`);
    const lengths = this.#native.lengths();
    for (let hd = 0; hd < H; hd++) {
      if (compressed[hd]! < 0) continue;
      if (!(sinks[hd]! >= 0) || sinks[hd]! + compressed[hd]! > lengths[hd]!) {
        throw new KvforgeError('KVF3010', `pyramid: head ${hd}: ${sinks[hd]} sinks and ${compressed[hd]} merged slots do not fit its length ${lengths[hd]}`);
      }
    }
    this.#native.pyramid(Int32Array.from(sinks), Int32Array.from(compressed), budget, groupSize, MERGE_POOLING[pooling]);
    this.#refreshRanges();
  }

  #head(head: number): number {
    if (!Number.isInteger(head) || head < 0 || head >= this.kvHeads) throw new KvforgeError('KVF3004', `KV head must be an integer in [0, ${this.kvHeads}), received ${String(head)}`);
    return head;
  }

  /** The position summary of (seq, KV head): [min, max] per 16 slots (INT32_MAX / INT32_MIN when empty). */
  summary(seq: number, head: number): { min: Int32Array; max: Int32Array } {
    this.#requireLive();
    return this.#native.summary(this.#seq(seq), head);
  }

  /** Bytes of K/V storage per (sequence, KV head) slot. */
  get bytesPerSlot(): number {
    return (this.headDim + this.valueDim) * (this.dtype === 'f32' ? 4 : 2);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Free the cache's memory now. Later use is KVF3012. */
  dispose(): void {
    if (this.#disposed) return;
    this.#requireIdle('dispose');
    this.#native.release();
    this.#disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #requireLive(): void {
    if (this.#disposed) throw new KvforgeError('KVF3012', 'this KV cache was disposed: its memory is freed', { hint: 'create a new cache with createCache()' });
  }

  #requireIdle(what: string): void {
    if (this.#reading > 0) {
      throw new KvforgeError('KVF3010', `${what}: ${this.#reading} attention call(s) reading this cache are still in flight`, {
        hint: 'await prefill()/decode() before changing the cache they read',
      });
    }
  }

  #seq(seq: number): number {
    if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 0 || seq >= this.batch) {
      throw new KvforgeError('KVF3004', `sequence index must be an integer in [0, ${this.batch}), received ${String(seq)}`);
    }
    return seq;
  }

  // After a truncation positions left the cache: the held range is what the slots now hold, read
  // from the position summaries (capacity / 16 entries per head, not the slots).
  #refreshRanges(): void {
    const lengths = this.#native.lengths();
    for (let b = 0; b < this.batch; b++) {
      let lo = Infinity, hi = -Infinity, len = 0;
      for (let h = 0; h < this.kvHeads; h++) len = Math.max(len, lengths[b * this.kvHeads + h]!);
      this.#len[b] = len;
      for (let h = 0; h < this.kvHeads; h++) {
        if (lengths[b * this.kvHeads + h] === 0) continue;
        const { min, max } = this.#native.summary(b, h);
        for (let t = 0; t < min.length; t++) if (min[t]! <= max[t]!) (lo = Math.min(lo, min[t]!)), (hi = Math.max(hi, max[t]!));
      }
      this.#min[b] = lo;
      this.#max[b] = hi;
    }
  }
}
