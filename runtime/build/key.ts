/**
 * Cache keys. The core key hashes everything the core library is built from (kvforge's native
 * sources and CMakeLists, the CMake definitions, the toolchain facts); an addon's key hashes its
 * core key and its kernel sources, so it covers everything the addon's binary depends on.
 * Pure functions of their arguments: the facts are passed in.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ToolchainFacts } from './facts.ts';

/** Bump when the layout of an entry or the meaning of a key changes. */
export const CACHE_FORMAT = 'kvforge-cache v2';

/** Every file under `dir`, recursively, sorted (none when it does not exist). */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listFiles(p) : [p];
  }).sort();
}

/** kvforge's native inputs (the test harness folders are not any build's input), with their text. */
export function nativeInputs(nativeDir: string): Map<string, Buffer> {
  const files = [path.join(nativeDir, 'CMakeLists.txt'), path.join(nativeDir, 'package.json'),
    ...listFiles(path.join(nativeDir, 'include')), ...listFiles(path.join(nativeDir, 'src'))];
  return new Map(files.map((f) => [path.relative(nativeDir, f), readFileSync(f)]));
}

function field(h: ReturnType<typeof createHash>, name: string, value: string | Buffer): void {
  // Length-prefixed, so no two different field lists hash the same text.
  h.update(`${name} ${Buffer.byteLength(value)}\n`).update(value).update('\n');
}

export function coreKey(native: ReadonlyMap<string, Buffer>, defines: Readonly<Record<string, string>>, facts: ToolchainFacts): string {
  const h = createHash('sha256');
  field(h, 'format', CACHE_FORMAT);
  for (const [k, v] of Object.entries(facts).sort(([a], [b]) => a.localeCompare(b))) field(h, `fact ${k}`, String(v));
  for (const [k, v] of Object.entries(defines).sort(([a], [b]) => a.localeCompare(b))) field(h, `define ${k}`, v);
  for (const [f, text] of [...native].sort(([a], [b]) => a.localeCompare(b))) field(h, `native ${f}`, text);
  return h.digest('hex').slice(0, 24);
}

export function addonKey(core: string, kernels: ReadonlyMap<string, string>): string {
  const h = createHash('sha256');
  field(h, 'format', CACHE_FORMAT);
  field(h, 'core', core);
  for (const [name, text] of [...kernels].sort(([a], [b]) => a.localeCompare(b))) field(h, `kernel ${name}`, text);
  return h.digest('hex').slice(0, 24);
}
