/**
 * Generate the checked-in kernels: every spec of configs/ -> generated/cpp/<id>.cpp, plus
 * generated/manifest.json (kernel id -> spec hash, plan, files). Deterministic: no times, no
 * absolute paths, stable order; a test regenerates into a temporary folder and diffs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { kernelFile, renderKernel } from './backends/render.ts';
import { loadSpecs, type NamedSpec } from './loadSpecs.ts';
import { compileUnit, type KernelUnit } from './pipeline.ts';
import type { KernelPlan } from './planner/plan.ts';
import { provenanceOf } from './backends/provenance.ts';

export const GENERATOR = 'kvforge-codegen 1';
/** One folder of generated/ per target. */
const TARGET_DIRS = ['cpp', 'cuda'] as const;

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
  const sorted = Object.fromEntries(Object.keys(manifest).sort().map((k) => [k, manifest[k]]));
  files.set('manifest.json', `${JSON.stringify({ generator: GENERATOR, kernels: sorted }, null, 2)}\n`);
  return { files, units };
}

/** Replace `dir`'s generated content with `set`. */
export function writeGenerated(set: GeneratedSet, dir: string): void {
  for (const t of TARGET_DIRS) rmSync(path.join(dir, t), { recursive: true, force: true });
  for (const [rel, text] of set.files) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
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
