/**
 * Write a generated set into an output folder without ever destroying what the user keeps there.
 *
 * - gen deletes only files it wrote before: those its manifest.json there lists (manifest.ts
 *   checks each is a generated file name, so no entry reaches outside the folder);
 * - it writes into a new or empty folder, or one holding its own manifest; any other folder only
 *   with `force` (then it overwrites just the files it generates and deletes nothing);
 * - it follows no symbolic link inside the folder: a link where a target folder, the manifest or a
 *   generated file goes is refused before anything is changed;
 * - every file is written to a temporary name and renamed into place, and the manifest on disk
 *   always lists every file gen may have written, so a gen killed at any point leaves no half file
 *   and nothing the next gen does not know is its own. (The one other thing gen removes is such a
 *   temporary file, `.kvforge-tmp-<pid>-<hex>`, once its writer's process is gone.)
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { internalError, KvforgeError } from '../dsl/diagnostics.ts';
import { GENERATED_FILE, TARGET_DIRS } from './unit.ts';
import type { GeneratedSet } from './generate.ts';
import { MANIFEST, manifestText, readPriorManifest } from './manifest.ts';

export interface WriteOptions {
  /** Write into a non-empty folder that holds no kvforge manifest (the CLI's `--force`). */
  readonly force?: boolean;
}

const TEMP = /^\.kvforge-tmp-(\d+)-[0-9a-f]{8}$/;

function lstat(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

function refuseLink(p: string, want: 'folder' | 'file', st: Stats | undefined): void {
  if (!st) return;
  if (st.isSymbolicLink()) {
    throw new KvforgeError('KVF4011', `${p} is a symbolic link; kvforge gen does not follow links out of its output folder`, {
      hint: `replace it with a real ${want}, or choose another --out`,
    });
  }
  if (want === 'folder' ? !st.isDirectory() : !st.isFile()) {
    throw new KvforgeError('KVF4011', `${p} is in the way: kvforge gen writes a ${want} there`, { hint: `move it away, or choose another --out` });
  }
}

// Temporary files of a gen that was killed before its rename (its process is gone).
function removeDeadTemps(root: string): void {
  for (const name of readdirSync(root)) {
    const pid = TEMP.exec(name)?.[1];
    if (pid === undefined || lstat(path.join(root, name))?.isFile() !== true) continue;
    try {
      process.kill(Number(pid), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') rmSync(path.join(root, name), { force: true });
    }
  }
}

function writeAtomically(root: string, rel: string, text: string): void {
  const tmp = path.join(root, `.kvforge-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(tmp, text, { flag: 'wx' });
  try {
    renameSync(tmp, path.join(root, rel));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Write `set` into `dir` (created if missing), replacing what gen wrote there before; see the file comment. */
export function writeGenerated(set: GeneratedSet, dir: string, o: WriteOptions = {}): void {
  const root = path.resolve(dir);
  let st: Stats | undefined;
  try {
    st = statSync(root); // the folder itself may be a link: the user named it
  } catch {
    st = undefined;
  }
  if (st && !st.isDirectory()) throw new KvforgeError('KVF4010', `${dir} is not a folder`, { hint: 'choose a folder for --out' });
  if (st) removeDeadTemps(root);
  const prior = st ? readPriorManifest(root) : { kind: 'none' as const };
  // A manifest.json gen did not write is somebody's file (web apps and extensions have one):
  // --force never overwrites it.
  if (prior.kind === 'foreign') {
    throw new KvforgeError('KVF4010', `${dir} holds a ${MANIFEST} that kvforge gen did not write (its ${prior.why}); gen would have to overwrite it, and never does, even with --force`, {
      hint: 'choose another --out (a new or empty folder, or one gen wrote before)',
    });
  }
  if (st && prior.kind !== 'ours' && readdirSync(root).length > 0 && !o.force) {
    throw new KvforgeError('KVF4010', `${dir} is not empty and kvforge gen did not create it (it holds no ${MANIFEST} of kvforge's); gen writes only into a new or empty folder, or one it wrote before`, {
      hint: `pass --force to write into ${dir} anyway (gen then overwrites only the files it generates and deletes none of yours), or choose another --out`,
    });
  }
  const written = [...set.files.keys()].filter((f) => f !== MANIFEST);
  for (const f of written) if (!GENERATED_FILE.test(f)) internalError(`generated set holds ${JSON.stringify(f)}, not a generated file name`);
  const stale = prior.kind === 'ours' ? prior.files.filter((f) => !set.files.has(f)) : [];

  // Every check before the first change, so a refused gen changes nothing.
  for (const t of TARGET_DIRS) refuseLink(path.join(root, t), 'folder', lstat(path.join(root, t)));
  for (const f of [...written, ...stale, MANIFEST]) refuseLink(path.join(root, f), 'file', lstat(path.join(root, f)));

  mkdirSync(root, { recursive: true });
  // While files change, the manifest lists both the old and the new ones.
  const old = prior.kind === 'ours' ? prior.files : [];
  writeAtomically(root, MANIFEST, manifestText([], [...new Set([...old, ...written])]));
  for (const t of TARGET_DIRS) if (written.some((f) => f.startsWith(`${t}/`))) mkdirSync(path.join(root, t), { recursive: true });
  for (const f of written) writeAtomically(root, f, set.files.get(f)!);
  for (const f of stale) if (lstat(path.join(root, f))?.isFile()) unlinkSync(path.join(root, f));
  writeAtomically(root, MANIFEST, set.files.get(MANIFEST)!);
}
