#!/usr/bin/env node
// `npm run build` (also run by `prepare`, so `npm install` / `npm ci` in a clone and `npm pack`
// produce it): compile kvforge's TypeScript to dist/ as JavaScript, declarations and source maps,
// the way a published TypeScript library ships, and copy the files the compiled modules read
// next to them (the handlebars templates, which codegen/backends/render.ts loads relative to its
// own module). dist/ is rebuilt from nothing each time, so a deleted source leaves no stale module.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

let typescript;
try {
  typescript = createRequire(import.meta.url).resolve('typescript/package.json');
} catch {
  // `npm install --omit=dev` in a clone has no compiler. Nothing there needs dist/: the clone runs
  // its .ts sources through tsx. A pack or an explicit build does need it, so only an install skips.
  if (process.env.npm_command === 'install' || process.env.npm_command === 'ci') {
    console.log('kvforge build: skipped (typescript is a devDependency and is not installed); this clone runs its .ts sources');
    process.exit(0);
  }
  process.stderr.write('kvforge build: typescript is not installed (npm install, without --omit=dev)\n');
  process.exit(1);
}
const tsc = path.join(path.dirname(typescript), 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(`kvforge build: tsc failed (${r.error?.message ?? `exit ${r.status}`})\n`);
  process.exit(1);
}

// Every non-TypeScript file a module under codegen/ reads through import.meta.url.
const assets = readdirSync(path.join(root, 'codegen'), { recursive: true }).filter((f) => f.endsWith('.hbs'));
for (const f of assets) cpSync(path.join(root, 'codegen', f), path.join(dist, 'codegen', f));
console.log(`kvforge build: dist/ (${assets.length} templates copied)`);
