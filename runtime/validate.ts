/**
 * Call-time checks: every shape, dtype and length is checked here, before anything reaches native
 * code, with errors that name the argument, what was expected and what was received. (The native
 * side checks again: it must never trust its caller.)
 */
import { constants } from 'node:buffer';
import { KvforgeError } from '../codegen/diagnostics.ts';
import type { AttentionSpec } from '../dsl/attention.ts';
import type { AttentionInputs } from './inputs.ts';

function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (ArrayBuffer.isView(x)) return `${x.constructor.name} of length ${(x as unknown as { length: number }).length}`;
  if (Array.isArray(x)) return `Array of length ${x.length}`;
  return typeof x;
}

function checkCount(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new KvforgeError('KVF3004', `'${name}' must be a non-negative integer, received ${String(v)}`);
  }
  return v;
}

function checkArray<T extends Float32Array | Int32Array>(
  name: string, x: unknown, ctor: { new (n: number): T; name: string }, length: number, formula: string,
): T {
  if (!(x instanceof ctor)) {
    throw new KvforgeError('KVF3001', `argument '${name}' must be a ${ctor.name}, received ${typeName(x)}`,
      { hint: ctor === (Float32Array as unknown) ? `convert with Float32Array.from(${name})` : undefined });
  }
  if (x.length !== length) {
    throw new KvforgeError('KVF3002', `argument '${name}' has length ${x.length}, expected ${formula} = ${length}`);
  }
  return x;
}

export interface CheckedShape {
  readonly B: number; readonly Lq: number; readonly Lk: number;
  readonly Hq: number; readonly Hkv: number; readonly D: number; readonly Dv: number;
}

/** Validate `x` against `spec`; returns the shape the call will run with. */
export function checkInputs(spec: AttentionSpec, x: AttentionInputs): CheckedShape {
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
  if (p.length !== length) {
    throw new KvforgeError('KVF3006', `argument '${name}' has length ${p.length}, expected ${length} (one position per ${name === 'qpos' ? 'query row (Lq)' : 'key slot (Lk)'})`);
  }
}

/** Allocate a Float32Array for a result, turning an impossible size into a clear error. */
export function allocResult(name: string, length: number, formula: string): Float32Array {
  const bytes = length * 4;
  const gib = (bytes / 2 ** 30).toFixed(1);
  if (length > constants.MAX_LENGTH / 4 || !Number.isSafeInteger(length)) {
    throw new KvforgeError('KVF3005', `'${name}' would need ${length} floats (${gib} GiB, ${formula}), more than a typed array can hold (${constants.MAX_LENGTH} bytes)`,
      { hint: 'split the call into smaller batches or shorter query blocks' });
  }
  try {
    return new Float32Array(length);
  } catch (e) {
    throw new KvforgeError('KVF3005', `could not allocate '${name}': ${length} floats (${gib} GiB, ${formula}): ${(e as Error).message}`,
      { hint: 'split the call into smaller batches or shorter query blocks' });
  }
}
