/** The native addon's exports, typed, and loading one from a path. */
import { createRequire } from 'node:module';
import { KvforgeError } from '../../dsl/diagnostics.ts';

/**
 * One call's inputs. The addon copies every array before forward() returns (so the caller may
 * transfer, detach or overwrite them at once) and accepts views of a SharedArrayBuffer; a detached
 * array is a TypeError naming it.
 */
export interface NativeForwardArgs {
  q: Float32Array; k: Float32Array; v: Float32Array;
  B: number; Hq: number; Hkv: number; Lq: number; Lk: number; D: number; Dv: number;
  scale: number;
  qpos: Int32Array | null; kpos: Int32Array | null;
  params: Float64Array;
  threads: number;
}

/** Where a kernel runs: the C++ kernels, CUDA on a device, or the same CUDA source emulated on the CPU. */
export type Backend = 'cpu' | 'cuda' | 'cuda-emu';

export interface NativeDeviceReport {
  compiledBackends: Backend[];
  cpu: { simd: string; threads: number };
  cuda: { compiled: boolean; emulated: boolean; available: boolean; devices: number; reason: string };
}

/** A layer's KV cache in one backend's memory (runtime/native/src/napi_cache.hpp). */
export interface NativeCache {
  append(k: Float32Array, v: Float32Array, positions: Int32Array, start: Int32Array, count: Int32Array): void;
  truncate(keep: Int32Array): void;
  grow(capacity: number): void;
  lengths(): Int32Array;
  read(b: number, h: number): { k: Float32Array; v: Float32Array; pos: Int32Array; count?: Int32Array; mass?: Float32Array; bias?: Float32Array };
  /** Positions and slot statistics only (no K/V copied). */
  read(b: number, h: number, statsOnly: true): { pos: Int32Array; count?: Int32Array; mass?: Float32Array; bias?: Float32Array };
  /** Per-head selection: head hd keeps keepCount[hd] slots, listed in `keep` head after head (-1: untouched, lists none). */
  compact(keep: Int32Array, keepCount: Int32Array): void;
  /** Pooled merges per head (runtime/native/include/kvforge/cache_ops.hpp, MergeArgs). */
  merge(start: Int32Array, count: Int32Array, dst: Int32Array, groupSize: number, pooling: number, pairOdd: boolean): void;
  /** The pyramid rule's loop per head (cache_ops.hpp, PyramidArgs); compressed[hd] < 0: untouched. */
  pyramid(sinks: Int32Array, compressed: Int32Array, budget: number, groupSize: number, pooling: number): void;
  readonly hasStats: boolean;
  summary(b: number, h: number): { min: Int32Array; max: Int32Array };
  release(): void;
  readonly released: boolean;
  readonly capacity: number;
}

/** A block of one backend's memory (runtime/native/src/napi_buffer.hpp). */
export interface NativeBuffer {
  upload(src: Float32Array, offset: number): void;
  download(dst: Float32Array, offset: number): void;
  release(): void;
  readonly released: boolean;
}

/** What an attention call over a cache is bound to besides its arrays. */
export interface NativeAttendScalars {
  Hq: number; scale: number; params: Float64Array; threads: number;
  /** The cache whose value rows are read (keys, positions and lengths: the call's cache). */
  values?: NativeCache | null;
  /** Add the cache's per-slot ln(count) to the scores / its attention mass to the cache (AttnArgs v3). */
  countBias?: boolean;
  mass?: boolean;
}

/** One asynchronous attention call over a cache (runtime/native/src/napi_attend.hpp): packed ragged rows. */
export interface NativeAttendArgs extends NativeAttendScalars {
  q: Float32Array; qpos: Int32Array; rowStart: Int32Array; rowCount: Int32Array;
}

/** Attention over one cache bound once, run in place per step (runtime/native/src/napi_attend_plan.hpp). */
export interface NativeAttendPlan {
  run(q: Float32Array | NativeBuffer, qpos: Int32Array, rowStart: Int32Array, rowCount: Int32Array,
    out: Float32Array | NativeBuffer, lse: Float32Array | NativeBuffer): void;
}

/** A weight matrix W [rows, cols] packed once for Y = X W^T (runtime/native/src/napi_model.hpp). */
export interface NativeDenseMatrix {
  apply(x: Float32Array, m: number, y: Float32Array, accumulate: boolean, threads: number): void;
  release(): void;
  readonly bytes: number;
}

