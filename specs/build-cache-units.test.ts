/**
 * The build cache's parts, without building: keys over injected toolchain facts, the nvcc policy,
 * the cache location, entry verification, the entry store (with a fake build), stale build
 * folders, failure blame, and the progress renderer.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { ensureCacheFolder } from '../runtime/build/cacheDir.ts';
import { compiledFile } from '../runtime/build/cmake.ts';
import { pruneCorrupt, quarantine, sealEntry, verifyEntry } from '../runtime/build/entry.ts';
import { blame, failedUnits } from '../runtime/build/failure.ts';
import type { ToolchainFacts } from '../runtime/build/facts.ts';
import { addonKey, coreKey } from '../runtime/build/key.ts';
import { cudaDeviceAnswers, resolveBuild } from '../runtime/build/options.ts';
import { terminalProgress, type BuildEvent } from '../runtime/build/progress.ts';
import { cachedEntry, type Entry } from '../runtime/build/store.ts';
import { cleanStaleBuildFolders, currentOwner, makeBuildFolder, ownerState } from '../runtime/build/temps.ts';
import { cacheRoot } from '../runtime/build/paths.ts';

const FACTS: ToolchainFacts = {
  platform: 'linux x64', cxx: 'c++: c++ (Debian 12.2.0-14) 12.2.0', nvcc: 'none', cpuTarget: '#define __AVX2__ 1\n#define __AVX512F__ 1',
  cudaHeaders: '/usr/local/cuda 13000', cmake: 'cmake version 3.25.1', napi: 'napi 8 node-addon-api 8.5.0 node-api-headers 1.5.0', kvforge: '0.1.0',
};
const NATIVE = new Map([['CMakeLists.txt', Buffer.from('project(kvforge)')], ['src/addon.cpp', Buffer.from('int x;')]]);
const DEFINES = resolveBuild({ nvcc: false }).defines;

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'kvforge-units-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe('cache keys cover what the binary depends on', () => {
  const base = coreKey(NATIVE, DEFINES, FACTS);
  const changed: Array<[string, Partial<ToolchainFacts>]> = [
    ['compiler version', { cxx: 'c++: c++ (Debian 13.1.0) 13.1.0' }],
    ['nvcc version', { nvcc: 'Cuda compilation tools, release 12.4' }],
    ['CPU features -march=native resolves to', { cpuTarget: '#define __AVX2__ 1' }],
    ['node-api version', { napi: 'napi 9 node-addon-api 8.5.0 node-api-headers 1.5.0' }],
    ['kvforge version', { kvforge: '0.2.0' }],
    ['platform', { platform: 'darwin arm64' }],
    ['CUDA headers', { cudaHeaders: 'none' }],
    ['cmake version', { cmake: 'cmake version 3.31.0' }],
  ];
  for (const [what, f] of changed) it(`the core key changes with the ${what}`, () => expect(coreKey(NATIVE, DEFINES, { ...FACTS, ...f })).not.toBe(base));

  it('and with every build option that reaches cmake, but not with jobs, verbose or progress', () => {
    expect(coreKey(NATIVE, resolveBuild({ nvcc: true }).defines, FACTS)).not.toBe(base);
    expect(coreKey(NATIVE, resolveBuild({ nvcc: false, nativeArch: false }).defines, FACTS)).not.toBe(base);
    expect(coreKey(NATIVE, resolveBuild({ nvcc: false, sanitize: true }).defines, FACTS)).not.toBe(base);
    expect(coreKey(NATIVE, resolveBuild({ nvcc: false, jobs: 1, verbose: true, onProgress: () => {} }).defines, FACTS)).toBe(base);
  });

  it('and with any native source', () => {
    expect(coreKey(new Map([...NATIVE, ['src/addon.cpp', Buffer.from('int y;')]]), DEFINES, FACTS)).not.toBe(base);
    expect(coreKey(new Map([...NATIVE, ['include/kvforge/new.hpp', Buffer.from('')]]), DEFINES, FACTS)).not.toBe(base);
  });

  it('an addon key covers its core key and its kernels (names and text), not their order', () => {
    const k = new Map([['a.cpp', 'A'], ['b.cu', 'B']]);
    const key = addonKey(base, k);
    expect(addonKey(base, new Map([['b.cu', 'B'], ['a.cpp', 'A']]))).toBe(key);
    expect(addonKey(coreKey(NATIVE, DEFINES, { ...FACTS, kvforge: '9' }), k)).not.toBe(key);
    expect(addonKey(base, new Map([['a.cpp', 'A!'], ['b.cu', 'B']]))).not.toBe(key);
    expect(addonKey(base, new Map([['a2.cpp', 'A'], ['b.cu', 'B']]))).not.toBe(key);
    // Length-prefixed fields: moving text across the name/content boundary changes the key.
    expect(addonKey(base, new Map([['ab', 'c']]))).not.toBe(addonKey(base, new Map([['a', 'bc']])));
  });
});

describe('nvcc only when a CUDA device answers or the user asks', () => {
  it('unset: nvcc exactly when a device answers; true/false win over the probe', () => {
    expect(resolveBuild({}, () => false).defines.KVFORGE_CUDA).toBe('OFF');
    expect(resolveBuild({}, () => true).defines.KVFORGE_CUDA).toBe('ON');
    expect(resolveBuild({ nvcc: true }, () => false).defines.KVFORGE_CUDA).toBe('ON');
    expect(resolveBuild({ nvcc: false }, () => true).defines.KVFORGE_CUDA).toBe('OFF');
  });

  it('a device answers when the driver has a device node and CUDA_VISIBLE_DEVICES does not hide them all', () => {
    const dev = path.join(tmp, 'dev');
    mkdirSync(dev);
    writeFileSync(path.join(dev, 'nvidiactl'), '');
    expect(cudaDeviceAnswers({}, dev)).toBe(false); // the control node alone: driver, no GPU
    writeFileSync(path.join(dev, 'nvidia0'), '');
    expect(cudaDeviceAnswers({}, dev)).toBe(true);
    expect(cudaDeviceAnswers({ CUDA_VISIBLE_DEVICES: '' }, dev)).toBe(false);
    expect(cudaDeviceAnswers({ CUDA_VISIBLE_DEVICES: '-1' }, dev)).toBe(false);
    expect(cudaDeviceAnswers({ CUDA_VISIBLE_DEVICES: '0' }, dev)).toBe(true);
    expect(cudaDeviceAnswers({}, path.join(tmp, 'no-dev'))).toBe(false);
  });
});

describe('cache location', () => {
  it("is the user's cache folder, never the package; KVFORGE_CACHE_DIR overrides", () => {
    expect(cacheRoot({ KVFORGE_CACHE_DIR: 'rel/dir' })).toBe(path.resolve('rel/dir'));
    expect(cacheRoot({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/kvforge');
    expect(cacheRoot({ XDG_CACHE_HOME: 'relative' })).toBe(path.join(os.homedir(), '.cache', 'kvforge'));
    expect(cacheRoot({})).toBe(path.join(os.homedir(), '.cache', 'kvforge'));
  });

  it('a cache folder that is a file, or under a file, is KVF4005 naming the path and KVFORGE_CACHE_DIR', () => {
    const file = path.join(tmp, 'cache');
    writeFileSync(file, 'not a folder');
    for (const dir of [file, path.join(file, 'addons')]) {
      let err: unknown;
      try {
        ensureCacheFolder(dir);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KvforgeError);
      expect((err as KvforgeError).code).toBe('KVF4005');
      expect((err as KvforgeError).message).toContain(dir);
      expect((err as KvforgeError).message).toMatch(/is a file/);
      expect((err as KvforgeError).hint).toMatch(/KVFORGE_CACHE_DIR/);
      expect((err as KvforgeError).stack).not.toMatch(/\n\s+at /); // a user error: no stack
    }
  });
});

function entryWith(files: Record<string, string | Buffer>, key = 'k1'): string {
  const dir = path.join(tmp, 'addons', key);
  mkdirSync(dir, { recursive: true });
  for (const [n, t] of Object.entries(files)) writeFileSync(path.join(dir, n), t);
  sealEntry(dir, key);
  return dir;
}

/** Replace a file by a new one (a new inode, as a careless tool would; never truncate in place). */
function replace(file: string, data: string | Buffer): void {
  rmSync(file);
  writeFileSync(file, data);
}

