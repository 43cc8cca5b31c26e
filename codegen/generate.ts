/**
 * Generate the checked-in kernels: every spec of configs/ -> generated/cpp/<id>.cpp, plus
 * generated/manifest.json (kernel id -> its unit data and files; every file written). Deterministic:
 * no times, no absolute paths, stable order; a test regenerates into a temporary folder and diffs.
 * Writing a set into a folder is writeGenerated.ts (which never deletes what gen did not write).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AttentionSpec } from '../dsl/attention.ts';
import { renderKernel } from './backends/render.ts';
import { loadSpecs, type NamedSpec } from './loadSpecs.ts';
import { MANIFEST, manifestText, shippedName, type ManifestKernel } from './manifest.ts';
import { compileUnit, type KernelUnit } from './pipeline.ts';
import type { KernelPlan } from './planner/plan.ts';
import { provenanceOf } from './backends/provenance.ts';
import { kernelFile, shippedUnit, TARGET_DIRS } from './unit.ts';
import type { SchemeSpec } from '../dsl/scheme/scheme.ts';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { compileScheme } from './scheme/compileScheme.ts';
import { declarationOf } from './scheme/manifestScheme.ts';
import type { VariantKey } from './scheme/variants.ts';

export { GENERATOR } from './manifest.ts';
export { writeGenerated, type WriteOptions } from './writeGenerated.ts';

export interface GeneratedSet {
  /** Relative path (posix) -> content. */
  readonly files: Map<string, string>;
  /** One per kernel, with the first export it was generated for. */
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
  const kernels = new Map<string, ManifestKernel & { shipped: string[] }>();
  const schemes = new Map<string, { source: string; spec: SchemeSpec; kernels: Partial<Record<VariantKey, string[]>> }>();
  for (const origin of named) {
    for (const planOverrides of origin.plans) {
      const unit = compileUnit(origin.spec, { ...planOverrides, ...plan });
      const shipped = shippedName(origin.exportName, unit.plan);
      if (origin.scheme) {
        const { exportName, spec, key } = origin.scheme;
        const source = `${origin.file}#${exportName}`;
        const entry = schemes.get(exportName) ?? { source, spec, kernels: {} };
        if (entry.source !== source) {
          throw new KvforgeError('KVF4004', `two files export a scheme named '${exportName}' (${entry.source} and ${source})`, { hint: 'rename one: the manifest records schemes by export name' });
        }
        const ids = entry.kernels[key] ?? (entry.kernels[key] = []);
        if (!ids.includes(unit.id)) ids.push(unit.id);
        schemes.set(exportName, entry);
      }
      // Exports that compile to one kernel (one spec exported twice; with run-time parameters,
      // specs that differ only in their values) share it: one file, one entry, each name.
      const known = kernels.get(unit.id);
      if (known) {
        if (!known.shipped.includes(shipped)) known.shipped.push(shipped);
        continue;
      }
      const rel = kernelFile(unit);
      const source = `${origin.file}#${origin.exportName}`;
      files.set(rel, renderKernel(unit, provenanceOf(unit, source)));
      units.push({ unit, origin });
      kernels.set(unit.id, { ...shippedUnit(unit), source, shipped: [shipped], files: [rel] });
    }
  }
  const manifestSchemes = [...schemes].map(([exportName, e]) => ({
    exportName, source: e.source, declaration: declarationOf(e.spec), plan: compileScheme(e.spec), kernels: e.kernels,
  }));
  files.set(MANIFEST, manifestText([...kernels.values()], [...files.keys()], manifestSchemes));
  return { files, units };
}

/**
 * What compile() builds: for each entry its unit and its kernel source, by file name. A run-time
 * compile has no source file: the provenance names the spec.
 */
export function generateForCompile(entries: ReadonlyArray<{ readonly spec: AttentionSpec; readonly plan?: Partial<KernelPlan> }>): Array<{ unit: KernelUnit; file: string; text: string }> {
  return entries.map(({ spec, plan }) => {
    const unit = compileUnit(spec, plan);
    return { unit, file: path.basename(kernelFile(unit)), text: renderKernel(unit, provenanceOf(unit)) };
  });
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
