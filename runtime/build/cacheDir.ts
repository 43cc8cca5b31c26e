/**
 * The cache folder must be a writable folder; anything else is a coded error naming the path and
 * what to do (it used to be an internal error with a stack).
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';

/** The nearest existing path at or above `dir` (what blocks creating it when it is a file). */
function nearestExisting(dir: string): string {
  let p = dir;
  while (!existsSync(p) && path.dirname(p) !== p) p = path.dirname(p);
  return p;
}

function why(e: NodeJS.ErrnoException, dir: string): string {
  if (e.code === 'EEXIST' || e.code === 'ENOTDIR') return `${nearestExisting(dir)} is a file, not a folder`;
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'EROFS') return 'it is on a read-only file system';
  return e.message;
}

/** Create `dir` (and its parents) when missing; throw KVF4005 unless it is then a writable folder. */
export function ensureCacheFolder(dir: string): void {
  let reason: string | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) reason = `${dir} is a file, not a folder`;
    else accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    reason = why(e as NodeJS.ErrnoException, dir);
  }
  if (reason === undefined) return;
  const env = process.env.KVFORGE_CACHE_DIR;
  throw new KvforgeError('KVF4005', `the build cache folder ${dir} cannot be used: ${reason}`, {
    hint: `set KVFORGE_CACHE_DIR to a writable folder${env ? ` (it is '${env}' now)` : ''}, or move away what is at that path`,
  });
}
