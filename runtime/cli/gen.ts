/**
 * `kvforge gen [files...] [--check] [--out dir] [--force]`. gen deletes only files it wrote into
 * the folder before, and writes into a folder it did not create only with --force
 * (codegen/writeGenerated.ts).
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { configFiles } from '../../codegen/loadSpecs.ts';
import { diffGenerated, generateFromFiles, writeGenerated } from '../../codegen/generate.ts';
import { CONFIGS_DIR, GENERATED_DIR, PACKAGE_ROOT } from '../build/paths.ts';
import { quoteUserText } from '../../codegen/backends/safeText.ts';

export async function genCommand(files: string[], o: { check?: boolean; out: string; force?: boolean }): Promise<void> {
  const own = files.length > 0;
  const inputs = own ? files.map((f) => path.resolve(f)) : configFiles(CONFIGS_DIR);
  const root = own ? process.cwd() : PACKAGE_ROOT;
  const outDir = own ? path.resolve(o.out) : GENERATED_DIR;
  const set = await generateFromFiles(inputs, root);
  if (o.check) {
    const diffs = diffGenerated(set, outDir);
    if (diffs.length) {
      throw new KvforgeError('KVF4001', `${path.relative(process.cwd(), outDir) || '.'} is out of date:\n  ${diffs.join('\n  ')}`, { hint: 'run kvforge gen and commit the result' });
    }
    console.log(`${set.units.length} kernels up to date in ${path.relative(process.cwd(), outDir) || '.'}`);
    return;
  }
  if (own && sameFolder(outDir, GENERATED_DIR)) {
    throw new KvforgeError('KVF4010', `${outDir} is kvforge's own generated/ folder: writing your kernels there would replace the shipped ones`, {
      hint: 'choose another --out for your files',
    });
  }
  if (!own && PACKAGE_ROOT.split(path.sep).includes('node_modules')) {
    throw new KvforgeError('KVF4010', `kvforge gen without files regenerates kvforge's own kernels, here inside the installed package (${GENERATED_DIR})`, {
      hint: 'name your variant files: kvforge gen my-variants.ts --out dir',
    });
  }
  writeGenerated(set, outDir, { force: o.force ?? false });
  // The source is user text: quoted, so no line break or terminal control of the user's is printed.
  for (const { unit, origin } of set.units) console.log(`${unit.id.padEnd(36)} ${quoteUserText(`${origin.file}#${origin.exportName}`)}`);
  console.log(`${set.units.length} kernels written to ${path.relative(process.cwd(), outDir) || '.'}`);
}

/** Whether two paths name one folder (through links); a missing path is no folder. */
function sameFolder(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}
