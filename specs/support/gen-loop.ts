/**
 * A child for the kill test of specs/gen-out.test.ts: writes two generated sets into argv[2] in
 * turn, forever, and says "ready" after the first; the test kills it at a random moment.
 */
import { configFiles } from '../../codegen/loadSpecs.ts';
import { generateFromFiles, writeGenerated } from '../../codegen/generate.ts';
import { CONFIGS_DIR, PACKAGE_ROOT } from '../../runtime/build/paths.ts';

const out = process.argv[2]!;
const a = await generateFromFiles(configFiles(CONFIGS_DIR), PACKAGE_ROOT);
const b = await generateFromFiles([`${PACKAGE_ROOT}/specs/fixtures/my-variants.ts`], PACKAGE_ROOT);
writeGenerated(a, out);
process.stdout.write('ready\n');
for (let i = 1; ; i++) writeGenerated(i % 2 ? b : a, out);
