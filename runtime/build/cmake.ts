/**
 * One cmake-js run (configure + build of runtime/native), its output captured as the build log
 * and read as it goes for progress: both generators cmake-js picks (Ninja when installed, else
 * Make) print `Building CXX object <obj>` for each compile and `Linking ...` for the link; Ninja
 * when the step ends, with `[done/total]`, Make when it starts.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { BuildEvent } from './progress.ts';

const require = createRequire(import.meta.url);

export interface CmakeRun {
  readonly nativeDir: string;
  readonly buildDir: string;
  readonly defines: Readonly<Record<string, string>>;
  /** Only this target (cmake-js -T). */
  readonly target?: string;
  readonly jobs: number;
  readonly verbose: boolean;
  readonly what: 'core' | 'addon';
  /** How many compiles the build will start (for `[done/total]`). */
  readonly total: number;
  readonly progress: (e: BuildEvent) => void;
}

export interface CmakeResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly log: string;
}

/** The source a `Building CXX object CMakeFiles/kvforge.dir/<path>.o` line names, as a file name. */
export function compiledFile(line: string): string | undefined {
  const m = /Building (?:CXX|CUDA) object (\S+)\.o\b/.exec(line);
  return m ? path.basename(m[1]!).replace(/\.emu\.cpp$/, '.cu (emulated)') : undefined;
}

export function runCmake(r: CmakeRun): Promise<CmakeResult> {
  const args = [require.resolve('cmake-js/bin/cmake-js'), 'build', '-d', r.nativeDir, '-O', r.buildDir, '--parallel', String(r.jobs),
    ...(r.target ? ['-T', r.target] : []), ...Object.entries(r.defines).map(([k, v]) => `--CD${k}=${v}`)];
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  return new Promise((resolve, reject) => {
    // LC_ALL=C: compiler messages in English, so the failure reader can find `error:`.
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let log = '';
    let partial = '';
    let done = 0;
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      log += text;
      if (r.verbose) process.stderr.write(chunk);
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const file = compiledFile(line);
        // Ninja prefixes its steps with [done/total]; Make prints [ pct%], so count there.
        const step = /^\[(\d+)\/(\d+)\]/.exec(line);
        done = step ? Number(step[1]) : done + 1;
        if (file) r.progress({ kind: 'compiled', what: r.what, file, done, total: step ? Number(step[2]) : Math.max(r.total, done), seconds: seconds() });
        else if (/\bLinking (CXX|CUDA)\b/.test(line)) r.progress({ kind: 'link', what: r.what, seconds: seconds() });
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => reject(new KvforgeError('KVF4001', `could not start cmake-js (${process.execPath} ${args[0]}): ${e.message}`, { hint: 'reinstall kvforge (npm install) so that its dependency cmake-js is present' })));
    child.on('close', (code, signal) => resolve({ code, signal, log }));
  });
}
