/** Where kvforge's own files and its build cache live. */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { findPackageRoot } from './packageRoot.ts';

/** The package root (the folder holding package.json), from the source and from dist/ alike. */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
export const NATIVE_DIR = path.join(PACKAGE_ROOT, 'runtime', 'native');
export const GENERATED_DIR = path.join(PACKAGE_ROOT, 'generated');
export const CONFIGS_DIR = path.join(PACKAGE_ROOT, 'configs');

/** Build cache root: KVFORGE_CACHE_DIR, else `.kvforge-cache` in the package root. */
export function cacheRoot(): string {
  return process.env.KVFORGE_CACHE_DIR ? path.resolve(process.env.KVFORGE_CACHE_DIR) : path.join(PACKAGE_ROOT, '.kvforge-cache');
}
