/**
 * A user's own project around a packed kvforge, as specs/package.test.ts builds it: a folder with
 * a package.json that depends on the tarball, installed with `npm ci` from a lockfile written here.
 *
 * Why a lockfile: `npm install <tgz>` must resolve kvforge's dependencies, which needs registry
 * metadata that a CI machine's npm cache does not hold (the repo's own `npm ci` fetches tarballs
 * only). The repo's package-lock.json already pins every one of those dependencies with its
 * tarball URL and integrity, so the user's lockfile takes their entries from it, and `npm ci`
 * then finds every tarball in the cache the repo's `npm ci` filled: no network, a few seconds.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

interface LockEntry {
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly [field: string]: unknown;
}

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly license?: string;
  readonly bin?: Record<string, string>;
  readonly engines?: Record<string, string>;
  readonly dependencies: Record<string, string>;
  readonly devDependencies: Record<string, string>;
}

export interface UserProjectOptions {
  /** kvforge's clone: its package.json and package-lock.json. */
  readonly repo: string;
  /** The `npm pack` tarball. */
  readonly tarball: string;
  /** An empty folder to make the project in. */
  readonly dir: string;
  /** Write `"type": "module"` into the user's package.json. */
  readonly typeModule: boolean;
  /** The user's own devDependencies, taken from kvforge's (e.g. typescript for `npx tsc`). */
  readonly devDependencies: readonly string[];
}

/** Where node would find `dep` from the lockfile path `from` (nearest node_modules upwards). */
function resolveIn(entries: Record<string, LockEntry>, from: string, dep: string): string | undefined {
  for (let base = from; ; ) {
    const at = `${base ? `${base}/` : ''}node_modules/${dep}`;
    if (entries[at]) return at;
    if (!base) return undefined;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

/** Write package.json and package-lock.json of a user project depending on the tarball. */
export function writeUserProject(o: UserProjectOptions): void {
  const manifest = JSON.parse(readFileSync(path.join(o.repo, 'package.json'), 'utf8')) as Manifest;
  const entries = (JSON.parse(readFileSync(path.join(o.repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  const tgz = path.basename(o.tarball);
  copyFileSync(o.tarball, path.join(o.dir, tgz));
  const dev = Object.fromEntries(o.devDependencies.map((d) => [d, manifest.devDependencies[d]!]));
  const user = {
    name: 'kvforge-user', version: '1.0.0', private: true, ...(o.typeModule ? { type: 'module' } : {}),
    dependencies: { kvforge: `file:${tgz}` }, devDependencies: dev,
  };
  writeFileSync(path.join(o.dir, 'package.json'), `${JSON.stringify(user, null, 2)}\n`);

  // Everything reachable from kvforge's dependencies and the user's devDependencies, by node's
  // lookup rules over the repo's (hoisted) tree; optional and peer edges only where present.
  const picked = new Map<string, LockEntry>();
  const queue: string[] = [];
  const visit = (from: string, deps: Record<string, string> | undefined, required: boolean) => {
    for (const d of Object.keys(deps ?? {})) {
      const at = resolveIn(entries, from, d);
      if (!at) {
        if (required) throw new Error(`package-lock.json has no entry for ${d} (needed by ${from || 'the root'})`);
        continue;
      }
      if (!picked.has(at)) {
        picked.set(at, entries[at]!);
        queue.push(at);
      }
    }
  };
  visit('', manifest.dependencies, true);
  visit('', dev, true);
  while (queue.length) {
    const at = queue.shift()!;
    const e = entries[at]!;
    visit(at, e.dependencies, true);
    visit(at, e.optionalDependencies, false);
    visit(at, e.peerDependencies, false);
  }
  const integrity = `sha512-${createHash('sha512').update(readFileSync(o.tarball)).digest('base64')}`;
  const packages = {
    '': { name: user.name, version: user.version, dependencies: user.dependencies, devDependencies: dev },
    'node_modules/kvforge': {
      version: manifest.version, resolved: `file:${tgz}`, integrity, license: manifest.license,
      dependencies: manifest.dependencies, bin: manifest.bin, engines: manifest.engines,
    },
    ...Object.fromEntries([...picked].sort(([a], [b]) => a.localeCompare(b))),
  };
  const lock = { name: user.name, version: user.version, lockfileVersion: 3, requires: true, packages };
  writeFileSync(path.join(o.dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
}
