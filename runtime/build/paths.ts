/** Where kvforge's own files and its build cache live. */
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { findPackageRoot } from './packageRoot.ts';

/** The package root (the folder holding package.json), from the source and from dist/ alike. */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
export const NATIVE_DIR = path.join(PACKAGE_ROOT, 'runtime', 'native');
export const GENERATED_DIR = path.join(PACKAGE_ROOT, 'generated');
export const CONFIGS_DIR = path.join(PACKAGE_ROOT, 'configs');

/**
 * Build cache root: KVFORGE_CACHE_DIR, else the user's cache folder as XDG defines it
 * ($XDG_CACHE_HOME/kvforge when that is an absolute path, else ~/.cache/kvforge), as FlashInfer
 * and torch extensions do: never inside the installed package, which may be read-only or shared.
 */
export function cacheRoot(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.KVFORGE_CACHE_DIR) return path.resolve(env.KVFORGE_CACHE_DIR);
  const xdg = env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), 'kvforge');
}
