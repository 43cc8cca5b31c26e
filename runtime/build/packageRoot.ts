/**
 * Finding kvforge's own package folder from one of its modules.
 *
 * kvforge's modules run from two places: their TypeScript source in a clone (`runtime/build/paths.ts`)
 * and the compiled package (`dist/runtime/build/paths.js`). A fixed number of `..` would be wrong in one
 * of them, so the root is found by what it holds: the package.json named `kvforge`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { internalError } from '../../dsl/diagnostics.ts';

/** The package.json fields kvforge reads about itself. */
export interface OwnManifest {
  readonly name: string;
  readonly version: string;
  readonly devDependencies: Readonly<Record<string, string>>;
}

function manifestAt(dir: string): OwnManifest | undefined {
  const file = path.join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Partial<OwnManifest>;
    if (m.name !== 'kvforge' || typeof m.version !== 'string') return undefined;
    return { name: m.name, version: m.version, devDependencies: m.devDependencies ?? {} };
  } catch {
    return undefined; // an unreadable package.json on the way up is not kvforge's: keep looking
  }
}

/** The nearest folder at or above `from` whose package.json is kvforge's. */
export function findPackageRoot(from: string): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (manifestAt(dir)) return dir;
    // Not the user's doing: kvforge's files were separated from their package.json.
    if (path.dirname(dir) === dir) internalError(`no package.json named 'kvforge' at or above ${from}`);
  }
}

/** kvforge's own name and version, from the package.json in `root`. */
export function ownManifest(root: string): OwnManifest {
  return manifestAt(root) ?? internalError(`${root} holds no package.json named 'kvforge'`);
}
