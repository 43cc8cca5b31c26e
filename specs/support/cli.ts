/** Run the `kvforge` command as a user does: a child process, from the package root. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../runtime/build/paths.ts';

export function kvforge(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, 'runtime/cli/kvforge.mjs'), ...args], {
    cwd: PACKAGE_ROOT, encoding: 'utf8', timeout: 280_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
