/**
 * Generate the checked-in kernels: every spec of configs/ -> generated/cpp/<id>.cpp, plus
 * generated/manifest.json (kernel id -> spec hash, plan, files; every file written). Deterministic:
 * no times, no absolute paths, stable order; a test regenerates into a temporary folder and diffs.
 * Writing a set into a folder is writeGenerated.ts (which never deletes what gen did not write).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { kernelFile, renderKernel, TARGET_DIRS } from './backends/render.ts';
import { loadSpecs, type NamedSpec } from './loadSpecs.ts';
import { MANIFEST, manifestText } from './manifest.ts';
import { compileUnit, type KernelUnit } from './pipeline.ts';
import type { KernelPlan } from './planner/plan.ts';
import { provenanceOf } from './backends/provenance.ts';

export { GENERATOR } from './manifest.ts';
export { writeGenerated, type WriteOptions } from './writeGenerated.ts';

export interface GeneratedSet {
  /** Relative path (posix) -> content. */
  readonly files: Map<string, string>;
  readonly units: ReadonlyArray<{ unit: KernelUnit; origin: NamedSpec }>;
}

export async function generateFromFiles(files: readonly string[], root: string, plan?: Partial<KernelPlan>): Promise<GeneratedSet> {
  const named: NamedSpec[] = [];
  for (const f of files) named.push(...(await loadSpecs(f, root)));
  return generate(named, plan);
}

export function generate(named: readonly NamedSpec[], plan?: Partial<KernelPlan>): GeneratedSet {
  const files = new Map<string, string>();
  const units: Array<{ unit: KernelUnit; origin: NamedSpec }> = [];
  const manifest: Record<string, unknown> = {};
  for (const origin of named) {
    for (const planOverrides of origin.plans) {
      const unit = compileUnit(origin.spec, { ...planOverrides, ...plan });
      const rel = kernelFile(unit);
      if (files.has(rel)) continue; // two exports of one spec share a kernel
      files.set(rel, renderKernel(unit, provenanceOf(unit, `${origin.file}#${origin.exportName}`)));
      units.push({ unit, origin });
      manifest[unit.id] = {
        name: unit.name, source: `${origin.file}#${origin.exportName}`, specHash: unit.specHash, plan: unit.plan,
        heads: unit.spec.heads, headDim: unit.spec.headDim, valueDim: unit.spec.valueDim,
        params: unit.params.map((p) => ({ name: p.name, type: p.type, value: p.value })), files: [rel],
      };
    }
  }
  files.set(MANIFEST, manifestText(manifest, [...files.keys()]));
  return { files, units };
}

/** Differences between `set` and what `dir` holds: missing, changed and stray files. */
export function diffGenerated(set: GeneratedSet, dir: string): string[] {
  const diffs: string[] = [];
  for (const [rel, text] of set.files) {
    const p = path.join(dir, rel);
    if (!existsSync(p)) diffs.push(`missing: ${rel}`);
    else if (readFileSync(p, 'utf8') !== text) diffs.push(`changed: ${rel}`);
  }
  for (const t of TARGET_DIRS) {
    const sub = path.join(dir, t);
    if (!existsSync(sub)) continue;
    for (const f of readdirSync(sub)) if (!set.files.has(`${t}/${f}`)) diffs.push(`stray: ${t}/${f}`);
  }
  return diffs;
}
