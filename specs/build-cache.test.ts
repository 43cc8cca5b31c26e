/**
 * The build cache with real builds, in a private cache folder: every kind of corrupt entry is
 * rebuilt with one line on stderr (a truncated addon used to kill the process with SIGBUS, an
 * empty one gave KVF4003 forever, a bit flip was loaded silently), an unusable cache folder is
 * KVF4005, a kernel that fails to compile is blamed on that kernel with its source kept, and
 * variants after the first link kvforge's core library from the cache.
 * Kernel sets are tiny (none, or a one-line file) so each build is a link, not a compile.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { buildAddon, loadBuiltAddon, type BuildEvent } from '../runtime/build/addon.ts';
import { sealEntry, verifyEntry } from '../runtime/build/entry.ts';
import { currentOwner } from '../runtime/build/temps.ts';

const OPTS = { nvcc: false } as const;
const NONE = new Map<string, string>();
let cache: string;
let saved: string | undefined;
let entry: string;
let node: string;

beforeAll(async () => {
  saved = process.env.KVFORGE_CACHE_DIR;
  cache = mkdtempSync(path.join(os.tmpdir(), 'kvforge-cache-test-'));
  process.env.KVFORGE_CACHE_DIR = cache;
  const b = await buildAddon(NONE, OPTS);
  node = b.path;
  entry = path.dirname(b.path);
});
afterAll(() => {
  if (saved === undefined) delete process.env.KVFORGE_CACHE_DIR;
  else process.env.KVFORGE_CACHE_DIR = saved;
  rmSync(cache, { recursive: true, force: true });
});

/** Run `f`, returning what it wrote to stderr. */
async function stderrOf<T>(f: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const value = await f();
    return { value, lines: spy.mock.calls.map((c) => String(c[0])).join('').split('\n').filter(Boolean) };
  } finally {
    spy.mockRestore();
  }
}

