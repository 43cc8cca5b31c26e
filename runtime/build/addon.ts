/**
 * Build an addon from a set of generated kernel sources, through a content-addressed cache.
 *
 * Two kinds of entry, each in its own folder of the cache: `core/<key>` holds kvforge's core
 * library (runtime/native/src compiled once per toolchain and options), `addons/<key>` an addon
 * (its kernel files compiled and linked with that core). A variant's build therefore compiles only
 * its own kernels. The key of each covers everything its binary depends on (build/key.ts).
 *
 * Entries are built privately and renamed into place (build/store.ts), and used only after their
 * files match the sizes and hashes they were sealed with (build/entry.ts); a bad one is moved
 * aside and built again, with one line on stderr.
 */
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { ensureCacheFolder } from './cacheDir.ts';
import { runCmake } from './cmake.ts';
import { quarantine } from './entry.ts';
import { keepFailure } from './failure.ts';
import { probeToolchain } from './facts.ts';
import { addonKey, coreKey, nativeInputs } from './key.ts';
import { resolveBuild, type BuildOptions, type ResolvedBuild } from './options.ts';
import { progressFor, type BuildEvent } from './progress.ts';
import { cachedEntry } from './store.ts';
import { loadAddon, type NativeAddon } from '../api/native.ts';
import { cacheRoot, NATIVE_DIR } from './paths.ts';

export type { BuildOptions } from './options.ts';
export type { BuildEvent } from './progress.ts';
export { cudaDeviceAnswers } from './options.ts';
export { setDefaultProgress, terminalProgress } from './progress.ts';

export interface BuiltAddon {
  readonly path: string;
  readonly key: string;
  /** True when the cache already had it. */
  readonly cached: boolean;
  /** True when the core library came from the cache (always, for a cached addon). */
  readonly coreCached: boolean;
  readonly seconds: number;
  /** Whether the build asked for nvcc (a device answered, or `nvcc: true`); it is used when CMake finds it. */
  readonly nvcc: boolean;
}

const CORE_LIB = 'libkvforge_core.a';
const ADDON = 'kvforge.node';

function find(dir: string, name: string): string | undefined {
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) {
      const hit = find(p, name);
      if (hit) return hit;
    } else if (d.name === name) return p;
  }
  return undefined;
}

interface Plan {
  readonly root: string;
  readonly build: ResolvedBuild;
  readonly coreKey: string;
  readonly coreFiles: readonly string[];
  readonly emulated: boolean;
}

function plan(opts: BuildOptions): Plan {
  const build = resolveBuild(opts);
  const facts = probeToolchain({ nvcc: build.nvcc, nativeArch: build.nativeArch });
  const native = nativeInputs(NATIVE_DIR);
  const root = cacheRoot();
  ensureCacheFolder(root);
  return {
    root, build, coreKey: coreKey(native, build.defines, facts),
    coreFiles: [...native.keys()].filter((f) => /^src\/[^/]+\.cpp$/.test(f)).map((f) => path.basename(f)),
    emulated: facts.cudaHeaders !== 'none',
  };
}

function failure(p: Plan, key: string, tmp: string, r: { code: number | null; signal: string | null; log: string }, kernelFiles: readonly string[], labels?: ReadonlyMap<string, string>): KvforgeError {
  return keepFailure({ ...r, kernelFiles, labels }, {
    failedRoot: path.join(p.root, 'failed'), key, tmpKernelDir: path.join(tmp, 'kernels'), tmpBuildDir: path.join(tmp, 'build'), coreFiles: p.coreFiles,
  });
}

