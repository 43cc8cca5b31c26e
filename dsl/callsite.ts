/**
 * Where was this called from? Reads V8's `new Error().stack`, which tsx and vitest both rewrite
 * through source maps, so the location is in the user's original `.ts` file, not in the
 * transpiled code that actually runs.
 */
import { fileURLToPath } from 'node:url';
import type { CallSite } from './types.ts';

/**
 * The location of a caller further up the stack.
 *
 * @param skipFrames - how many frames above the function that calls `captureCallSite` to skip:
 *   `captureCallSite(0)` is that function itself, `captureCallSite(1)` (what `defineMask` uses)
 *   is the code that called it.
 * @returns the file (a path, `file://` URLs converted), 1-based line and column; `undefined`
 *   when the frame has no file (eval, `new Function`, native code) or the stack is too short.
 * @example
 * ```ts
 * function defineMask(fn) { const site = captureCallSite(1); ... } // site: the user's call
 * ```
 */
export function captureCallSite(skipFrames: number): CallSite | undefined {
  const saved = Error.stackTraceLimit;
  // Frame 0 is captureCallSite itself, frame 1 its caller; leave room for the frames skipped.
  Error.stackTraceLimit = Math.max(typeof saved === 'number' ? saved : 0, skipFrames + 3);
  let stack: string | undefined;
  try {
    stack = new Error().stack;
  } finally {
    Error.stackTraceLimit = saved;
  }
  const frames = (stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  const frame = frames[1 + skipFrames];
  return frame === undefined ? undefined : parseStackFrame(frame);
}

/**
 * Parse one V8 stack line: `at fn (file:line:col)`, `at file:line:col`, `at async fn (...)`,
 * `at Obj.fn [as name] (...)`, with a `file://` URL or a plain (also Windows) path.
 */
export function parseStackFrame(line: string): CallSite | undefined {
  const body = line.trim().replace(/^at\s+/, '');
  if (body.includes('eval at ')) return undefined;
  // A frame that names a function has its location in parentheses after the name; the path
  // itself may contain parentheses, a V8 function name never contains ' ('.
  const inner = body.endsWith(')') && body.includes(' (') ? body.slice(body.indexOf(' (') + 2, -1) : body;
  const m = /^(.*):(\d+):(\d+)$/.exec(inner);
  if (!m) return undefined;
  const [, where, line1, col1] = m as unknown as [string, string, string, string];
  if (where === '' || where.startsWith('node:') || where.startsWith('<') || where === 'native') return undefined;
  // Dev servers may append a cache-busting query (`x.ts?v=1a2b`); it is not part of the path.
  let file = where.replace(/\?[^/\\]*$/, '');
  if (file.startsWith('file://')) {
    try {
      file = fileURLToPath(file);
    } catch {
      return undefined;
    }
  }
  return { file, line: Number(line1), column: Number(col1) };
}
