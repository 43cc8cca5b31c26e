/**
 * The entry store: one verified entry per key, built when missing or bad. An entry is built in a
 * private folder (temps.ts) and renamed into place in one step, so a build killed halfway leaves
 * no entry, and two processes building the same key both succeed: the first rename wins, the
 * second checks the winner's entry (moving it aside if it is bad) and drops its own copy.
 */
import { lstatSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ensureCacheFolder } from './cacheDir.ts';
import { pruneCorrupt, quarantine, sealEntry, verifyEntry } from './entry.ts';
import type { BuildEvent } from './progress.ts';
import { cleanStaleBuildFolders, makeBuildFolder } from './temps.ts';

export interface Entry {
  readonly kind: 'core' | 'addons';
  readonly key: string;
  readonly required: readonly string[];
  readonly kernels: readonly string[];
  /** The sources the build compiles (for progress). */
  readonly files: readonly string[];
  readonly info: unknown;
  /** Build into `out` (the entry's files) using the private folder `tmp`. */
  readonly produce: (tmp: string, out: string) => Promise<void>;
}

/** The verified entry for `e`, built when missing or bad. */
export async function cachedEntry(root: string, e: Entry, progress: (ev: BuildEvent) => void): Promise<{ dir: string; cached: boolean }> {
  const what = e.kind === 'core' ? 'core' : 'addon';
  const kindRoot = path.join(root, e.kind);
  ensureCacheFolder(kindRoot);
  const dir = path.join(kindRoot, e.key);
  if (exists(dir)) {
    const v = verifyEntry(dir, e.key, e.required);
    if (v.ok) {
      progress({ kind: 'cached', what, key: e.key, kernels: e.kernels });
      return { dir, cached: true };
    }
    quarantine(dir, v.reason);
  }
  cleanStaleBuildFolders(kindRoot);
  pruneCorrupt(kindRoot);
  const tmp = makeBuildFolder(kindRoot, e.key);
  const t0 = performance.now();
  progress({ kind: 'start', what, key: e.key, kernels: e.kernels, files: e.files });
  let ok = false;
  try {
    const out = path.join(tmp, 'entry');
    mkdirSync(out);
    await e.produce(tmp, out);
    sealEntry(out, e.key, e.info);
    place(out, dir, e);
    ok = true;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    progress({ kind: 'done', what, key: e.key, seconds: (performance.now() - t0) / 1000, ok });
  }
  return { dir, cached: false };
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function place(out: string, dir: string, e: Entry): void {
  try {
    renameSync(out, dir);
  } catch (err) {
    if (!exists(dir)) throw err;
    // Another process finished the same key first: its entry is as good as ours once it verifies.
    const v = verifyEntry(dir, e.key, e.required);
    if (v.ok) return;
    quarantine(dir, `placed by another build: ${v.reason}`);
    renameSync(out, dir);
  }
}

