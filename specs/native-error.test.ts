// Refused native memory is recognised by the addon's error code, never by the message.
import { describe, expect, it } from 'vitest';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { allocating, isNativeOutOfMemory, NATIVE_OUT_OF_MEMORY, outOfMemoryAs } from '../runtime/api/nativeError.ts';

const tagged = (message: string) => Object.assign(new Error(message), { code: NATIVE_OUT_OF_MEMORY });

describe('native out-of-memory errors', () => {
  it('are told by the code alone', () => {
    expect(isNativeOutOfMemory(tagged('kvforge cpu: alloc(8 bytes) failed: out of host memory'))).toBe(true);
    expect(isNativeOutOfMemory(new Error('out of memory: could not allocate'))).toBe(false);
    expect(isNativeOutOfMemory({ code: NATIVE_OUT_OF_MEMORY, message: 'not an Error' })).toBe(false);
    expect(isNativeOutOfMemory(undefined)).toBe(false);
  });

  it('become KVF3005 naming what was allocated; anything else passes through unchanged', () => {
    const e = outOfMemoryAs(tagged('cudaMalloc(1024 bytes) failed: cudaErrorMemoryAllocation'), 'a cache of 1 x 2 x 16 slots', 'a smaller cache') as KvforgeError;
    expect(e).toBeInstanceOf(KvforgeError);
    expect(e.code).toBe('KVF3005');
    expect(e.message).toContain('a cache of 1 x 2 x 16 slots could not be allocated: cudaMalloc(1024 bytes) failed');
    expect(e.hint).toBe('a smaller cache');
    const other = new RangeError('NativeCache: argument B must be a positive integer');
    expect(outOfMemoryAs(other, 'x', 'y')).toBe(other);
    expect(() => allocating('x', 'y', () => { throw other; })).toThrow(other);
    expect(allocating('x', 'y', () => 42)).toBe(42);
  });
});
