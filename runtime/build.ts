/**
 * Build an addon from a set of generated kernel sources, through a content-addressed cache.
 *
 * The key hashes every input of the build: the native sources and headers, the kernel sources,
 * the build options and the platform. An entry is built in a private temporary folder and renamed
 * into place in one step, so a build killed halfway leaves no entry (only a temporary folder that
 * later builds clean up), and two processes building the same key both succeed: the first rename
 * wins, the second sees the entry and drops its own copy.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { KvforgeError } from '../codegen/diagnostics.ts';
import { cacheRoot, NATIVE_DIR } from './paths.ts';

const require = createRequire(import.meta.url);

export interface BuildOptions {
  /** -march=native (default true): the addon is for this machine. */
  readonly nativeArch?: boolean;
  /** Parallel compile jobs. @defaultValue number of CPUs */
  readonly jobs?: number;
  /** Print the compiler's output as it goes. */
  readonly verbose?: boolean;
  /**
   * Compile .cu kernels with nvcc when it is on PATH (default true). False builds only their
   * emulated form, which is all the CPU can run: much faster to build, as the test suite does.
   */
  readonly nvcc?: boolean;
  /** AddressSanitizer + UBSan build (node must preload libasan). @defaultValue env KVFORGE_SANITIZE=1 */
  readonly sanitize?: boolean;
}

export interface BuiltAddon {
  readonly path: string;
  readonly key: string;
  /** True when the cache already had it. */
  readonly cached: boolean;
  readonly seconds: number;
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listFiles(p) : [p];
  }).sort();
}

/** Native inputs that every addon is built from (the test harness folder is not one). */
function nativeInputs(): string[] {
  return [path.join(NATIVE_DIR, 'CMakeLists.txt'), ...listFiles(path.join(NATIVE_DIR, 'include')), ...listFiles(path.join(NATIVE_DIR, 'src'))];
}

export function buildKey(kernels: ReadonlyMap<string, string>, opts: BuildOptions): string {
  const h = createHash('sha256');
  h.update(`kvforge-addon v1 ${process.platform} ${process.arch} native=${opts.nativeArch ?? true} nvcc=${opts.nvcc ?? true} sanitize=${opts.sanitize ?? process.env.KVFORGE_SANITIZE === '1'}\n`);
  for (const f of nativeInputs()) h.update(`${path.relative(NATIVE_DIR, f)}\0`).update(readFileSync(f)).update('\0');
  for (const [name, text] of [...kernels].sort(([a], [b]) => a.localeCompare(b))) h.update(`kernel ${name}\0${text}\0`);
  return h.digest('hex').slice(0, 24);
}

/**
 * Build (or fetch from the cache) an addon holding `kernels` (file name -> C++ source).
 */
export async function buildAddon(kernels: ReadonlyMap<string, string>, opts: BuildOptions = {}): Promise<BuiltAddon> {
  const t0 = performance.now();
  const key = buildKey(kernels, opts);
  const root = path.join(cacheRoot(), 'addons');
  const entry = path.join(root, key);
  const addonPath = path.join(entry, 'kvforge.node');
  if (existsSync(path.join(entry, 'meta.json'))) return { path: addonPath, key, cached: true, seconds: 0 };

  mkdirSync(root, { recursive: true });
  cleanStaleTemps(root);
  const tmp = path.join(root, `.tmp-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const kernelDir = path.join(tmp, 'kernels');
  const buildDir = path.join(tmp, 'build');
  const out = path.join(tmp, 'entry');
  mkdirSync(kernelDir, { recursive: true });
  mkdirSync(out, { recursive: true });
  for (const [name, text] of kernels) writeFileSync(path.join(kernelDir, name), text);
  try {
    const args = [
      require.resolve('cmake-js/bin/cmake-js'), 'build', '-d', NATIVE_DIR, '-O', buildDir,
      '--parallel', String(opts.jobs ?? os.availableParallelism()),
      `--CDKVFORGE_KERNEL_DIR=${kernelDir}`, `--CDKVFORGE_NATIVE_ARCH=${opts.nativeArch === false ? 'OFF' : 'ON'}`,
      `--CDKVFORGE_CUDA=${opts.nvcc === false ? 'OFF' : 'ON'}`,
      `--CDKVFORGE_SANITIZE=${opts.sanitize ?? process.env.KVFORGE_SANITIZE === '1' ? 'ON' : 'OFF'}`,
    ];
    const log = await run(process.execPath, args, opts.verbose ?? false);
    writeFileSync(path.join(out, 'build.log'), log);
    const built = findAddon(buildDir);
    cpSync(built, path.join(out, 'kvforge.node'));
    writeFileSync(path.join(out, 'meta.json'), JSON.stringify({ key, kernels: [...kernels.keys()].sort() }, null, 2));
    try {
      renameSync(out, entry);
    } catch (e) {
      // Another process finished the same key first: its entry is as good as ours.
      if (!existsSync(path.join(entry, 'meta.json'))) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { path: addonPath, key, cached: false, seconds: (performance.now() - t0) / 1000 };
}

function findAddon(buildDir: string): string {
  const hit = listFiles(buildDir).find((f) => path.basename(f) === 'kvforge.node');
  if (!hit) throw new KvforgeError('KVF4001', `the build finished but produced no kvforge.node under ${buildDir}`);
  return hit;
}

// Temporary folders of builds that were killed: remove them once they are clearly abandoned.
function cleanStaleTemps(root: string): void {
  const hour = 3600_000;
  for (const name of readdirSync(root)) {
    if (!name.startsWith('.tmp-')) continue;
    const p = path.join(root, name);
    try {
      if (Date.now() - statSync(p).mtimeMs > hour) rmSync(p, { recursive: true, force: true });
    } catch { /* another process removed it */ }
  }
}

function run(cmd: string, args: string[], verbose: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const take = (chunk: Buffer) => {
      log += chunk.toString();
      if (verbose) process.stderr.write(chunk);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => reject(new KvforgeError('KVF4001', `could not start cmake-js: ${e.message}`, { hint: 'run npm install' })));
    child.on('close', (code) => {
      if (code === 0) return resolve(log);
      const errors = log.split('\n').filter((l) => /error|Error|CMake Error/.test(l)).slice(0, 20).join('\n');
      reject(new KvforgeError('KVF4001', `cmake-js exited with code ${code}\n${errors || log.slice(-4000)}`, {
        hint: 'a generated kernel failed to compile: this is a bug in kvforge unless you edited runtime/native',
      }));
    });
  });
}