/** kvforge's core library for these options: built once per toolchain, options and kvforge version. */
async function coreLibrary(p: Plan, opts: BuildOptions, progress: (e: BuildEvent) => void): Promise<{ lib: string; cached: boolean }> {
  const { dir, cached } = await cachedEntry(p.root, {
    kind: 'core', key: p.coreKey, required: [CORE_LIB], kernels: [], files: p.coreFiles, info: { defines: p.build.defines },
    produce: async (tmp, out) => {
      const buildDir = path.join(tmp, 'build');
      const r = await runCmake({
        nativeDir: NATIVE_DIR, buildDir, defines: { ...p.build.defines, KVFORGE_BUILD_CORE: 'ON' }, target: 'kvforge',
        jobs: opts.jobs ?? os.availableParallelism(), verbose: opts.verbose ?? false, what: 'core', total: p.coreFiles.length, progress,
      });
      if (r.code !== 0) throw failure(p, p.coreKey, tmp, r, []);
      const lib = find(buildDir, CORE_LIB);
      if (!lib) throw new KvforgeError('KVF4001', `the core build finished but produced no ${CORE_LIB} under ${buildDir}`);
      cpSync(lib, path.join(out, CORE_LIB));
      writeFileSync(path.join(out, 'build.log'), r.log);
    },
  }, progress);
  return { lib: path.join(dir, CORE_LIB), cached };
}

/**
 * Build (or fetch from the cache) an addon holding `kernels` (file name -> C++ or CUDA source).
 * `labels` says where each kernel file came from (e.g. a variant's name), for a failed build's message.
 */
export async function buildAddon(kernels: ReadonlyMap<string, string>, opts: BuildOptions = {}, labels?: ReadonlyMap<string, string>): Promise<BuiltAddon> {
  const t0 = performance.now();
  const progress = progressFor(opts.onProgress);
  const p = plan(opts);
  const key = addonKey(p.coreKey, kernels);
  const files = [...kernels.keys()].sort();
  const entryDir = path.join(p.root, 'addons', key);
  let coreCached = true;
  const { cached } = await cachedEntry(p.root, {
    kind: 'addons', key, required: [ADDON], kernels: files, files, info: { kernels: files, core: p.coreKey, defines: p.build.defines },
    produce: async (tmp, out) => {
      const core = await coreLibrary(p, opts, progress);
      coreCached = core.cached;
      const kernelDir = path.join(tmp, 'kernels');
      const buildDir = path.join(tmp, 'build');
      mkdirSync(kernelDir);
      for (const [name, text] of kernels) writeFileSync(path.join(kernelDir, name), text);
      const cu = files.filter((f) => f.endsWith('.cu')).length;
      const r = await runCmake({
        nativeDir: NATIVE_DIR, buildDir, defines: { ...p.build.defines, KVFORGE_KERNEL_DIR: kernelDir, KVFORGE_CORE_LIB: core.lib },
        jobs: opts.jobs ?? os.availableParallelism(), verbose: opts.verbose ?? false, what: 'addon', progress,
        total: 1 + files.length - cu + cu * ((p.emulated ? 1 : 0) + (p.build.nvcc ? 1 : 0)),
      });
      if (r.code !== 0) throw failure(p, key, tmp, r, files, labels);
      const built = find(buildDir, ADDON);
      if (!built) throw new KvforgeError('KVF4001', `the build finished but produced no ${ADDON} under ${buildDir}`);
      cpSync(built, path.join(out, ADDON));
      writeFileSync(path.join(out, 'build.log'), r.log);
    },
  }, progress);
  return { path: path.join(entryDir, ADDON), key, cached, coreCached, seconds: (performance.now() - t0) / 1000, nvcc: p.build.nvcc };
}

/**
 * Build (through the cache) and load an addon. A cached entry that verifies but still cannot be
 * loaded (say, built by a toolchain for another libc) is moved aside and built once more; a
 * fresh build that cannot be loaded is KVF4003.
 */
export async function loadBuiltAddon(kernels: ReadonlyMap<string, string>, opts: BuildOptions = {}, labels?: ReadonlyMap<string, string>): Promise<{ built: BuiltAddon; native: NativeAddon }> {
  const built = await buildAddon(kernels, opts, labels);
  try {
    return { built, native: loadAddon(built.path) };
  } catch (e) {
    if (!built.cached || !(e instanceof KvforgeError)) throw e;
    quarantine(path.dirname(built.path), `it cannot be loaded: ${e.detail}`);
    const again = await buildAddon(kernels, opts, labels);
    return { built: again, native: loadAddon(again.path) };
  }
}
