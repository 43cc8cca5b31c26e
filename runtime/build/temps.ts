/**
 * Private build folders (`.tmp-*` next to the entries, so the finished entry is renamed into
 * place in one step). Each records its builder (owner.json: pid, the pid's start time, host, boot
 * id); a folder is removed as soon as its builder is known to be gone, and never while it lives.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Owner {
  readonly pid: number;
  /** Start time of the pid in clock ticks after boot (Linux /proc/<pid>/stat), so a reused pid is not taken for the builder. */
  readonly start: string | null;
  readonly host: string;
  readonly boot: string | null;
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
export function processStart(pid: number): string | null {
  const stat = readOrNull(`/proc/${pid}/stat`);
  if (stat === null) return null;
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

export function currentOwner(): Owner {
  return { pid: process.pid, start: processStart(process.pid), host: os.hostname(), boot: readOrNull('/proc/sys/kernel/random/boot_id') };
}

/** 'alive', 'dead', or 'unknown' (another machine sharing the cache folder: only age can tell). */
export function ownerState(o: Owner, here: Owner = currentOwner()): 'alive' | 'dead' | 'unknown' {
  if (o.host !== here.host) return 'unknown';
  if (o.boot !== null && here.boot !== null && o.boot !== here.boot) return 'dead'; // rebooted since
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
    // EPERM: the pid exists and belongs to someone else; fall through to the start-time check.
  }
  if (o.start !== null) {
    const now = processStart(o.pid);
    if (now === null && here.start !== null) return 'dead'; // /proc works here and has no such pid
    if (now !== null && now !== o.start) return 'dead'; // the pid was reused by another process
  }
  return 'alive';
}

/** Make a private build folder for `key` in `root`, owned by this process. */
export function makeBuildFolder(root: string, key: string): string {
  const dir = path.join(root, `.tmp-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'owner.json'), JSON.stringify(currentOwner()));
  return dir;
}

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Remove the build folders of builders that are gone. A folder without a readable owner.json
 * (written by an older kvforge, or its builder died between mkdir and writing it) goes after an
 * hour; one of a builder on another host after a day.
 */
export function cleanStaleBuildFolders(root: string, now = Date.now()): string[] {
  const removed: string[] = [];
  const here = currentOwner();
  for (const name of readdirSync(root)) {
    if (!name.startsWith('.tmp-')) continue;
    const dir = path.join(root, name);
    try {
      const raw = readOrNull(path.join(dir, 'owner.json'));
      let owner: Owner | null = null;
      try {
        owner = raw === null ? null : (JSON.parse(raw) as Owner);
      } catch { /* garbled: treated as no record */ }
      const age = now - statSync(dir).mtimeMs;
      const state = owner && Number.isInteger(owner.pid) ? ownerState(owner, here) : 'unknown';
      const stale = state === 'dead' || (state === 'unknown' && age > (owner ? DAY_MS : HOUR_MS));
      if (stale) {
        rmSync(dir, { recursive: true, force: true });
        removed.push(dir);
      }
    } catch { /* another process removed it */ }
  }
  return removed;
}
