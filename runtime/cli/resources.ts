/** `kvforge resources [--json] [--check]` */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import {
  findNvcc, formatResourceTable, generatedCudaSources, RESOURCES_JSON, resourceReport, serializeReport, spillingFunctions,
} from '../tools/resources.ts';

export async function resourcesCommand(o: { json?: boolean; check?: boolean; verbose?: boolean }): Promise<void> {
  const rel = path.relative(process.cwd(), RESOURCES_JSON) || RESOURCES_JSON;
  const nvcc = findNvcc();
  if (!nvcc) {
    console.log(`kvforge resources: nvcc is not on PATH (nor in $NVCC): no resource report; ${rel} left as it is.`);
    return;
  }
  const sources = generatedCudaSources();
  if (sources.size === 0) throw new KvforgeError('KVF4003', 'generated/cuda holds no .cu file', { hint: 'run kvforge gen' });
  const t0 = performance.now();
  const report = await resourceReport(sources, { nvcc, log: o.verbose ? (l) => process.stderr.write(`${l}\n`) : undefined });
  const seconds = (performance.now() - t0) / 1000;
  const text = serializeReport(report);
  console.log(o.json ? text.trimEnd() : formatResourceTable(report));
  const spills = spillingFunctions(report);
  if (spills.length && !o.json) console.log(`\nspills:\n  ${spills.join('\n  ')}`);
  if (o.check) {
    if (!existsSync(RESOURCES_JSON) || readFileSync(RESOURCES_JSON, 'utf8') !== text) {
      throw new KvforgeError('KVF4001', `${rel} is out of date (${existsSync(RESOURCES_JSON) ? 'changed' : 'missing'})`, {
        hint: 'run kvforge resources and commit the result',
      });
    }
    if (!o.json) console.log(`${rel} up to date (${report.kernels.length} kernels, ${seconds.toFixed(1)} s)`);
    return;
  }
  writeFileSync(RESOURCES_JSON, text);
  if (!o.json) console.log(`${rel} written (${report.kernels.length} kernels, ${seconds.toFixed(1)} s)`);
}