/** What a NativeDecoderModel is built from: shape, small tensors copied, matrices shared. */
export interface NativeDecoderConfig {
  hidden: number; intermediate: number; vocab: number; Hq: number; Hkv: number; D: number; Dv: number; eps: number; theta: number;
  embed: Float32Array; norm: Float32Array; lmHead: NativeDenseMatrix;
  layers: ReadonlyArray<{
    inputNorm: Float32Array; postNorm: Float32Array;
    q: NativeDenseMatrix; k: NativeDenseMatrix | null; v: NativeDenseMatrix | null; o: NativeDenseMatrix;
    gate: NativeDenseMatrix; up: NativeDenseMatrix; down: NativeDenseMatrix;
  }>;
}

/** The decoder's dense half (runtime/native/include/kvforge/model/decoder.hpp), synchronous. */
export interface NativeDecoderModel {
  embed(tokens: Int32Array, h: Float32Array): void;
  project(layer: number, h: Float32Array, positions: Int32Array, q: Float32Array, k: Float32Array | null, v: Float32Array | null, threads: number): void;
  finish(layer: number, h: Float32Array, attn: Float32Array, threads: number): void;
  logits(h: Float32Array, out: Float32Array, threads: number): void;
  release(): void;
}

/** One layer of a native decode step: the cache it appends to, the plan it attends with. */
export interface NativeStepLayer {
  append: NativeCache | null;
  plan: NativeAttendPlan;
  literal: boolean;
}

/** A whole decode step in native code (runtime/native/src/napi_model_step.hpp). */
export interface NativeDecodeStep {
  /** `attention` (optional): every layer's attention output, [layers, B, Hq, Dv]. */
  run(tokens: Int32Array, positions: Int32Array, logits: Float32Array, threads: number, profile: Float64Array, attention?: Float32Array): void;
}

export interface NativeAddon {
  listKernels(backend?: Backend): string[];
  /** `out` [B, Hq, Lq, Dv] and `lse` [B, Hq, Lq] are new arrays the addon allocated. */
  forward(kernelId: string, args: NativeForwardArgs, backend?: Backend): Promise<{ out: Float32Array; lse: Float32Array }>;
  deviceReport(): NativeDeviceReport;
  NativeBuffer: new (backend: Backend, dtype: number, length: number) => NativeBuffer;
  NativeCache: new (backend: Backend, B: number, Hkv: number, D: number, Dv: number, dtype: number, capacity: number, stats?: boolean) => NativeCache;
  /** Resolves with new arrays; the cache refuses changes until it does. */
  attend(kernelId: string, backend: Backend, cache: NativeCache, a: NativeAttendArgs): Promise<{ out: Float32Array; lse: Float32Array }>;
  AttendPlan: new (kernelId: string, backend: Backend, cache: NativeCache, a: NativeAttendScalars) => NativeAttendPlan;
  DenseMatrix: new (w: Float32Array, rows: number, cols: number, dtype: number) => NativeDenseMatrix;
  DecoderModel: new (c: NativeDecoderConfig) => NativeDecoderModel;
  DecodeStep: new (model: NativeDecoderModel, B: number, layers: readonly NativeStepLayer[]) => NativeDecodeStep;
  probeFma(threads: number, seconds: number): Promise<number>;
  /** GB/s over a fresh buffer of `bytes`, or in place over a cpu f32 buffer the caller has written. */
  probeRead(threads: number, bytes: number | NativeBuffer, seconds: number): Promise<number>;
}

const require = createRequire(import.meta.url);
const loaded = new Map<string, NativeAddon>();

/**
 * Load (dlopen) an addon file, once per process. Only hand it a file that was verified first
 * (build/addon.ts does, against the sizes and hashes its cache entry was sealed with): dlopen of a
 * truncated file kills the process with SIGBUS before any error can be raised.
 */
export function loadAddon(file: string): NativeAddon {
  let a = loaded.get(file);
  if (!a) {
    try {
      a = require(file) as NativeAddon;
    } catch (e) {
      throw new KvforgeError('KVF4003', `could not load the addon ${file}: ${(e as Error).message}`, {
        hint: 'load addons through compile() or loadShipped(), which build them for this machine and move an entry that cannot be loaded aside; if a fresh build cannot be loaded either, the C++ compiler builds for another platform than this Node',
      });
    }
    loaded.set(file, a);
  }
  return a;
}
