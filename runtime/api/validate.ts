/**
 * Call-time checks: every shape, dtype and length is checked here, before anything reaches native
 * code, with errors that name the argument, what was expected and what was received. (The native
 * side checks again: it must never trust its caller.)
 */
import { constants } from 'node:buffer';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { AttentionInputs } from './inputs.ts';

function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (ArrayBuffer.isView(x)) return `${x.constructor.name} of length ${(x as unknown as { length: number }).length}`;
  if (Array.isArray(x)) return `Array of length ${x.length}`;
  return typeof x;
}

/**
 * Whether a view's ArrayBuffer was detached (transferred with structuredClone or postMessage, or
 * detached by ArrayBuffer.prototype.transfer where it exists). `ArrayBuffer.prototype.detached` is
 * missing before Node 22; there a detached buffer is the one of length 0 that cannot be viewed.
 * A SharedArrayBuffer is never detached.
 */
export function isDetached(x: ArrayBufferView): boolean {
  const buf = x.buffer;
  if (!(buf instanceof ArrayBuffer) || buf.byteLength !== 0) return false;
  const known = (buf as { detached?: boolean }).detached;
  if (typeof known === 'boolean') return known;
  try {
    new Uint8Array(buf);
    return false;
  } catch {
    return true;
  }
}

// A detached input would otherwise read as "length 0": say what happened instead.
export function checkNotDetached(name: string, x: ArrayBufferView): void {
  if (isDetached(x)) {
    throw new KvforgeError('KVF3009', `argument '${name}' is detached: its ArrayBuffer was transferred (structuredClone or postMessage with transfer) before the call, so it holds no data`,
      { hint: `pass '${name}' before transferring its buffer, or a copy of it (e.g. ${name}.slice())` });
  }
}

function checkCount(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new KvforgeError('KVF3004', `'${name}' must be a non-negative integer, received ${String(v)}`);
  }
  return v;
}

export function checkArray<T extends Float32Array | Int32Array>(
  name: string, x: unknown, ctor: { new (n: number): T; name: string }, length: number, formula: string | (() => string),
): T {
  if (!(x instanceof ctor)) {
    throw new KvforgeError('KVF3001', `argument '${name}' must be a ${ctor.name}, received ${typeName(x)}`,
      { hint: ctor === (Float32Array as unknown) ? `convert with Float32Array.from(${name})` : undefined });
  }
  checkNotDetached(name, x);
  if (x.length !== length) {
    throw new KvforgeError('KVF3002', `argument '${name}' has length ${x.length}, expected ${typeof formula === 'function' ? formula() : formula} = ${length}`);
  }
  return x;
}

export interface CheckedShape {
  readonly B: number; readonly Lq: number; readonly Lk: number;
  readonly Hq: number; readonly Hkv: number; readonly D: number; readonly Dv: number;
}

/** The shape a kernel computes on: head counts and dims (a kernel unit's, or a spec's). */
export interface VariantShape {
  readonly heads: { readonly q: number; readonly kv: number };
  readonly headDim: number;
  readonly valueDim: number;
}

/** Validate `x` against `spec`; returns the shape the call will run with. */
export function checkInputs(spec: VariantShape, x: AttentionInputs): CheckedShape {
  if (typeof x !== 'object' || x === null) throw new KvforgeError('KVF3004', `inputs must be an object { q, k, v, B, Lq, Lk }, received ${typeName(x)}`);
  const B = checkCount('B', x.B);
  const Lq = checkCount('Lq', x.Lq);
  const Lk = checkCount('Lk', x.Lk);
  const { q: Hq, kv: Hkv } = spec.heads;
  const D = spec.headDim;
  const Dv = spec.valueDim;
  const s = `B=${B}, Hq=${Hq}, Hkv=${Hkv}, Lq=${Lq}, Lk=${Lk}, D=${D}, Dv=${Dv}`;
  checkArray('q', x.q, Float32Array, B * Hq * Lq * D, `B*Hq*Lq*D (${s})`);
  checkArray('k', x.k, Float32Array, B * Hkv * Lk * D, `B*Hkv*Lk*D (${s})`);
  checkArray('v', x.v, Float32Array, B * Hkv * Lk * Dv, `B*Hkv*Lk*Dv (${s})`);
  if (x.qpos !== undefined) checkPositions('qpos', x.qpos, Lq);
  if (x.kpos !== undefined) checkPositions('kpos', x.kpos, Lk);
  return { B, Lq, Lk, Hq, Hkv, D, Dv };
}

function checkPositions(name: string, p: unknown, length: number): void {
  if (!(p instanceof Int32Array)) {
    throw new KvforgeError('KVF3006', `argument '${name}' must be an Int32Array of token positions, received ${typeName(p)}`);
  }
  checkNotDetached(name, p);
  if (p.length !== length) {
    throw new KvforgeError('KVF3006', `argument '${name}' has length ${p.length}, expected ${length} (one position per ${name === 'qpos' ? 'query row (Lq)' : 'key slot (Lk)'})`);
  }
}

/**
 * A result of `length` floats must fit a typed array (the addon allocates it): an impossible size
 * is a clear error here rather than a failed allocation in native code.
 */
export function checkResultSize(name: string, length: number, formula: string): void {
  if (length > constants.MAX_LENGTH / 4 || !Number.isSafeInteger(length)) {
    const gib = ((length * 4) / 2 ** 30).toFixed(1);
    throw new KvforgeError('KVF3005', `'${name}' would need ${length} floats (${gib} GiB, ${formula}), more than a typed array can hold (${constants.MAX_LENGTH} bytes)`,
      { hint: 'split the call into smaller batches or shorter query blocks' });
  }
}