describe('entry verification', () => {
  const bin = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) & 255));

  it('a sealed entry verifies; every kind of damage is caught with its reason', () => {
    const dir = entryWith({ 'kvforge.node': bin, 'build.log': 'ok' });
    expect(verifyEntry(dir, 'k1', ['kvforge.node'])).toEqual({ ok: true });
    expect(verifyEntry(dir, 'other-key', ['kvforge.node'])).toMatchObject({ ok: false, reason: /not a meta record/ });
    expect(verifyEntry(dir, 'k1', ['libkvforge_core.a'])).toMatchObject({ ok: false, reason: /records no libkvforge_core\.a/ });
    const node = path.join(dir, 'kvforge.node');
    replace(node, bin.subarray(0, 1000));
    expect(verifyEntry(dir, 'k1', ['kvforge.node'])).toMatchObject({ ok: false, reason: 'kvforge.node is 1000 bytes, meta.json records 4096' });
    replace(node, '');
    expect(verifyEntry(dir, 'k1', ['kvforge.node'])).toMatchObject({ ok: false, reason: /0 bytes/ });
    const flipped = Buffer.from(bin);
    flipped[2000] ^= 4;
    replace(node, flipped);
    expect(verifyEntry(dir, 'k1', ['kvforge.node'])).toMatchObject({ ok: false, reason: /SHA-256/ });
    replace(node, bin);
    expect(verifyEntry(dir, 'k1', ['kvforge.node'])).toEqual({ ok: true });
    rmSync(path.join(dir, 'build.log'));
    expect(verifyEntry(dir, 'k1', ['kvforge.node'])).toMatchObject({ ok: false, reason: /missing/ });
    writeFileSync(path.join(dir, 'meta.json'), '{"format": "kvforge-cache v2", "ke');
    expect(verifyEntry(dir, 'k1', ['kvforge.node'])).toMatchObject({ ok: false, reason: /meta\.json is unreadable/ });
    writeFileSync(path.join(dir, 'meta.json'), 'null');
    expect(verifyEntry(dir, 'k1', ['kvforge.node'])).toMatchObject({ ok: false, reason: /not a meta record/ });
    rmSync(path.join(dir, 'meta.json'));
    expect(verifyEntry(dir, 'k1', ['kvforge.node'])).toMatchObject({ ok: false, reason: 'meta.json is missing' });
  });

  it('a bad entry is moved aside with one line, never deleted; week-old ones are pruned', () => {
    const dir = entryWith({ 'kvforge.node': bin });
    const lines: string[] = [];
    const aside = quarantine(dir, 'testing', (l) => lines.push(l))!;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${dir} is corrupt (testing); moved it to ${aside}`);
    expect(readFileSync(path.join(aside, 'kvforge.node'))).toEqual(bin);
    expect(quarantine(dir, 'gone already', (l) => lines.push(l))).toBeUndefined();
    const root = path.dirname(dir);
    pruneCorrupt(root);
    expect(readdirSync(root)).toEqual([path.basename(aside)]);
    pruneCorrupt(root, Date.now() + 8 * 24 * 3600_000);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('the entry store (a fake build)', () => {
  const events: BuildEvent[] = [];
  let builds = 0;
  const entry = (produce?: Entry['produce']): Entry => ({
    kind: 'addons', key: 'k1', required: ['kvforge.node'], kernels: ['a.cpp'], files: ['a.cpp'], info: null,
    produce: produce ?? (async (_t, out) => {
      builds++;
      writeFileSync(path.join(out, 'kvforge.node'), `binary ${builds}`);
    }),
  });
  beforeEach(() => {
    events.length = 0;
    builds = 0;
  });

  it('builds once, then serves the verified entry without building', async () => {
    expect((await cachedEntry(tmp, entry(), (e) => events.push(e))).cached).toBe(false);
    expect((await cachedEntry(tmp, entry(), (e) => events.push(e))).cached).toBe(true);
    expect(builds).toBe(1);
    expect(events.map((e) => e.kind)).toEqual(['start', 'done', 'cached']);
  });

  it('an entry path that is a file is moved aside and rebuilt', async () => {
    mkdirSync(path.join(tmp, 'addons'));
    writeFileSync(path.join(tmp, 'addons', 'k1'), 'junk');
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect((await cachedEntry(tmp, entry(), () => {})).cached).toBe(false);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/is corrupt \(it is not a folder\); moved it to .*\.corrupt-k1-/);
    } finally {
      err.mockRestore();
    }
    expect(verifyEntry(path.join(tmp, 'addons', 'k1'), 'k1', ['kvforge.node'])).toEqual({ ok: true });
  });

  it('another process that placed a bad entry first: ours replaces it; a good one: ours is dropped', async () => {
    const dest = path.join(tmp, 'addons', 'k1');
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await cachedEntry(tmp, entry(async (_t, out) => {
        writeFileSync(path.join(out, 'kvforge.node'), 'ours');
        mkdirSync(dest); // the racing builder's entry lands while we build: a bad one
        writeFileSync(path.join(dest, 'kvforge.node'), 'theirs, unsealed');
      }), () => {});
      expect(readFileSync(path.join(dest, 'kvforge.node'), 'utf8')).toBe('ours');
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/placed by another build: meta\.json is missing/);
      rmSync(path.join(tmp, 'addons'), { recursive: true });
      await cachedEntry(tmp, entry(async (_t, out) => {
        writeFileSync(path.join(out, 'kvforge.node'), 'ours');
        mkdirSync(dest);
        writeFileSync(path.join(dest, 'kvforge.node'), 'theirs');
        sealEntry(dest, 'k1');
      }), () => {});
      expect(readFileSync(path.join(dest, 'kvforge.node'), 'utf8')).toBe('theirs');
    } finally {
      err.mockRestore();
    }
    expect(readdirSync(path.join(tmp, 'addons')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('a failed build leaves no entry and no build folder', async () => {
    await expect(cachedEntry(tmp, entry(async () => {
      throw new Error('compiler said no');
    }), (e) => events.push(e))).rejects.toThrow('compiler said no');
    expect(readdirSync(path.join(tmp, 'addons'))).toEqual([]);
    expect(events.at(-1)).toMatchObject({ kind: 'done', ok: false });
  });
});

describe('stale build folders', () => {
  // Above the largest pid_max Linux allows (2^22), so no process has it.
  const DEAD_PID = 2 ** 22 + 1;

  it("a dead builder's folder is removed at once; a live builder's is kept", () => {
    const root = path.join(tmp, 'addons');
    mkdirSync(root);
    const live = makeBuildFolder(root, 'k1');
    const me = currentOwner();
    const dead = path.join(root, `.tmp-k2-${DEAD_PID}-00000000`);
    mkdirSync(dead);
    writeFileSync(path.join(dead, 'owner.json'), JSON.stringify({ ...me, pid: DEAD_PID }));
    // Our own pid, but a different start time: the pid was reused, the builder is gone.
    const reused = path.join(root, `.tmp-k3-${process.pid}-00000000`);
    mkdirSync(reused);
    writeFileSync(path.join(reused, 'owner.json'), JSON.stringify({ ...me, start: '1' }));
    const rebooted = path.join(root, '.tmp-k4-1-00000000');
    mkdirSync(rebooted);
    writeFileSync(path.join(rebooted, 'owner.json'), JSON.stringify({ ...me, boot: 'another-boot' }));
    const otherHost = path.join(root, '.tmp-k5-1-00000000');
    mkdirSync(otherHost);
    writeFileSync(path.join(otherHost, 'owner.json'), JSON.stringify({ ...me, host: 'elsewhere' }));
    const legacyYoung = path.join(root, '.tmp-k6-1-00000000');
    mkdirSync(legacyYoung);
    const legacyOld = path.join(root, '.tmp-k7-1-00000000');
    mkdirSync(legacyOld);
    const twoHoursAgo = (Date.now() - 2 * 3600_000) / 1000;
    utimesSync(legacyOld, twoHoursAgo, twoHoursAgo);

    expect(ownerState(me)).toBe('alive');
    expect(cleanStaleBuildFolders(root).sort()).toEqual([dead, reused, rebooted, legacyOld].sort());
    expect(readdirSync(root).sort()).toEqual([path.basename(live), path.basename(otherHost), path.basename(legacyYoung)].sort());
    expect(statSync(path.join(live, 'owner.json')).isFile()).toBe(true);
    // Another host's folder: only age tells; it goes after a day.
    expect(cleanStaleBuildFolders(root, Date.now() + 25 * 3600_000)).toContain(otherHost);
  });
});

describe('failed builds are blamed on what failed', () => {
  const kernels = ['alibi_12.cpp', 'causal_34.cu'];
  const core = ['addon.cpp', 'thread_pool.cpp'];

  it('a generated kernel (C++, or CUDA through its emulator wrapper)', () => {
    const cpp = "/tmp/x/kernels/alibi_12.cpp:20:5: error: 'foo' was not declared in this scope\n" +
      'gmake[2]: *** [CMakeFiles/kvforge.dir/build.make:90: CMakeFiles/kvforge.dir/tmp/x/kernels/alibi_12.cpp.o] Error 1\n';
    expect(blame(cpp, kernels, core)).toEqual({ who: 'kernel', files: ['alibi_12.cpp'] });
    const emu = 'In file included from /tmp/x/build/emu/causal_34.emu.cpp:2:\n/tmp/x/kernels/causal_34.cu:7:1: error: expected\n' +
      'gmake[2]: *** [CMakeFiles/kvforge.dir/build.make:104: CMakeFiles/kvforge.dir/emu/causal_34.emu.cpp.o] Error 1\n';
    expect(blame(emu, kernels, core)).toEqual({ who: 'kernel', files: ['causal_34.cu'] });
    // An error inside a kvforge header, instantiated by a kernel: the kernel's unit failed.
    const header = '/pkg/runtime/native/include/kvforge/cpu/forward.hpp:40:3: error: no match\n' +
      'gmake[2]: *** [CMakeFiles/kvforge.dir/build.make:90: CMakeFiles/kvforge.dir/tmp/x/kernels/alibi_12.cpp.o] Error 1\n';
    expect(blame(header, kernels, core)).toEqual({ who: 'kernel', files: ['alibi_12.cpp'] });
    const ninja = '[1/3] Building CXX object CMakeFiles/kvforge.dir/kvforge_module.cpp.o\n' +
      'FAILED: CMakeFiles/kvforge.dir/tmp/x/kernels/alibi_12.cpp.o \n/usr/bin/c++ -O3 -c /tmp/x/kernels/alibi_12.cpp\n' +
      'In file included from /tmp/x/kernels/alibi_12.cpp:6:\n/pkg/runtime/native/include/kvforge/cpu/forward.hpp:40:3: error: no match\n';
    expect(blame(ninja, kernels, core)).toEqual({ who: 'kernel', files: ['alibi_12.cpp'] });
    const nvcc = '/tmp/x/kernels/causal_34.cu(12): error: identifier "bar" is undefined\n';
    expect(failedUnits(nvcc)).toEqual(['causal_34.cu']);
  });

  it("kvforge's own sources, and everything else (configure, link) as the toolchain", () => {
    const src = '/pkg/runtime/native/src/thread_pool.cpp:3:10: fatal error: x.h: No such file or directory\n' +
      'gmake[2]: *** [CMakeFiles/kvforge.dir/build.make:76: CMakeFiles/kvforge.dir/src/thread_pool.cpp.o] Error 1\n';
    expect(blame(src, kernels, core)).toEqual({ who: 'kvforge', files: ['thread_pool.cpp'] });
    expect(blame("CMake Error at CMakeLists.txt:9 (project):\n  No CMAKE_CXX_COMPILER could be found.\n", kernels, core)).toEqual({ who: 'toolchain' });
    expect(blame('/usr/bin/ld: cannot find -lpthread\ncollect2: error: ld returned 1 exit status\n', kernels, core)).toEqual({ who: 'toolchain' });
  });

  it('progress reads which file the compiler started on', () => {
    expect(compiledFile('[ 50%] Building CXX object CMakeFiles/kvforge.dir/tmp/a/kernels/alibi_12.cpp.o')).toBe('alibi_12.cpp');
    expect(compiledFile('[ 60%] Building CXX object CMakeFiles/kvforge.dir/emu/causal_34.emu.cpp.o')).toBe('causal_34.cu (emulated)');
    expect(compiledFile('[ 70%] Building CUDA object CMakeFiles/kvforge.dir/tmp/a/kernels/causal_34.cu.o')).toBe('causal_34.cu');
    expect(compiledFile('[100%] Linking CXX shared module Release/kvforge.node')).toBeUndefined();
  });
});

describe('progress on a terminal and in a log', () => {
  const build: BuildEvent[] = [
    { kind: 'start', what: 'addon', key: 'abc', kernels: ['x.cpp', 'y.cu'], files: ['x.cpp', 'y.cu'] },
    { kind: 'compiled', what: 'addon', file: 'x.cpp', done: 1, total: 3, seconds: 0.1 },
    { kind: 'compiled', what: 'addon', file: 'y.cu (emulated)', done: 2, total: 3, seconds: 0.2 },
    { kind: 'link', what: 'addon', seconds: 2 },
    { kind: 'done', what: 'addon', key: 'abc', seconds: 2.5, ok: true },
  ];
  const sink = (isTTY: boolean) => {
    let text = '';
    return { isTTY, columns: 80, write: (s: string) => (text += s), get text() { return text; } };
  };

  it('not a TTY: one line when a build starts and one when it ends; nothing for a cached build', () => {
    const s = sink(false);
    const r = terminalProgress(s);
    for (const e of build) r(e);
    r({ kind: 'cached', what: 'addon', key: 'abc', kernels: ['x.cpp'] });
    expect(s.text).toBe('kvforge: building 2 kernel file(s): x.cpp, y.cu (abc)\nkvforge: built the addon abc in 2.5 s\n');
  });

  it('a TTY: one line, rewritten in place, ending in one newline; a cached build writes nothing', () => {
    const s = sink(true);
    const r = terminalProgress(s);
    r({ kind: 'cached', what: 'addon', key: 'abc', kernels: [] });
    expect(s.text).toBe('');
    for (const e of build) r(e);
    expect(s.text.split('\n')).toHaveLength(2);
    expect(s.text).toContain('\r\x1b[Kkvforge: building 2 kernel file(s): x.cpp, y.cu 0.0 s');
    expect(s.text).toContain('\r\x1b[Kkvforge: building addon [1/3] compiling y.cu');
    expect(s.text).toContain('\r\x1b[Kkvforge: building addon [2/3] finishing');
    expect(s.text).toContain('\r\x1b[Kkvforge: linking addon');
    expect(s.text.endsWith('\r\x1b[Kkvforge: built the addon abc in 2.5 s\n')).toBe(true);
  });

  it('a TTY: a core build inside an addon build leaves no timer drawing after both end', () => {
    vi.useFakeTimers();
    try {
      const s = sink(true);
      const r = terminalProgress(s);
      r(build[0]!);
      r({ kind: 'start', what: 'core', key: 'c0', kernels: [], files: ['addon.cpp'] });
      vi.advanceTimersByTime(600);
      r({ kind: 'done', what: 'core', key: 'c0', seconds: 9, ok: true });
      vi.advanceTimersByTime(600);
      for (const e of build.slice(1)) r(e);
      const end = s.text.length;
      vi.advanceTimersByTime(5000);
      expect(s.text.length).toBe(end);
      expect(s.text.split('\n').filter(Boolean).map((l) => l.split('\r\x1b[K').at(-1))).toEqual([
        "kvforge: built kvforge's core library c0 in 9.0 s", 'kvforge: built the addon abc in 2.5 s']);
    } finally {
      vi.useRealTimers();
    }
  });
});
