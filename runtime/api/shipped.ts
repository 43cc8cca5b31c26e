/**
 * The kernels kvforge ships: generated/ (checked in, generated from configs/ by `kvforge gen`),
 * built into one addon through the cache. What the runtime knows of each kernel comes from
 * generated/manifest.json (its unit data: plan, shape, IR, parameters), so loading them reads no
 * config and runs no front end.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST, manifestError, readManifest, type Manifest } from '../../codegen/manifest.ts';
import { loadBuiltAddon, type BuildOptions, type BuiltAddon } from '../build/addon.ts';
import { CompiledAttention } from './kernels.ts';
import { GENERATED_DIR } from '../build/paths.ts';

export interface Shipped {
  readonly addon: BuiltAddon;
  /** By the export name in configs/ for C++ kernels, `<export>@cuda-<dtype>` for CUDA ones. */
  readonly kernels: ReadonlyMap<string, CompiledAttention>;
}

/** Every file the manifest of `dir` lists (`cpp/<id>.cpp`, `cuda/<id>.cu`), by that path. */
export function generatedFiles(dir = GENERATED_DIR, manifest: Manifest = readManifest(dir)): Map<string, string> {
  const files = new Map<string, string>();
  for (const rel of manifest.files) {
    try {
      files.set(rel, readFileSync(path.join(dir, rel), 'utf8'));
    } catch (e) {
      throw manifestError(path.join(dir, MANIFEST), `lists ${rel}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return files;
}

/** Every generated kernel source (C++ and CUDA), by file name: what the shipped addon is built from. */
export function generatedSources(dir = GENERATED_DIR, manifest: Manifest = readManifest(dir)): Map<string, string> {
  return new Map([...generatedFiles(dir, manifest)].map(([rel, text]) => [path.posix.basename(rel), text]));
}

export async function loadShipped(opts: BuildOptions = {}): Promise<Shipped> {
  const manifest = readManifest(GENERATED_DIR);
  const { built: addon, native } = await loadBuiltAddon(generatedSources(GENERATED_DIR, manifest), opts);
  const kernels = new Map<string, CompiledAttention>();
  for (const unit of manifest.kernels) {
    const kernel = new CompiledAttention(unit, native);
    for (const name of unit.shipped) kernels.set(name, kernel);
  }
  return { addon, kernels };
}
