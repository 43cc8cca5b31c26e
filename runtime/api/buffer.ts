/**
 * Memory of a kernel's target as a TS object: host memory for 'cpu' and 'cuda-emu', device memory
 * for 'cuda' (runtime/native/src/napi_buffer.hpp), holding `length` values of one dtype. Kernels
 * read and write f32 buffers in place: `decodeSync(cache, { q, out, lse })` with buffers moves no
 * data between host and device. `dispose()` (or `using`) frees the memory at once; a finaliser
 * frees it when the object is collected otherwise. Use after dispose is KVF3012.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { Backend, NativeAddon, NativeBuffer } from './native.ts';
import { checkNotDetached } from './validate.ts';
import { allocating } from './nativeError.ts';

export type BufferDType = 'f32' | 'f16' | 'bf16';
const DTYPE_NUMBER: Readonly<Record<BufferDType, number>> = { f32: 0, f16: 1, bf16: 2 };

export interface BufferOptions {
  /** Values the buffer holds. */
  readonly length: number;
  /** @defaultValue 'f32' */
  readonly dtype?: BufferDType;
}

export class TargetBuffer {
  readonly length: number;
  readonly dtype: BufferDType;
  readonly backend: Backend;
  readonly addon: NativeAddon;
  readonly #native: NativeBuffer;
  #disposed = false;

  constructor(addon: NativeAddon, backend: Backend, opts: BufferOptions) {
    if (opts === null || typeof opts !== 'object') throw new KvforgeError('KVF3004', `createBuffer needs { length, dtype? }, received ${String(opts)}`);
    const { length } = opts;
    if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || length > 2 ** 40) {
      throw new KvforgeError('KVF3004', `buffer length must be an integer from 0 to 2^40, received ${String(length)}`);
    }
    const dtype = opts.dtype ?? 'f32';
    if (!(dtype in DTYPE_NUMBER)) throw new KvforgeError('KVF3001', `buffer dtype must be 'f32', 'f16' or 'bf16', received ${String(dtype)}`);
    this.length = length;
    this.dtype = dtype;
    this.backend = backend;
    this.addon = addon;
    this.#native = allocating(`a buffer of ${length} ${dtype} values on '${backend}'`, 'a smaller buffer, or fewer buffers alive at once',
      () => new addon.NativeBuffer(backend, DTYPE_NUMBER[dtype], length));
  }

  /** The native object kernels read (internal). */
  get native(): NativeBuffer {
    this.#live();
    return this.#native;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Values [offset, offset + src.length) <- src (rounded to the dtype, nearest even). */
  upload(src: Float32Array, offset = 0): void {
    this.#live();
    this.#check('src', src, offset);
    this.#native.upload(src, offset);
  }

  /** Values [offset, offset + dst.length) as f32, into `dst` (a new array of the rest when omitted). */
  download(dst?: Float32Array, offset = 0): Float32Array {
    this.#live();
    const out = dst ?? new Float32Array(Math.max(0, this.length - offset));
    this.#check('dst', out, offset);
    this.#native.download(out, offset);
    return out;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#native.release();
    this.#disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #live(): void {
    if (this.#disposed) throw new KvforgeError('KVF3012', 'this buffer was disposed: its memory is freed');
  }

  #check(name: string, a: unknown, offset: number): void {
    if (!(a instanceof Float32Array)) throw new KvforgeError('KVF3001', `'${name}' must be a Float32Array`);
    checkNotDetached(name, a);
    if (!Number.isInteger(offset) || offset < 0 || offset + a.length > this.length) {
      throw new KvforgeError('KVF3002', `values [${offset}, ${offset + a.length}) are outside the buffer's ${this.length}`);
    }
  }
}