/** Whether a fresh process can load the addon and list its kernels (this one never dlopens what a test damages). */
function loadsInChild(file: string): { ok: boolean; signal: string | null; out: string } {
  const r = spawnSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(file)}).listKernels()))`], { encoding: 'utf8' });
  return { ok: r.status === 0, signal: r.signal, out: r.stdout.trim() };
}

/** Replace a file by a new one: a new inode, so no process that mapped the old one is hurt. */
function replace(file: string, data: string | Buffer): void {
  rmSync(file);
  writeFileSync(file, data);
}

const corruptions: Array<[string, () => void, RegExp]> = [
  ['a truncated kvforge.node (was SIGBUS)', () => { const b = readFileSync(node); replace(node, b.subarray(0, b.length >> 1)); }, /kvforge\.node is \d+ bytes, meta\.json records \d+/],
  ['an empty kvforge.node (was KVF4003 forever)', () => replace(node, ''), /kvforge\.node is 0 bytes/],
  ['a bit flip in kvforge.node (was loaded silently)', () => { const b = Buffer.from(readFileSync(node)); b[b.length >> 1] ^= 0x10; replace(node, b); }, /SHA-256/],
  ['a missing meta.json', () => rmSync(path.join(entry, 'meta.json')), /meta\.json is missing/],
  ['a garbage meta.json', () => writeFileSync(path.join(entry, 'meta.json'), '\u0000{garbage'), /meta\.json is unreadable/],
];

describe('corrupt cache entries are moved aside and rebuilt, with one line', () => {
  for (const [what, corrupt, reason] of corruptions) {
    it(what, async () => {
      corrupt();
      const before = readdirSync(path.join(cache, 'addons')).filter((n) => n.startsWith('.corrupt-')).length;
      const { value, lines } = await stderrOf(() => buildAddon(NONE, OPTS));
      expect(value.cached).toBe(false);
      expect(value.coreCached).toBe(true);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^kvforge: cache entry .* is corrupt \(.*\); moved it to .*\.corrupt-.* and rebuilding$/);
      expect(lines[0]).toMatch(reason);
      expect(readdirSync(path.join(cache, 'addons')).filter((n) => n.startsWith('.corrupt-'))).toHaveLength(before + 1);
      expect(verifyEntry(entry, value.key, ['kvforge.node'])).toEqual({ ok: true });
      expect(loadsInChild(value.path)).toEqual({ ok: true, signal: null, out: '[]' });
    });
  }

  it('a rebuild removes the build folder of a dead builder and keeps a live one', async () => {
    const root = path.join(cache, 'addons');
    const dead = path.join(root, '.tmp-feed-4194305-00000000');
    const live = path.join(root, `.tmp-beef-${process.pid}-00000000`);
    for (const [dir, pid] of [[dead, 2 ** 22 + 1], [live, process.pid]] as const) {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'owner.json'), JSON.stringify({ ...currentOwner(), pid }));
    }
    replace(node, '');
    await stderrOf(() => buildAddon(NONE, OPTS));
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    rmSync(live, { recursive: true });
  });

  it('a cached build says nothing and builds nothing', async () => {
    const events: BuildEvent[] = [];
    const { value, lines } = await stderrOf(() => buildAddon(NONE, { ...OPTS, onProgress: (e) => events.push(e) }));
    expect(value.cached).toBe(true);
    expect(lines).toEqual([]);
    expect(events.map((e) => e.kind)).toEqual(['cached']);
  });
});

describe('an unusable cache folder', () => {
  it('KVFORGE_CACHE_DIR naming a file is KVF4005 with the path and what to do', async () => {
    const file = path.join(cache, 'a-file');
    writeFileSync(file, '');
    process.env.KVFORGE_CACHE_DIR = file;
    try {
      const err = await buildAddon(NONE, OPTS).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(KvforgeError);
      expect((err as KvforgeError).code).toBe('KVF4005');
      expect((err as KvforgeError).message).toContain(`the build cache folder ${file} cannot be used: ${file} is a file`);
      expect((err as KvforgeError).hint).toMatch(/set KVFORGE_CACHE_DIR to a writable folder/);
    } finally {
      process.env.KVFORGE_CACHE_DIR = cache;
    }
  });
});

describe('variants link the cached core and compile only their own files', () => {
  it("a new kernel set builds with the core from the cache, and its file's events are reported", async () => {
    const events: BuildEvent[] = [];
    const b = await buildAddon(new Map([['marker_1.cpp', 'int kvforge_test_marker = 1;\n']]), { ...OPTS, onProgress: (e) => events.push(e) });
    expect(b.cached).toBe(false);
    expect(b.coreCached).toBe(true);
    expect(events.filter((e) => e.kind === 'start').map((e) => e.kind === 'start' && e.what)).toEqual(['addon']);
    expect(events.filter((e) => e.kind === 'compiled').map((e) => e.kind === 'compiled' && e.file)).toContain('marker_1.cpp');
    expect(events.at(-1)).toMatchObject({ kind: 'done', what: 'addon', ok: true });
    expect(loadsInChild(b.path).ok).toBe(true);
  });
});

describe('a failed build', () => {
  it('blames the kernel that failed, names its variant, and keeps its source and the log', async () => {
    const src = '// a kernel that does not compile\nint broken( {\n';
    const err = await buildAddon(new Map([['broken_1.cpp', src]]), OPTS, new Map([['broken_1.cpp', 'variant "broken"']]))
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(KvforgeError);
    const e = err as KvforgeError;
    expect(e.code).toBe('KVF4006');
    expect(e.message).toMatch(/the generated kernel broken_1\.cpp \(from variant "broken"\), source kept at \S+broken_1\.cpp failed to compile/);
    const kept = /source kept at (\S+broken_1\.cpp)/.exec(e.message)![1]!;
    expect(readFileSync(kept, 'utf8')).toBe(src);
    const log = /build log: (\S+)/.exec(e.message)![1]!;
    expect(readFileSync(log, 'utf8')).toMatch(/error/);
    // Every cache path the message names exists: none points into a deleted build folder.
    for (const p of e.message.match(new RegExp(`${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^\\s:'"()]*`, 'g')) ?? []) expect(existsSync(p), p).toBe(true);
    expect(e.message).not.toContain('.tmp-');
    expect(readdirSync(path.join(cache, 'addons')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });
});

describe('an entry that verifies but cannot be loaded', () => {
  // Last: this loads the rebuilt addon into this process.
  it('is moved aside and rebuilt once, with one line', async () => {
    replace(node, 'this is not a shared object');
    sealEntry(entry, path.basename(entry)); // consistent with its meta: only dlopen can tell
    const { value, lines } = await stderrOf(() => loadBuiltAddon(NONE, OPTS));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/is corrupt \(it cannot be loaded: could not load the addon .*\); moved it to/);
    expect(value.built.cached).toBe(false);
    expect(value.native.listKernels()).toEqual([]);
  });
});
