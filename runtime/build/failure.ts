/**
 * A failed build: keep what is needed to look into it and say whose fault it is.
 *
 * The build log and the kernel sources it compiled are kept in `<cache>/failed/<key>/` (the build
 * folder itself is deleted), with the temporary paths in the log rewritten to the kept copies, so
 * every path in the message exists. The translation units that failed decide the blame:
 * - a generated kernel file (KVF4006): the message names the kernel and the variant it came from
 *   and where its source is kept;
 * - one of kvforge's own sources in runtime/native/src (KVF9001: a bug in kvforge);
 * - anything else: configure, link, a killed compiler, a missing tool (KVF4001: the toolchain).
 */
import { cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';

export interface FailedBuild {
  readonly log: string;
  readonly signal: string | null;
  readonly code: number | null;
  /** Kernel file names of the build (keys of the kernels map). */
  readonly kernelFiles: readonly string[];
  /** Where the variant each kernel file came from, by file name (e.g. "variant 'alibi' (user.ts)"). */
  readonly labels?: ReadonlyMap<string, string>;
}

/**
 * Which translation units failed, read off Ninja's `FAILED: <object>.o` and Make's
 * `*** [...: <object>.o] Error` lines (which name the unit even when the error is in a header it
 * includes), and the compiler's error locations.
 */
export function failedUnits(log: string): string[] {
  const units = new Set<string>();
  for (const m of log.matchAll(/^FAILED: (?:\S*\/)?([^\s/]+)\.o\b/gm)) units.add(m[1]!);
  for (const m of log.matchAll(/\*\*\* \[[^\]]*?([^\s/\]]+)\.o\] Error/g)) units.add(m[1]!);
  for (const m of log.matchAll(/^(?:In file included from )?(\S+?\.(?:cpp|cu|cc))(?::\d+(?::\d+)?|\(\d+\))[:,]? *(?:fatal )?error\b/gm)) units.add(path.basename(m[1]!));
  return [...units];
}

export type Blame =
  | { readonly who: 'kernel'; readonly files: readonly string[] }
  | { readonly who: 'kvforge'; readonly files: readonly string[] }
  | { readonly who: 'toolchain' };

export function blame(log: string, kernelFiles: readonly string[], coreFiles: readonly string[]): Blame {
  const units = failedUnits(log).map((u) => u.replace(/\.emu\.cpp$/, '.cu'));
  const kernels = kernelFiles.filter((k) => units.includes(k));
  if (kernels.length > 0) return { who: 'kernel', files: kernels };
  const core = coreFiles.filter((c) => units.includes(c));
  if (core.length > 0) return { who: 'kvforge', files: core };
  return { who: 'toolchain' };
}

function errorLines(log: string): string {
  const lines = log.split('\n').filter((l) => /\berror\b|CMake Error|undefined reference/i.test(l) && !/^make(\[\d+\])?: \*\*\*/.test(l) && !/^gmake/.test(l));
  return lines.slice(0, 12).join('\n');
}

/**
 * Keep the log and sources of a failed build under `failedRoot/<key>/` and return the error to
 * throw. `tmpKernelDir` is where the kernel sources were compiled from.
 */
export function keepFailure(f: FailedBuild, o: { failedRoot: string; key: string; tmpKernelDir: string; tmpBuildDir: string; coreFiles: readonly string[] }): KvforgeError {
  const keep = path.join(o.failedRoot, o.key);
  const keptKernels = path.join(keep, 'kernels');
  const staging = `${keep}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  if (existsSync(o.tmpKernelDir)) cpSync(o.tmpKernelDir, path.join(staging, 'kernels'), { recursive: true });
  const log = f.log.split(o.tmpKernelDir).join(keptKernels).split(o.tmpBuildDir).join(path.join(keep, 'build'));
  writeFileSync(path.join(staging, 'build.log'), log);
  rmSync(keep, { recursive: true, force: true });
  renameSync(staging, keep);
  const logPath = path.join(keep, 'build.log');
  const errors = errorLines(log);
  const b = blame(f.log, f.kernelFiles, o.coreFiles);
  if (b.who === 'kernel') {
    const which = b.files.map((file) => `${file}${f.labels?.get(file) ? ` (from ${f.labels.get(file)})` : ''}, source kept at ${path.join(keptKernels, file)}`);
    return new KvforgeError('KVF4006', `the generated kernel ${which.join('; ')} failed to compile; build log: ${logPath}\n${errors}`, {
      hint: 'kvforge accepted this variant, so the generated code should compile: please report it with the kept source and log (a bug in kvforge\'s code generator); meanwhile try a different plan for this variant',
    });
  }
  if (b.who === 'kvforge') {
    return new KvforgeError('KVF9001', `kvforge's own source ${b.files.join(', ')} (runtime/native/src) failed to compile; build log: ${logPath}\n${errors}`, {
      hint: 'report it with the build log; if you edited runtime/native, undo that',
    });
  }
  const how = f.signal ? `was killed by ${f.signal} (out of memory? the build option 'jobs' runs fewer compiles at once)` : `exited with code ${f.code}`;
  return new KvforgeError('KVF4001', `the native build ${how}; build log: ${logPath}\n${errors || log.slice(-2000)}`, {
    hint: 'check the toolchain: cmake >= 3.18 and a C++17 compiler on PATH (or in $CXX); the log says which step failed',
  });
}
