/**
 * The layers, read off the import statements of every .ts file (parsed with ts-morph):
 * - dsl/diagnostics.ts is a leaf: it imports nothing;
 * - dsl/ imports nothing outside dsl/ (Node built-ins aside);
 * - codegen/ imports only dsl/ and codegen/;
 * - loading and running shipped kernels (runtime/api/shipped.ts) and the package entry (index.ts)
 *   reach neither the front end (codegen/frontend/, lower.ts, pipeline.ts) nor ts-morph nor the
 *   templates: what is imported when the module is (static imports, not `import type`, not
 *   `import()`). compile() loads the code generator with import() when it is called.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Node, Project, SyntaxKind } from 'ts-morph';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../runtime/build/paths.ts';

interface Import {
  /** Resolved file (relative to the package root, posix) or the bare specifier. */
  readonly target: string;
  readonly relative: boolean;
  /** `import type` / `export type ... from`: erased, loads nothing. */
  readonly typeOnly: boolean;
  /** `import('...')`: loaded when the code runs, not when the module is. */
  readonly dynamic: boolean;
}

const project = new Project({ skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true });
project.addSourceFilesAtPaths(['index.ts', 'dsl/**/*.ts', 'codegen/**/*.ts', 'runtime/**/*.ts', 'configs/**/*.ts', 'specs/**/*.ts', '!**/node_modules/**']
  .map((g) => (g.startsWith('!') ? `!${path.join(PACKAGE_ROOT, g.slice(1))}` : path.join(PACKAGE_ROOT, g))));
const rel = (abs: string) => path.relative(PACKAGE_ROOT, abs).split(path.sep).join('/');

function resolve(from: string, spec: string): Import['target'] {
  if (!spec.startsWith('.')) return spec;
  const abs = path.resolve(path.dirname(from), spec);
  if (!existsSync(abs)) throw new Error(`${rel(from)}: import '${spec}' names no file`);
  return rel(abs);
}

/** Every import of every file, by file (relative, posix). */
const IMPORTS: ReadonlyMap<string, readonly Import[]> = new Map(project.getSourceFiles().map((sf) => {
  const file = sf.getFilePath();
  const out: Import[] = [];
  const add = (spec: string, typeOnly: boolean, dynamic: boolean) => out.push({ target: resolve(file, spec), relative: spec.startsWith('.'), typeOnly, dynamic });
  for (const d of sf.getImportDeclarations()) add(d.getModuleSpecifierValue(), d.isTypeOnly(), false);
  for (const d of sf.getExportDeclarations()) {
    const spec = d.getModuleSpecifierValue();
    if (spec !== undefined) add(spec, d.isTypeOnly(), false);
  }
  for (const call of sf.getDescendantsOfKind(SyntaxKind.CallExpression)) {
    if (call.getExpression().getKind() !== SyntaxKind.ImportKeyword) continue;
    // A computed specifier is a user's file (codegen/loadSpecs.ts): not one of kvforge's modules.
    const [arg] = call.getArguments();
    if (arg && Node.isStringLiteral(arg)) add(arg.getLiteralValue(), false, true);
  }
  return [rel(file), out] as const;
}));

const under = (dir: string) => (f: string) => f.startsWith(`${dir}/`);
const inDir = (dir: string) => [...IMPORTS.keys()].filter(under(dir));

/** `file -> target` for each import of the files in `files` that `allowed` refuses. */
function violations(files: readonly string[], allowed: (i: Import) => boolean): string[] {
  return files.flatMap((f) => IMPORTS.get(f)!.filter((i) => !allowed(i)).map((i) => `${f} -> ${i.target}`));
}

describe('layering: imports follow dsl <- codegen <- runtime', () => {
  it('reads the whole tree', () => {
    expect(inDir('dsl').length).toBeGreaterThan(5);
    expect(inDir('codegen').length).toBeGreaterThan(20);
    expect(IMPORTS.get('dsl/attention.ts')!.map((i) => i.target)).toContain('dsl/diagnostics.ts');
  });

  it('dsl/diagnostics.ts is a leaf', () => {
    expect(IMPORTS.get('dsl/diagnostics.ts')).toEqual([]);
  });

  it('dsl/ imports nothing outside dsl/ (Node built-ins aside)', () => {
    expect(violations(inDir('dsl'), (i) => (i.relative ? under('dsl')(i.target) : i.target.startsWith('node:')))).toEqual([]);
  });

  it('codegen/ imports only dsl/ and codegen/ (and npm packages)', () => {
    expect(violations(inDir('codegen'), (i) => !i.relative || under('dsl')(i.target) || under('codegen')(i.target))).toEqual([]);
  });
});

/** Every file and package that loading `roots` loads (static value imports, followed through kvforge's files). */
function loadedBy(roots: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const i of IMPORTS.get(f) ?? []) if (!i.typeOnly && !i.dynamic && (i.relative || !seen.has(i.target))) stack.push(i.target);
  }
  return seen;
}

const FRONT_END = (f: string) => f.startsWith('codegen/frontend/') || f === 'codegen/lower.ts' || f === 'codegen/pipeline.ts'
  || f === 'ts-morph' || f.startsWith('ts-morph/') || f === 'handlebars' || f === 'codegen/backends/render.ts';

describe('layering: shipped kernels load without the code generator', () => {
  it('runtime/api/shipped.ts and index.ts reach no front end, ts-morph or templates', () => {
    const loaded = loadedBy(['runtime/api/shipped.ts', 'index.ts']);
    // The walk does see what it should: the runtime, the IR interpreter, the manifest reader.
    for (const f of ['runtime/api/kernels.ts', 'runtime/api/compile.ts', 'runtime/verify/reference.ts', 'codegen/ir/interpret.ts', 'codegen/manifest.ts']) {
      expect(loaded, f).toContain(f);
    }
    expect([...loaded].filter(FRONT_END)).toEqual([]);
  });

  it('the kvforge command loads the code generator only for gen, explain and demo', () => {
    expect([...loadedBy(['runtime/cli/main.ts'])].filter(FRONT_END)).toEqual([]);
    const lazy = IMPORTS.get('runtime/cli/main.ts')!.filter((i) => i.dynamic).map((i) => i.target).sort();
    expect(lazy).toEqual(['runtime/cli/demo.ts', 'runtime/cli/explain.ts', 'runtime/cli/gen.ts']);
  });

  it('compile() reaches the code generator only through import()', () => {
    const lazy = IMPORTS.get('runtime/api/compile.ts')!.filter((i) => i.dynamic).map((i) => i.target);
    expect(lazy).toEqual(['codegen/generate.ts']);
    expect([...loadedBy(lazy)].filter(FRONT_END)).toContain('ts-morph');
  });
});
