/** `kvforge explain <file> [export]`: the IR after every stage, the plan, and the C++. */
import path from 'node:path';
import { KvforgeError } from '../../codegen/diagnostics.ts';
import { loadSpecs } from '../../codegen/loadSpecs.ts';
import { compileUnit, type StageDump } from '../../codegen/pipeline.ts';
import { renderKernel } from '../../codegen/backends/render.ts';
import { provenanceOf } from '../../codegen/backends/provenance.ts';
import { printExpr } from '../../codegen/backends/cfamily/printer.ts';
import { CPP_DIALECT } from '../../codegen/backends/cfamily/dialect.ts';

export async function explainCommand(file: string, only?: string): Promise<void> {
  const specs = (await loadSpecs(path.resolve(file), process.cwd())).filter((s) => !only || s.exportName === only);
  if (!specs.length) throw new KvforgeError('KVF4004', `${file} has no export '${only}'`);
  for (const s of specs) {
    const dumps: StageDump[] = [];
    const unit = compileUnit(s.spec, {}, dumps);
    console.log(`=== ${s.exportName} (${unit.id})`);
    for (const d of dumps) {
      console.log(`--- after ${d.stage}${d.note ? `: ${d.note}` : ''}`);
      if (d.mask) console.log(`  mask:  ${printExpr(d.mask, CPP_DIALECT)}`);
      if (d.score) console.log(`  score: ${printExpr(d.score, CPP_DIALECT)}`);
    }
    console.log('--- C++');
    console.log(renderKernel(unit, provenanceOf(unit, `${s.file}#${s.exportName}`)));
  }
}
