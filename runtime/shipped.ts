/**
 * The kernels kvforge ships: generated/cpp (checked in, generated from configs/) built into one
 * addon through the cache, paired with the specs of configs/ by kernel id.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { KvforgeError } from '../codegen/diagnostics.ts';
import { configFiles, loadSpecs } from '../codegen/loadSpecs.ts';
import { compileUnit } from '../codegen/pipeline.ts';
import { buildAddon, type BuildOptions, type BuiltAddon } from './build.ts';
import { CompiledAttention } from './kernels.ts';
import { loadAddon } from './native.ts';
import { CONFIGS_DIR, GENERATED_DIR, PACKAGE_ROOT } from './paths.ts';

export interface Shipped {
  readonly addon: BuiltAddon;
  /** By the export name in configs/. */
  readonly kernels: ReadonlyMap<string, CompiledAttention>;
}

export function generatedSources(dir = GENERATED_DIR): Map<string, string> {
  const cpp = path.join(dir, 'cpp');
  if (!existsSync(cpp)) throw new KvforgeError('KVF4003', `${cpp} does not exist`, { hint: 'run kvforge gen' });
  return new Map(readdirSync(cpp).filter((f) => f.endsWith('.cpp')).sort().map((f) => [f, readFileSync(path.join(cpp, f), 'utf8')]));
}

export async function loadShipped(opts: BuildOptions = {}): Promise<Shipped> {
  const addon = await buildAddon(generatedSources(), opts);
  const native = loadAddon(addon.path);
  const kernels = new Map<string, CompiledAttention>();
  for (const f of configFiles(CONFIGS_DIR)) {
    for (const n of await loadSpecs(f, PACKAGE_ROOT)) kernels.set(n.exportName, new CompiledAttention(compileUnit(n.spec), native));
  }
  return { addon, kernels };
}
