/** `kvforge explain <file> [export]`: the IR after every stage, the plan, and the kernel source. */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { compileUnit, type StageDump } from '../../codegen/pipeline.ts';
import { renderKernel } from '../../codegen/backends/render.ts';
import { provenanceOf } from '../../codegen/backends/provenance.ts';
import { printExpr } from '../../codegen/backends/cfamily/printer.ts';
import { CPP_DIALECT } from '../../codegen/backends/cfamily/dialect.ts';
import { userKernels } from './userKernels.ts';

const SOURCE_LABEL = { cpp: 'C++', cuda: 'CUDA' } as const;

export async function explainCommand(file: string, only?: string): Promise<void> {
  // One section per kernel gen writes: each export once per entry of its kernelPlans.
  const kernels = (await userKernels([file])).filter((k) => !only || k.exportName === only);
  if (!kernels.length) throw new KvforgeError('KVF4004', `${file} has no export '${only}'`);
  for (const k of kernels) {
    const dumps: StageDump[] = [];
    const unit = compileUnit(k.spec, k.plan, dumps);
    const target = unit.plan.target === 'cpp' ? '' : `, ${unit.plan.target} ${unit.plan.dtype}`;
    console.log(`=== ${k.exportName} (${unit.id}${target})`);
    for (const d of dumps) {
      console.log(`--- after ${d.stage}${d.note ? `: ${d.note}` : ''}`);
      if (d.mask) console.log(`  mask:  ${printExpr(d.mask, CPP_DIALECT)}`);
      if (d.score) console.log(`  score: ${printExpr(d.score, CPP_DIALECT)}`);
    }
    console.log(`--- ${SOURCE_LABEL[unit.plan.target]}`);
    console.log(renderKernel(unit, provenanceOf(unit, `${k.file}#${k.exportName}`)));
  }
}
