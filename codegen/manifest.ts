/**
 * manifest.json of a folder `kvforge gen` writes: which kernels it holds and which files gen wrote
 * there. Reading it back is how gen knows what it may delete on the next run: only the files the
 * manifest lists, and only when each has the form of a generated file name.
 */
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { GENERATED_FILE } from './backends/render.ts';

/** Format 2 adds `files`; format 1 (no `files`) listed them per kernel only. */
export const GENERATOR = 'kvforge-codegen 2';
const GENERATOR_FORMAT = /^kvforge-codegen ([12])$/;
export const MANIFEST = 'manifest.json';

/** The manifest's text: `kernels` sorted by id, `files` (every generated file but the manifest) sorted. */
export function manifestText(kernels: Readonly<Record<string, unknown>>, files: readonly string[]): string {
  const sorted = Object.fromEntries(Object.keys(kernels).sort().map((k) => [k, kernels[k]]));
  return `${JSON.stringify({ generator: GENERATOR, files: [...files].sort(), kernels: sorted }, null, 2)}\n`;
}

/** What an output folder holds before gen writes: nothing of gen's, someone else's manifest.json, or gen's files. */
export type PriorManifest =
  | { readonly kind: 'none' }
  | { readonly kind: 'foreign'; readonly why: string }
  | { readonly kind: 'ours'; readonly files: readonly string[] };

function unsafe(detail: string, hint: string): never {
  throw new KvforgeError('KVF4011', detail, { hint });
}

/**
 * Read `dir`/manifest.json. Not there: 'none'. Not JSON, or not written by kvforge: 'foreign' (the
 * folder is not gen's). Written by kvforge but a link, not a file, or listing anything but a
 * generated file name (`../victim`, an absolute path): refused with KVF4011, since gen would
 * otherwise delete what that entry names.
 */
export function readPriorManifest(dir: string): PriorManifest {
  const file = path.join(dir, MANIFEST);
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return { kind: 'none' };
  }
  if (!st.isFile()) unsafe(`${file} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; kvforge gen does not follow links out of its output folder`, `remove ${file}, or choose another --out`);
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { kind: 'foreign', why: `${MANIFEST} is not JSON` };
  }
  const o = (typeof m === 'object' && m !== null ? m : {}) as { generator?: unknown; files?: unknown; kernels?: unknown };
  const format = typeof o.generator === 'string' ? GENERATOR_FORMAT.exec(o.generator)?.[1] : undefined;
  if (!format) return { kind: 'foreign', why: `${MANIFEST} was not written by kvforge gen` };
  const bad = (what: string): never => unsafe(`${file} is a kvforge manifest but ${what}; kvforge gen deletes only generated files it listed, so it will not guess`,
    `restore or remove ${file} (gen then treats the folder as not its own: pass --force to write into it)`);
  let files: unknown[];
  if (format === '2') {
    if (!Array.isArray(o.files)) bad("its 'files' is not a list");
    files = o.files as unknown[];
  } else {
    if (typeof o.kernels !== 'object' || o.kernels === null) bad("its 'kernels' is not an object");
    files = Object.values(o.kernels as Record<string, { files?: unknown }>).flatMap((k) => (Array.isArray(k?.files) ? k.files : [k?.files]));
  }
  for (const f of files) {
    if (typeof f !== 'string' || !GENERATED_FILE.test(f)) bad(`it lists ${JSON.stringify(f)}, which is not a generated file name (cpp/<id>.cpp or cuda/<id>.cu)`);
  }
  return { kind: 'ours', files: files as string[] };
}
