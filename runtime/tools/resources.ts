/**
 * Resource report of generated CUDA kernels: for every __global__ function of every .cu file, at
 * sm_80 (A100) and sm_90 (H100), the registers, static and dynamic shared memory, stack and spills
 * that ptxas reports, and the theoretical occupancy computed by the toolkit's calculator.
 *
 * - Registers, static shared memory, barriers, stack and spills: `nvcc --resource-usage`, compiled
 *   as the addon compiles the file (runtime/native/CMakeLists.txt: -std=c++17 -O3
 *   --expt-relaxed-constexpr), one arch at a time; mangled names demangled with cu++filt or
 *   c++filt and recognised as prefill / decode R=.. / merge / mass (ptxas.ts).
 * - Block size and dynamic shared memory per function: the constexpr values host.cuh launches
 *   with, read through kvforge/cuda/launch_info.cuh by runtime/native/tools/launch_info.cu
 *   (compiled by nvcc against the .cu, then run: it needs no GPU).
 * - Occupancy: runtime/native/tools/occupancy.cpp, cuda_occupancy.h filled with A100 and H100
 *   properties (active blocks per SM, active warps / 64).
 *
 * Every nvcc result is cached under .kvforge-cache/resources by a hash of everything it depends
 * on (the source, the kvforge headers and tools, the flags, nvcc's version), so a warm report
 * compiles nothing. The report itself is deterministic: no timings, a fixed order.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { Writable } from 'node:stream';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { cacheRoot, GENERATED_DIR, NATIVE_DIR } from '../build/paths.ts';
import { classifyKernel, parsePtxasResources, type PtxasFunction } from './ptxas.ts';
import { listFiles } from '../build/key.ts';
import { generatedFiles } from '../api/shipped.ts';

export const REPORT_GENERATOR = 'kvforge-resources 1';
export const ARCHS = ['sm_80', 'sm_90'] as const;
export type Arch = (typeof ARCHS)[number];
/** The device code flags of the addon build (CMakeLists.txt), plus what the report needs. */
export const NVCC_FLAGS = ['-std=c++17', '-O3', '--expt-relaxed-constexpr'] as const;

const INCLUDE_DIR = path.join(NATIVE_DIR, 'include');
const TOOLS_DIR = path.join(NATIVE_DIR, 'tools');

export interface ResourceOptions {
  /** nvcc to use. @defaultValue findNvcc() */
  readonly nvcc?: string;
  /** Parallel nvcc processes. @defaultValue 2 */
  readonly jobs?: number;
  /** Ignore cached nvcc results (they are still written). */
  readonly fresh?: boolean;
  /** Progress lines (compiles, cache hits, with seconds): not part of the report. */
  readonly log?: (line: string) => void;
}

export interface DeviceInfo {
  readonly arch: Arch;
  readonly name: string;
  readonly sms: number;
  readonly regsPerSm: number;
  readonly regsPerBlock: number;
  readonly smemPerSm: number;
  readonly smemPerBlock: number;
  readonly smemPerBlockOptIn: number;
  readonly reservedSmemPerBlock: number;
  readonly maxThreadsPerSm: number;
  readonly maxThreadsPerBlock: number;
}

export interface FunctionResources {
  /** `prefill`, `decode R=16`, `merge`, `mass`. */
  readonly function: string;
  readonly role: 'prefill' | 'decode' | 'merge' | 'mass';
  /** Decode: rows per slice (template argument R); else null. */
  readonly rows: number | null;
  readonly arch: Arch;
  readonly registers: number;
  readonly staticSmem: number;
  readonly dynamicSmem: number;
  readonly threads: number;
  readonly barriers: number;
  readonly stackFrame: number;
  readonly spillStores: number;
  readonly spillLoads: number;
  readonly blocksPerSm: number;
  readonly activeWarps: number;
  readonly maxWarps: number;
  /** activeWarps / maxWarps. */
  readonly occupancy: number;
  /** What bounds blocksPerSm (cudaOccLimitingFactor): warps, registers, shared memory, blocks, barriers. */
  readonly limitedBy: readonly string[];
  /** The mangled name ptxas printed (its anonymous-namespace part is per compile): not serialised. */
  readonly mangled?: string;
}

