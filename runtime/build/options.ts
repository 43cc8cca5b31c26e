/**
 * Build options, and what they resolve to: the CMake definitions of a build. Everything that
 * changes the binary goes through `cmakeDefines`, and the cache key hashes its result, so an
 * option cannot reach the build without reaching the key.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { BuildEvent } from './progress.ts';

export interface BuildOptions {
  /** -march=native (default true): the addon is for this machine. */
  readonly nativeArch?: boolean;
  /** Parallel compile jobs (not part of the key). @defaultValue number of CPUs */
  readonly jobs?: number;
  /** Print the compiler's output as it goes. */
  readonly verbose?: boolean;
  /**
   * Compile .cu kernels with nvcc (true: whenever nvcc is found; false: never). Unset: only when a
   * CUDA device answers (`cudaDeviceAnswers`); otherwise only their emulated form is built, which
   * is what the CPU runs, and which builds in seconds rather than minutes.
   */
  readonly nvcc?: boolean;
  /**
   * Build with AddressSanitizer + UndefinedBehaviorSanitizer (CMake KVFORGE_SANITIZE); node must
   * preload libasan to load it. @defaultValue env KVFORGE_SANITIZE=1
   */
  readonly sanitize?: boolean;
  /** Build progress (which files, elapsed, cached or not). Unset: silent, unless KVFORGE_PROGRESS=1. */
  readonly onProgress?: (e: BuildEvent) => void;
}

/**
 * Whether a CUDA device answers, decided without loading an addon or the driver: the driver's
 * device nodes (/dev/nvidia0, /dev/nvidia1, ...) exist, which they do exactly when the NVIDIA
 * driver is loaded and a GPU is attached (in a container: passed in), and CUDA_VISIBLE_DEVICES does
 * not hide every device. Costs one readdir. A device that is present but broken still builds with
 * nvcc; the addon's deviceReport then says why it cannot run, and run() falls back to the emulator.
 */
export function cudaDeviceAnswers(env: Readonly<Record<string, string | undefined>> = process.env, devDir = '/dev'): boolean {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && (visible.trim() === '' || visible.trim() === '-1' || visible === 'NoDevFiles')) return false;
  if (!existsSync(devDir)) return false;
  try {
    return readdirSync(devDir).some((n) => /^nvidia\d+$/.test(n));
  } catch {
    return false;
  }
}

/** The resolved build: what every cache key and every cmake-js call is made from. */
export interface ResolvedBuild {
  readonly nvcc: boolean;
  readonly nativeArch: boolean;
  /** -D definitions passed to CMake (the kernel folder and the core library path are added per build). */
  readonly defines: Readonly<Record<string, string>>;
}

export function resolveBuild(opts: BuildOptions, deviceAnswers: () => boolean = cudaDeviceAnswers): ResolvedBuild {
  const nvcc = opts.nvcc ?? deviceAnswers();
  const nativeArch = opts.nativeArch ?? true;
  const defines: Record<string, string> = {
    KVFORGE_NATIVE_ARCH: nativeArch ? 'ON' : 'OFF',
    KVFORGE_CUDA: nvcc ? 'ON' : 'OFF',
  };
  // KVFORGE_SANITIZE=1 (set by `npm run test:asan`) sanitizes every build its processes start.
  if (opts.sanitize ?? process.env.KVFORGE_SANITIZE === '1') defines.KVFORGE_SANITIZE = 'ON';
  return { nvcc, nativeArch, defines };
}
