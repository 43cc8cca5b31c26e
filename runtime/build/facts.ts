/**
 * What a built binary depends on besides its sources: the toolchain and the machine it targets.
 * Probed once per process (each probe is one short process: ~20 ms), and injectable, so the key
 * function can be tested on facts that this machine does not have.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PACKAGE_ROOT } from './paths.ts';

const require = createRequire(import.meta.url);

export interface ToolchainFacts {
  /** `process.platform process.arch`. */
  readonly platform: string;
  /** `--version` of the C++ compiler CMake uses ($CXX, else c++). */
  readonly cxx: string;
  /** `--version` of nvcc ($CUDACXX, else nvcc on PATH), or 'none'; only asked for nvcc builds. */
  readonly nvcc: string;
  /**
   * What `-march=native` resolves to on this CPU: the compiler's predefined macro set under it
   * (__AVX2__, __AVX512F__, ...), or 'generic' for a build without -march=native.
   */
  readonly cpuTarget: string;
  /** The CUDA toolkit headers the emulated CUDA kernels compile against (their version line), or 'none'. */
  readonly cudaHeaders: string;
  /** `cmake --version`. */
  readonly cmake: string;
  /**
   * Node-API version the addon is built for (package.json binary.napi_versions), and the header
   * packages. Not the Node ABI (process.versions.modules): a Node-API addon loads in every Node
   * that has its Node-API version, so keying on the ABI would only rebuild for nothing.
   */
  readonly napi: string;
  /** kvforge's version (package.json). */
  readonly kvforge: string;
}

function tool(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 }).trim();
  } catch {
    return 'none';
  }
}

const cxxCommand = (): string => process.env.CXX || 'c++';

let base: Omit<ToolchainFacts, 'nvcc' | 'cpuTarget'> | undefined;
let nvccFact: string | undefined;
let nativeTarget: string | undefined;

function cudaHeaderVersion(): string {
  // The same places CMakeLists.txt's find_path looks (the toolkit, $CUDA_HOME, /usr/local/cuda).
  for (const dir of [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda'].filter(Boolean) as string[]) {
    const h = path.join(dir, 'include', 'cuda_runtime_api.h');
    if (existsSync(h)) {
      const m = /#define\s+CUDART_VERSION\s+(\d+)/.exec(readFileSync(h, 'utf8'));
      return `${dir} ${m?.[1] ?? 'unknown'}`;
    }
  }
  return 'none';
}

/**
 * The facts of this process's toolchain. `nvcc` and `nativeArch` say which of the two costly
 * probes are needed; each runs at most once per process.
 */
export function probeToolchain(want: { nvcc: boolean; nativeArch: boolean }): ToolchainFacts {
  if (!base) {
    const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string; binary?: { napi_versions?: number[] } };
    const version = (name: string): string => (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
    base = {
      platform: `${process.platform} ${process.arch}`,
      cxx: `${cxxCommand()}: ${tool(cxxCommand(), ['--version'])}`,
      cudaHeaders: cudaHeaderVersion(),
      cmake: tool('cmake', ['--version']).split('\n')[0]!,
      napi: `napi ${(pkg.binary?.napi_versions ?? []).join(',')} node-addon-api ${version('node-addon-api')} node-api-headers ${version('node-api-headers')}`,
      kvforge: pkg.version,
    };
  }
  if (want.nvcc && nvccFact === undefined) nvccFact = tool(process.env.CUDACXX || 'nvcc', ['--version']);
  if (want.nativeArch && nativeTarget === undefined) {
    const macros = tool(cxxCommand(), ['-march=native', '-dM', '-E', '-x', 'c++', '/dev/null']);
    nativeTarget = macros.split('\n').sort().join('\n');
  }
  return { ...base, nvcc: want.nvcc ? nvccFact! : 'none', cpuTarget: want.nativeArch ? nativeTarget! : 'generic' };
}