/** A non-inlined __device__ function ptxas reported (none today: everything is inlined). */
export interface DeviceFunctionResources {
  readonly name: string;
  readonly arch: Arch;
  readonly stackFrame: number;
  readonly spillStores: number;
  readonly spillLoads: number;
}

export interface KernelResources {
  readonly id: string;
  /** The key of the input map (generated/'s relative path for the shipped kernels). */
  readonly file: string;
  readonly dtype: string;
  readonly headDim: number;
  readonly tileQ: number;
  readonly tileK: number;
  readonly functions: readonly FunctionResources[];
  readonly deviceFunctions: readonly DeviceFunctionResources[];
}

export interface ResourceReport {
  readonly generator: string;
  /** nvcc's release, e.g. "13.0.88": ptxas's numbers belong to it. */
  readonly nvcc: string;
  readonly nvccFlags: readonly string[];
  readonly devices: readonly DeviceInfo[];
  readonly kernels: readonly KernelResources[];
}

// ---------------------------------------------------------------------------------------------
// Tools on this machine

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch { /* not here */ }
  }
  return null;
}

/** nvcc: $NVCC, else `nvcc` on PATH; null when there is none. */
export function findNvcc(): string | null {
  if (process.env.NVCC) return existsSync(process.env.NVCC) ? process.env.NVCC : null;
  return onPath('nvcc');
}

/** The toolkit's cu++filt (beside nvcc or under $CUDA_HOME), else binutils' c++filt. */
function findDemangler(nvcc: string): string {
  const candidates = [path.join(path.dirname(nvcc), 'cu++filt')];
  if (process.env.CUDA_HOME) candidates.push(path.join(process.env.CUDA_HOME, 'bin', 'cu++filt'));
  candidates.push('/usr/local/cuda/bin/cu++filt');
  for (const c of candidates) if (existsSync(c)) return c;
  const cxxfilt = onPath('cu++filt') ?? onPath('c++filt');
  if (!cxxfilt) throw new KvforgeError('KVF4001', 'neither cu++filt nor c++filt was found to demangle kernel names', { hint: 'install binutils' });
  return cxxfilt;
}

interface RunResult {
  readonly code: number;
  readonly out: string;
}

/** Writes `input` to a child's stdin; a child that exits without reading it is reported by its exit status. */
function feed(stdin: Writable | null, input: string | undefined): void {
  if (!stdin) return;
  stdin.on('error', () => { /* EPIPE: the exit status and output tell what happened */ });
  stdin.end(input ?? '');
}

function exec(cmd: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    const errs: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => chunks.push(c));
    child.stderr!.on('data', (c: Buffer) => errs.push(c));
    child.on('error', (e) => reject(new KvforgeError('KVF4001', `could not start ${cmd}: ${e.message}`)));
    child.on('close', (code) => resolve({ code: code ?? -1, out: Buffer.concat(chunks).toString() + Buffer.concat(errs).toString() }));
    feed(child.stdin, input);
  });
}

/** stdout only (stderr kept apart), for tools whose output is data. */
function execData(cmd: string, args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (e) => reject(new KvforgeError('KVF4001', `could not start ${cmd}: ${e.message}`)));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    feed(child.stdin, input);
  });
}

function failed(what: string, cmd: string, args: readonly string[], out: string): KvforgeError {
  const errors = out.split('\n').filter((l) => /error/i.test(l)).slice(0, 20).join('\n');
  return new KvforgeError('KVF4001', `${what} failed:\n  ${[cmd, ...args].join(' ')}\n${errors || out.slice(-4000)}`, {
    hint: 'a generated kernel or a kvforge tool failed to compile: a bug in kvforge unless you edited runtime/native',
  });
}

/** Runs tasks with at most `jobs` in flight; results in task order. */
async function pool<T>(tasks: readonly (() => Promise<T>)[], jobs: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, tasks.length)) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------
// Cache


