#!/usr/bin/env node
// The `kvforge` command. A user's variant files (and kvforge's own configs/) are TypeScript, loaded
// as they are through tsx's loader: no build step between editing a variant and running it.
//
// Variant files are loaded as ES modules even in a package without "type": "module" (loaderHooks.mjs).
// Which kvforge runs: installed (this file inside node_modules/), the compiled JavaScript in dist/;
// in a clone, the TypeScript sources, so what you edit is what runs, with the `kvforge-source`
// export condition on so that a variant file importing 'kvforge' gets those same sources. Either
// way a process holds one copy of kvforge, and an error a variant file raises is one the CLI knows.
import { register } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
const installed = fileURLToPath(import.meta.url).split(/[\\/]/).includes('node_modules');
register('./loaderHooks.mjs', import.meta.url, { data: { sourceCondition: !installed } });
if (installed) {
  const main = new URL('../../dist/runtime/cli/main.js', import.meta.url);
  if (!existsSync(main)) {
    const { KvforgeError } = await import('../../dsl/diagnostics.ts');
    const e = new KvforgeError('KVF4013', `${fileURLToPath(main)} is missing: this copy of kvforge was installed without its compiled JavaScript`, {
      hint: `install a packed kvforge (npm pack), or run npm install in ${fileURLToPath(new URL('../..', import.meta.url))} (its prepare script builds dist/)`,
    });
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  await import(main.href);
} else {
  await import('./main.ts');
}
