/** The KvforgeError a call raises, for tests that assert codes and messages; anything else fails. */
import { KvforgeError } from '../../dsl/diagnostics.ts';

export function caught(f: () => unknown): KvforgeError {
  try {
    f();
  } catch (e) {
    if (e instanceof KvforgeError) return e;
    throw new Error(`expected a KvforgeError, got ${(e as Error).stack}`);
  }
  throw new Error('expected a KvforgeError, nothing was thrown');
}

export async function caughtAsync(f: () => Promise<unknown>): Promise<KvforgeError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof KvforgeError) return e;
    throw new Error(`expected a KvforgeError, got ${(e as Error).stack}`);
  }
  throw new Error('expected a KvforgeError, nothing was thrown');
}