/** Hash of the kvforge headers and tools every nvcc result depends on. */
function nativeInputsHash(): string {
  const h = createHash('sha256');
  for (const f of [...listFiles(INCLUDE_DIR), ...listFiles(TOOLS_DIR)]) h.update(`${path.relative(NATIVE_DIR, f)}\0`).update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

function hashOf(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 24);
}

function cacheDir(): string {
  return path.join(cacheRoot(), 'resources');
}

function readCached<T>(key: string): T | undefined {
  const p = path.join(cacheDir(), `${key}.json`);
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as T;
  } catch {
    return undefined;  // a damaged entry is recomputed
  }
}

/** Written to a private file and renamed: a reader sees a whole entry or none. */
function writeCached(key: string, value: unknown): void {
  mkdirSync(cacheDir(), { recursive: true });
  const tmp = path.join(cacheDir(), `.tmp-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, path.join(cacheDir(), `${key}.json`));
}

// ---------------------------------------------------------------------------------------------
// The three measurements

interface Toolchain {
  readonly nvcc: string;
  readonly release: string;
  readonly versionText: string;
  readonly inputs: string;
  readonly demangler: string;
}

async function toolchain(nvcc: string): Promise<Toolchain> {
  const v = await execData(nvcc, ['--version']);
  if (v.code !== 0) throw failed('nvcc --version', nvcc, ['--version'], v.stdout + v.stderr);
  const release = /V(\d+\.\d+\.\d+)/.exec(v.stdout)?.[1] ?? v.stdout.trim().split('\n').pop()!;
  return { nvcc, release, versionText: v.stdout, inputs: nativeInputsHash(), demangler: findDemangler(nvcc) };
}

interface DemangledFunction extends PtxasFunction {
  readonly demangled: string;
}

async function demangle(tc: Toolchain, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const r = await execData(tc.demangler, [], names.join('\n') + '\n');
  const lines = r.stdout.split('\n');
  if (r.code !== 0 || lines.length < names.length) throw failed('demangling', tc.demangler, [], r.stderr);
  return lines.slice(0, names.length);
}

/** ptxas's report of one file at one arch (compiled in `work`), cached. */
async function ptxasResources(tc: Toolchain, file: string, source: string, arch: Arch, work: string, opts: ResourceOptions): Promise<DemangledFunction[]> {
  const key = `ptxas-${hashOf(REPORT_GENERATOR, tc.versionText, tc.inputs, NVCC_FLAGS.join(' '), '-diag-suppress 177 --resource-usage -cubin', arch, path.basename(file), source)}`;
  const cached = opts.fresh ? undefined : readCached<DemangledFunction[]>(key);
  if (cached) {
    opts.log?.(`cached   ${file} ${arch}`);
    return cached;
  }
  const t0 = performance.now();
  const src = path.join(work, path.basename(file));
  // -cubin: device code only (cicc, then ptxas, as in the addon build), without the host compile
  // that -c adds: the same ptxas report in half the time.
  const args = [...NVCC_FLAGS, '-diag-suppress', '177', `-arch=${arch}`, '--resource-usage', '-I', INCLUDE_DIR, '-cubin', src, '-o', path.join(work, `${path.basename(file)}.${arch}.cubin`)];
  const r = await exec(tc.nvcc, args);
  if (r.code !== 0) throw failed(`nvcc (${file}, ${arch})`, tc.nvcc, args, r.out);
  const fns = parsePtxasResources(r.out);
  const names = await demangle(tc, fns.map((f) => f.mangled));
  const result = fns.map((f, i) => ({ ...f, demangled: names[i]! }));
  writeCached(key, result);
  opts.log?.(`compiled ${file} ${arch} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

interface LaunchKernel {
  readonly role: 'prefill' | 'decode' | 'merge' | 'mass';
  readonly rows: number;
  readonly threads: number;
  readonly dynamicSmem: number;
  readonly smemOptIn: boolean;
}

interface VariantLaunch {
  readonly id: string;
  readonly variant: string;
  readonly storage: string;
  readonly headDim: number;
  readonly tileQ: number;
  readonly tileK: number;
  readonly kernels: readonly LaunchKernel[];
}

/** launch_info.cu compiled against the file and run: the variants it registers and their launches. */
async function launchInfo(tc: Toolchain, file: string, source: string, work: string, opts: ResourceOptions): Promise<VariantLaunch[]> {
  const key = `launch-${hashOf(REPORT_GENERATOR, tc.versionText, tc.inputs, path.basename(file), source)}`;
  const cached = opts.fresh ? undefined : readCached<VariantLaunch[]>(key);
  if (cached) return cached;
  const t0 = performance.now();
  const exe = path.join(work, `${path.basename(file)}.launch_info`);
  const src = path.join(work, path.basename(file));
  const args = ['-std=c++17', '--expt-relaxed-constexpr', '-diag-suppress', '177', '-I', INCLUDE_DIR, `-DKVF_KERNEL_SOURCE="${src}"`, '-o', exe, path.join(TOOLS_DIR, 'launch_info.cu')];
  const r = await exec(tc.nvcc, args);
  if (r.code !== 0) throw failed(`nvcc (launch_info for ${file})`, tc.nvcc, args, r.out);
  const run = await execData(exe, []);
  if (run.code !== 0) throw failed(`launch_info for ${file}`, exe, [], run.stdout + run.stderr);
  const variants = run.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as VariantLaunch);
  writeCached(key, variants);
  opts.log?.(`compiled ${file} launch info in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return variants;
}

/** The occupancy tool, built once per (tool source, nvcc) into the cache. */
async function occupancyTool(tc: Toolchain): Promise<string> {
  const source = path.join(TOOLS_DIR, 'occupancy.cpp');
  const key = hashOf(REPORT_GENERATOR, tc.versionText, readFileSync(source, 'utf8'));
  const root = path.join(cacheRoot(), 'tools');
  const entry = path.join(root, `occupancy-${key}`);
  const exe = path.join(entry, 'occupancy');
  if (existsSync(exe)) return exe;
  mkdirSync(root, { recursive: true });
  const tmp = path.join(root, `.tmp-occupancy-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  try {
    // nvcc compiles a .cpp as host C++ with the toolkit's include folder, where cuda_occupancy.h is.
    const args = ['-std=c++17', '-O2', '-o', path.join(tmp, 'occupancy'), source];
    const r = await exec(tc.nvcc, args);
    if (r.code !== 0) throw failed('building the occupancy tool', tc.nvcc, args, r.out);
    try {
      renameSync(tmp, entry);
    } catch (e) {
      if (!existsSync(exe)) throw e;  // another process built the same key first
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return exe;
}

const LIMITS: readonly [number, string][] = [[1, 'warps'], [2, 'registers'], [4, 'shared memory'], [8, 'blocks'], [16, 'barriers'], [32, 'virtual resources']];

interface OccupancyQuery {
  readonly arch: Arch;
  readonly registers: number;
  readonly staticSmem: number;
  readonly dynamicSmem: number;
  readonly threads: number;
  readonly barriers: number;
  readonly optIn: boolean;
}

interface Occupancy {
  readonly blocksPerSm: number;
  readonly activeWarps: number;
  readonly maxWarps: number;
  readonly limitedBy: string[];
}

async function occupancy(exe: string, queries: readonly OccupancyQuery[]): Promise<Occupancy[]> {
  const input = queries.map((q) => `${q.arch} ${q.registers} ${q.staticSmem} ${q.dynamicSmem} ${q.threads} ${q.barriers} ${q.optIn ? 1 : 0}\n`).join('');
  const r = await execData(exe, [], input);
  const lines = r.stdout.split('\n').filter((l) => l.trim());
  if (r.code !== 0 || lines.length !== queries.length) throw failed('the occupancy tool', exe, [], r.stdout + r.stderr);
  return lines.map((l) => {
    const [blocks, warps, maxWarps, bits] = l.trim().split(/\s+/).map(Number) as [number, number, number, number];
    return { blocksPerSm: blocks, activeWarps: warps, maxWarps, limitedBy: LIMITS.filter(([b]) => bits & b).map(([, n]) => n) };
  });
}

async function devices(exe: string): Promise<DeviceInfo[]> {
  const r = await execData(exe, ['--devices']);
  if (r.code !== 0) throw failed('the occupancy tool', exe, ['--devices'], r.stdout + r.stderr);
  return r.stdout.split('\n').filter((l) => l.trim()).map((l) => {
    const [name, arch, ...n] = l.trim().split(/\s+/);
    const [sms, regsPerSm, regsPerBlock, smemPerSm, smemPerBlock, smemPerBlockOptIn, reservedSmemPerBlock, maxThreadsPerSm, maxThreadsPerBlock] = n.map(Number) as number[];
    return { arch: arch as Arch, name: name!, sms: sms!, regsPerSm: regsPerSm!, regsPerBlock: regsPerBlock!, smemPerSm: smemPerSm!, smemPerBlock: smemPerBlock!, smemPerBlockOptIn: smemPerBlockOptIn!, reservedSmemPerBlock: reservedSmemPerBlock!, maxThreadsPerSm: maxThreadsPerSm!, maxThreadsPerBlock: maxThreadsPerBlock! };
  });
}

// ---------------------------------------------------------------------------------------------
// The report

const ROLE_ORDER = { prefill: 0, decode: 1, merge: 2, mass: 3 } as const;

function functionName(role: 'prefill' | 'decode' | 'merge' | 'mass', rows: number): string {
  return role === 'decode' ? `decode R=${rows}` : role;
}

/**
 * The resource report of `cuFiles` (name -> CUDA source, e.g. generated/cuda's files under
 * `cuda/<file>`). Throws KvforgeError KVF4001 when nvcc is missing or fails, or when the
 * functions nvcc compiled do not match the launches launch_info.cuh lists.
 */
export async function resourceReport(cuFiles: ReadonlyMap<string, string>, opts: ResourceOptions = {}): Promise<ResourceReport> {
  const nvcc = opts.nvcc ?? findNvcc();
  if (!nvcc) throw new KvforgeError('KVF4001', 'nvcc was not found (set NVCC or put the CUDA toolkit on PATH)');
  const tc = await toolchain(nvcc);
  const files = [...cuFiles.keys()].sort();
  const bases = new Set(files.map((f) => path.basename(f)));
  if (bases.size !== files.length) throw new KvforgeError('KVF4001', 'two CUDA sources share a file name');
  const work = mkdtempSync(path.join(os.tmpdir(), 'kvforge-resources-'));
  try {
    for (const f of files) writeFileSync(path.join(work, path.basename(f)), cuFiles.get(f)!);
    type Job = { file: string; arch: Arch | null };
    const jobs: Job[] = [{ file: '', arch: null }];  // the occupancy tool
    for (const f of files) jobs.push({ file: f, arch: null }, ...ARCHS.map((arch) => ({ file: f, arch })));
    const occExe = { path: '' };
    const launches = new Map<string, VariantLaunch[]>();
    const ptxas = new Map<string, DemangledFunction[]>();
    await pool(jobs.map((j) => async () => {
      if (!j.file) occExe.path = await occupancyTool(tc);
      else if (!j.arch) launches.set(j.file, await launchInfo(tc, j.file, cuFiles.get(j.file)!, work, opts));
      else ptxas.set(`${j.file}\0${j.arch}`, await ptxasResources(tc, j.file, cuFiles.get(j.file)!, j.arch, work, opts));
    }), opts.jobs ?? 2);

    // Pair every compiled function with its launch.
    interface Row { kernel: number; launch: LaunchKernel; arch: Arch; fn: DemangledFunction }
    const kernels: { v: VariantLaunch; file: string; rows: Row[]; device: DeviceFunctionResources[] }[] = [];
    const rows: Row[] = [];
    for (const file of files) {
      const variants = launches.get(file)!;
      if (variants.length === 0) throw new KvforgeError('KVF4001', `${file} registers no CUDA kernel (KVF_REGISTER_CUDA_KERNEL)`);
      const first = kernels.length;
      for (const v of variants) kernels.push({ v, file, rows: [], device: [] });
      for (const arch of ARCHS) {
        const matched = new Set<string>();
        for (const fn of ptxas.get(`${file}\0${arch}`)!) {
          if (!fn.entry) {
            for (let k = first; k < kernels.length; k++) kernels[k]!.device.push({ name: fn.demangled, arch, stackFrame: fn.stackFrame, spillStores: fn.spillStores, spillLoads: fn.spillLoads });
            continue;
          }
          const role = classifyKernel(fn.demangled);
          if (!role) throw new KvforgeError('KVF4001', `${file} (${arch}): __global__ function ${fn.demangled} is not a kvforge kernel template`);
          let hits = 0;
          for (let k = first; k < kernels.length; k++) {
            const v = kernels[k]!.v;
            const fits = role.role === 'merge' ? role.headDim === v.headDim && role.storage === v.storage : role.variant === v.variant;
            if (!fits) continue;
            const launch = v.kernels.find((l) => l.role === role.role && (role.role !== 'decode' || l.rows === role.rows));
            if (!launch) throw new KvforgeError('KVF4001', `${file} (${arch}): nvcc compiled ${fn.demangled}, which kvforge/cuda/launch_info.cuh does not list for ${v.id}`, { hint: 'keep variantLaunches() in step with host.cuh' });
            const row = { kernel: k, launch, arch, fn };
            kernels[k]!.rows.push(row);
            rows.push(row);
            matched.add(`${k}\0${launch.role}\0${launch.rows}`);
            hits++;
          }
          if (hits === 0) throw new KvforgeError('KVF4001', `${file} (${arch}): ${fn.demangled} belongs to no variant the file registers`);
        }
        for (let k = first; k < kernels.length; k++) {
          for (const l of kernels[k]!.v.kernels) {
            if (!matched.has(`${k}\0${l.role}\0${l.rows}`)) {
              throw new KvforgeError('KVF4001', `${file} (${arch}): no compiled function for ${functionName(l.role, l.rows)} of ${kernels[k]!.v.id}, which launch_info.cuh lists`, { hint: 'keep variantLaunches() in step with host.cuh' });
            }
          }
        }
      }
    }

    const occ = await occupancy(occExe.path, rows.map((r) => ({
      arch: r.arch, registers: r.fn.registers!, staticSmem: r.fn.staticSmem, dynamicSmem: r.launch.dynamicSmem,
      threads: r.launch.threads, barriers: r.fn.barriers, optIn: r.launch.smemOptIn,
    })));
    const occByRow = new Map(rows.map((r, i) => [r, occ[i]!]));
    const devs = await devices(occExe.path);

    const out: KernelResources[] = kernels.map(({ v, file, rows: krows, device }) => ({
      id: v.id,
      file,
      dtype: v.storage,
      headDim: v.headDim,
      tileQ: v.tileQ,
      tileK: v.tileK,
      functions: [...krows].sort((a, b) =>
        ROLE_ORDER[a.launch.role] - ROLE_ORDER[b.launch.role] || a.launch.rows - b.launch.rows || ARCHS.indexOf(a.arch) - ARCHS.indexOf(b.arch),
      ).map((r) => {
        const o = occByRow.get(r)!;
        return {
          function: functionName(r.launch.role, r.launch.rows),
          role: r.launch.role,
          rows: r.launch.role === 'decode' ? r.launch.rows : null,
          arch: r.arch,
          registers: r.fn.registers!,
          staticSmem: r.fn.staticSmem,
          dynamicSmem: r.launch.dynamicSmem,
          threads: r.launch.threads,
          barriers: r.fn.barriers,
          stackFrame: r.fn.stackFrame,
          spillStores: r.fn.spillStores,
          spillLoads: r.fn.spillLoads,
          blocksPerSm: o.blocksPerSm,
          activeWarps: o.activeWarps,
          maxWarps: o.maxWarps,
          occupancy: o.activeWarps / o.maxWarps,
          limitedBy: o.limitedBy,
          mangled: r.fn.mangled,
        };
      }),
      deviceFunctions: [...device].sort((a, b) => a.name.localeCompare(b.name) || ARCHS.indexOf(a.arch) - ARCHS.indexOf(b.arch)),
    }));
    out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { generator: REPORT_GENERATOR, nvcc: tc.release, nvccFlags: [...NVCC_FLAGS], devices: devs, kernels: out };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Output

/**
 * generated/resources.json's text: stable key order, no per-compile names, one line per device,
 * function and device function (a change shows as a one-line diff), a final newline.
 */
export function serializeReport(report: ResourceReport): string {
  const one = (x: unknown) => JSON.stringify(x);
  const list = (items: readonly unknown[], indent: string) =>
    items.length === 0 ? '[]' : `[\n${items.map((x) => `${indent}  ${one(x)}`).join(',\n')}\n${indent}]`;
  const kernel = (k: KernelResources) => {
    const { functions, deviceFunctions, ...head } = k;
    const fields = Object.entries(head).map(([key, v]) => `      ${one(key)}: ${one(v)}`);
    fields.push(`      "functions": ${list(functions.map(({ mangled: _, ...f }) => f), '      ')}`);
    fields.push(`      "deviceFunctions": ${list(deviceFunctions, '      ')}`);
    return `    {\n${fields.join(',\n')}\n    }`;
  };
  const { devices, kernels, ...head } = report;
  const fields = Object.entries(head).map(([key, v]) => `  ${one(key)}: ${one(v)}`);
  fields.push(`  "devices": ${list(devices, '  ')}`);
  fields.push(`  "kernels": [\n${kernels.map(kernel).join(',\n')}\n  ]`);
  const text = `{\n${fields.join(',\n')}\n}\n`;
  JSON.parse(text);  // well-formed by construction; cheap to make sure
  return text;
}

export const RESOURCES_JSON = path.join(GENERATED_DIR, 'resources.json');

/** generated/cuda's .cu files, keyed `cuda/<file>`: those its manifest lists. */
export function generatedCudaSources(dir = GENERATED_DIR): Map<string, string> {
  return new Map([...generatedFiles(dir)].filter(([rel]) => rel.startsWith('cuda/')));
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** The report as a text table, one line per function and arch. */
export function formatResourceTable(report: ResourceReport): string {
  const header = ['kernel', 'dtype', 'D', 'function', 'arch', 'regs', 'smem static', 'smem dyn', 'spill st/ld', 'stack', 'blocks/SM', 'occupancy', 'limited by'];
  const body: string[][] = [];
  for (const k of report.kernels) {
    for (const f of k.functions) {
      body.push([k.id, k.dtype, String(k.headDim), f.function, f.arch, String(f.registers), String(f.staticSmem), String(f.dynamicSmem),
        `${f.spillStores}/${f.spillLoads}`, String(f.stackFrame), String(f.blocksPerSm), pct(f.occupancy), f.limitedBy.join(', ')]);
    }
    for (const d of k.deviceFunctions) {
      body.push([k.id, k.dtype, String(k.headDim), d.name, d.arch, '-', '-', '-', `${d.spillStores}/${d.spillLoads}`, String(d.stackFrame), '-', '-', '']);
    }
  }
  const numeric = new Set([2, 5, 6, 7, 8, 9, 10, 11]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const devs = report.devices.map((d) => `${d.arch} = ${d.name} (${d.sms} SMs, ${d.regsPerSm} regs/SM, ${d.smemPerSm / 1024} KiB smem/SM, ${d.smemPerBlockOptIn / 1024} KiB/block opt-in, ${d.maxThreadsPerSm / 32} warps/SM)`);
  return [line(header), ...body.map(line), '', `nvcc ${report.nvcc} ${report.nvccFlags.join(' ')}; occupancy from cuda_occupancy.h: ${devs.join('; ')}`].join('\n');
}

/** Functions that spill (stores or loads), as `id function arch` lines. */
export function spillingFunctions(report: ResourceReport): string[] {
  const out: string[] = [];
  for (const k of report.kernels) {
    for (const f of k.functions) if (f.spillStores || f.spillLoads) out.push(`${k.id} ${f.function} ${f.arch}: ${f.spillStores} B stored, ${f.spillLoads} B loaded`);
    for (const d of k.deviceFunctions) if (d.spillStores || d.spillLoads) out.push(`${k.id} ${d.name} ${d.arch}: ${d.spillStores} B stored, ${d.spillLoads} B loaded`);
  }
  return out;
}
