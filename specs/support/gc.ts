/**
 * A full garbage collection on demand: `global.gc` when node runs with --expose-gc, else the same
 * function fetched through V8's flag (set at run time, then read from a fresh context).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

function find(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

export const collectGarbage: () => void = find();

/** Take `view`'s memory away from it, as a worker transfer does; the new owner is dropped at once. */
export function detach(view: ArrayBufferView): void {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
}
