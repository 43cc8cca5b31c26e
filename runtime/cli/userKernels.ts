/**
 * The kernels a user's variant files ask for, as `gen`, `fuzz` and `explain` all read them: every
 * exported defineAttention(...) result, once per entry of the file's `kernelPlans[exportName]`
 * (one default C++ kernel when the file exports no plans for it). Reading the plans in one place
 * is what keeps `fuzz` from checking a different set of kernels than `gen` writes.
 */
import path from 'node:path';
import { loadSpecs, type NamedSpec } from '../../codegen/loadSpecs.ts';
import type { KernelPlan } from '../../codegen/planner/plan.ts';
import type { AttentionSpec } from '../../dsl/attention.ts';

export interface PlannedKernel {
  readonly file: string;
  readonly exportName: string;
  readonly spec: AttentionSpec;
  readonly plan: Partial<KernelPlan>;
}

/** Every (export, plan) pair of `specs`, in export order, plans in the order the file lists them. */
export function plannedKernels(specs: readonly NamedSpec[]): PlannedKernel[] {
  return specs.flatMap((s) => s.plans.map((plan) => ({ file: s.file, exportName: s.exportName, spec: s.spec, plan })));
}

/** Load each file (relative to the working directory) and list its planned kernels. */
export async function userKernels(files: readonly string[]): Promise<PlannedKernel[]> {
  const specs: NamedSpec[] = [];
  for (const f of files) specs.push(...(await loadSpecs(path.resolve(f), process.cwd())));
  return plannedKernels(specs);
}
