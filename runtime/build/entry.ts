/**
 * A cache entry is a folder `<kind>/<key>/` holding built files and a meta.json that records the
 * size and SHA-256 of every one of them. An entry is trusted only once every file matches its
 * record: a truncated, emptied or bit-flipped binary is never handed to dlopen (a truncated one
 * used to kill the process with SIGBUS). A bad entry is moved aside to a `.corrupt-*` sibling,
 * never deleted on the spot, so whoever looks into why finds it; ones older than a week are pruned.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CACHE_FORMAT } from './key.ts';

export interface FileRecord {
  readonly size: number;
  readonly sha256: string;
}

export interface EntryMeta {
  readonly format: string;
  readonly key: string;
  readonly files: Readonly<Record<string, FileRecord>>;
  /** Anything else worth knowing about the entry (kernel names, build seconds). */
  readonly info?: unknown;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Record every file directly in `dir` (but meta.json itself) and write meta.json. */
export function sealEntry(dir: string, key: string, info?: unknown): void {
  const files: Record<string, FileRecord> = {};
  for (const name of readdirSync(dir).sort()) {
    if (name === 'meta.json') continue;
    const data = readFileSync(path.join(dir, name));
    files[name] = { size: data.length, sha256: sha256(data) };
  }
  const meta: EntryMeta = { format: CACHE_FORMAT, key, files, info };
  writeFileSync(path.join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
}

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

function isRecord(x: unknown): x is FileRecord {
  return typeof x === 'object' && x !== null && Number.isInteger((x as FileRecord).size) && /^[0-9a-f]{64}$/.test(String((x as FileRecord).sha256));
}

// Entries already verified by this process, by path and (size, mtime, inode) of each file: a
// second compile() of the same kernels does not hash the addon again.
const verified = new Map<string, string>();

function fingerprint(dir: string, names: string[]): string {
  return names.map((n) => {
    const s = statSync(path.join(dir, n));
    return `${n}:${s.size}:${s.mtimeMs}:${s.ino}`;
  }).join('|');
}

/**
 * Check an entry against its meta.json: the format and key it was sealed with, and the size and
 * hash of each file it must hold (`required` names the ones its users open).
 */
export function verifyEntry(dir: string, key: string, required: readonly string[]): Verdict {
  let meta: EntryMeta;
  try {
    if (!statSync(dir).isDirectory()) return { ok: false, reason: 'it is not a folder' };
    meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as EntryMeta;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { ok: false, reason: err.code === 'ENOENT' ? 'meta.json is missing' : `meta.json is unreadable (${err.message})` };
  }
  if (typeof meta !== 'object' || meta === null || meta.format !== CACHE_FORMAT || meta.key !== key || typeof meta.files !== 'object' || meta.files === null) {
    return { ok: false, reason: 'meta.json is not a meta record of this entry' };
  }
  for (const name of required) if (!isRecord(meta.files[name])) return { ok: false, reason: `meta.json records no ${name}` };
  const names = Object.keys(meta.files).sort();
  let print: string;
  try {
    print = fingerprint(dir, names);
  } catch {
    return { ok: false, reason: `a recorded file is missing (${names.join(', ')})` };
  }
  if (verified.get(dir) === print) return { ok: true };
  for (const name of names) {
    const rec = meta.files[name];
    if (!isRecord(rec)) return { ok: false, reason: `meta.json's record of ${name} is garbled` };
    const data = readFileSync(path.join(dir, name));
    if (data.length !== rec.size) return { ok: false, reason: `${name} is ${data.length} bytes, meta.json records ${rec.size}` };
    if (sha256(data) !== rec.sha256) return { ok: false, reason: `${name} does not match its SHA-256 in meta.json (same size: its content changed)` };
  }
  verified.set(dir, print);
  return { ok: true };
}

/** Forget a verification (the entry is about to be moved aside). */
export function forgetVerified(dir: string): void {
  verified.delete(dir);
}

/**
 * Move a bad entry aside, next to where it was, and say so on stderr (one line). Returns the new
 * path, or undefined when the entry was already gone (another process moved it first).
 */
export function quarantine(dir: string, reason: string, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string | undefined {
  forgetVerified(dir);
  // The time it was moved aside is in the name: renaming keeps the folder's own mtime.
  const aside = path.join(path.dirname(dir), `.corrupt-${path.basename(dir)}-${Date.now()}-${randomBytes(3).toString('hex')}`);
  try {
    renameSync(dir, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  log(`kvforge: cache entry ${dir} is corrupt (${reason}); moved it to ${aside} and rebuilding`);
  return aside;
}

const WEEK_MS = 7 * 24 * 3600_000;

/** Remove `.corrupt-*` entries moved aside more than a week ago. */
export function pruneCorrupt(root: string, now = Date.now()): void {
  for (const name of readdirSync(root)) {
    const m = /^\.corrupt-.*-(\d{13})-[0-9a-f]{6}$/.exec(name);
    if (m && now - Number(m[1]) > WEEK_MS) rmSync(path.join(root, name), { recursive: true, force: true });
  }
}
