/**
 * Native errors that say the system refused memory. The addon tags them (`code`, set by
 * native/src/napi_args.cpp coreError for kvf::OutOfMemory and std::bad_alloc: host memory, kernel
 * scratch, cudaMalloc real or emulated); here they become KVF3005, naming what was being
 * allocated. Nothing reads the message to decide: a message can change, the code is the contract.
 *
 * @module
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';

/** The `code` of an addon Error for refused memory (kvforge/out_of_memory.hpp kOutOfMemoryCode). */
export const NATIVE_OUT_OF_MEMORY = 'KVF_NATIVE_OUT_OF_MEMORY';

/** The hint of a kernel call's refused working memory. */
export const CALL_HINT = 'a smaller call: fewer rows or keys per call, or a smaller batch';

/** Whether `e` is the addon's error for memory the system refused. */
export function isNativeOutOfMemory(e: unknown): e is Error {
  return e instanceof Error && (e as { code?: unknown }).code === NATIVE_OUT_OF_MEMORY;
}

/** `e` to throw: KVF3005 when it is a refused allocation (`what` was being allocated), else `e`. */
export function outOfMemoryAs(e: unknown, what: string, hint: string): unknown {
  return isNativeOutOfMemory(e) ? new KvforgeError('KVF3005', `${what} could not be allocated: ${e.message}`, { hint }) : e;
}

/** `f()`, with a refused native allocation thrown as KVF3005 (outOfMemoryAs). */
export function allocating<T>(what: string, hint: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw outOfMemoryAs(e, what, hint);
  }
}
