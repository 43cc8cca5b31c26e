/**
 * The kernels kvforge ships: generated/cpp (checked in, generated from configs/) built into one
 * addon through the cache, paired with the specs of configs/ by kernel id.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { configFiles, loadSpecs } from '../../codegen/loadSpecs.ts';
import { compileUnit } from '../../codegen/pipeline.ts';
import type { KernelPlan } from '../../codegen/planner/plan.ts';
import { loadBuiltAddon, type BuildOptions, type BuiltAddon } from '../build/addon.ts';
import { CompiledAttention } from './kernels.ts';
import { CONFIGS_DIR, GENERATED_DIR, PACKAGE_ROOT } from '../build/paths.ts';

export interface Shipped {
  readonly addon: BuiltAddon;
  /** By the export name in configs/ for C++ kernels, `<export>@cuda-<dtype>` for CUDA ones. */
  readonly kernels: ReadonlyMap<string, CompiledAttention>;
}

/** Every generated kernel source (C++ and CUDA), by file name. */
export function generatedSources(dir = GENERATED_DIR): Map<string, string> {
  const cpp = path.join(dir, 'cpp');
  if (!existsSync(cpp)) throw new KvforgeError('KVF4003', `${cpp} does not exist`, { hint: 'run kvforge gen' });
  const files = new Map<string, string>();
  for (const sub of ['cpp', 'cuda']) {
    const d = path.join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).sort()) if (/\.(cpp|cu)$/.test(f)) files.set(f, readFileSync(path.join(d, f), 'utf8'));
  }
  return files;
}

/** The name a shipped kernel goes by. */
export function shippedName(exportName: string, plan: KernelPlan): string {
  return plan.target === 'cpp' ? exportName : `${exportName}@${plan.target}-${plan.dtype}`;
}

export async function loadShipped(opts: BuildOptions = {}): Promise<Shipped> {
  const { built: addon, native } = await loadBuiltAddon(generatedSources(), opts);
  const kernels = new Map<string, CompiledAttention>();
  for (const f of configFiles(CONFIGS_DIR)) {
    for (const n of await loadSpecs(f, PACKAGE_ROOT)) {
      for (const p of n.plans) {
        const unit = compileUnit(n.spec, p);
        kernels.set(shippedName(n.exportName, unit.plan), new CompiledAttention(unit, native));
      }
    }
  }
  return { addon, kernels };
}
