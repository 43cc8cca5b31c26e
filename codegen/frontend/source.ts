/**
 * Finding the syntax of a mask or score function.
 *
 * What it means comes from `fn.toString()`: that is the code that actually runs, whatever tsx,
 * esbuild or vitest made of the original. Where errors point comes from the original file when
 * it can be found there: the function passed at the call site whose structure (fingerprint.ts)
 * equals the running code. Otherwise errors point into the function's own text as `<name>`.
 */
import { readFileSync, statSync } from 'node:fs';
import { Node, Project, ts, type SourceFile } from 'ts-morph';
import type { CallSite, FunctionDef } from '../../dsl/types.ts';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { Reporter } from './errors.ts';
import { NESTING_HINT } from './depth.ts';
import { fingerprint } from './fingerprint.ts';
import { blankOutside, callSpan } from './callSpan.ts';
import { isFunctionNode, type FunctionNode } from './signature.ts';

/** The function's syntax, where to report errors, and how to free it once translated. */
export interface FunctionSource {
  readonly node: FunctionNode;
  /** Reports into the user's original file when `node` is from it, else into the function's text. */
  readonly report: Reporter;
  readonly dispose: () => void;
}

// One in-memory project for everything: parsing only, no type checking, no disk access.
const project = new Project({ useInMemoryFileSystem: true, compilerOptions: { allowJs: true } });
let counter = 0;

interface ParsedFile {
  readonly mtimeMs: number;
  readonly size: number;
  readonly sourceFile: SourceFile;
  readonly report: Reporter;
  readonly functions: readonly FunctionNode[];
  readonly fingerprints: Map<FunctionNode, string>;
}

const files = new Map<string, ParsedFile>();

export function readFunction(def: FunctionDef): FunctionSource {
  const text = functionText(def);
  const parsed = parseFunctionText(text, def);
  const found = def.site && originalOrNothing(def, def.site, fingerprint(parsed.node.compilerNode));
  if (found) {
    parsed.dispose();
    return { node: found.node, report: found.report, dispose: found.dispose ?? (() => {}) };
  }
  return { node: parsed.node, report: new Reporter(`<${def.name}>`, text, parsed.prefix), dispose: parsed.dispose };
}

/** A RangeError of V8 running out of stack (TypeScript's parser recurses on nesting). */
function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

/**
 * The function in the original file, or undefined when the file cannot be used. When the whole
 * file nests deeper than TypeScript's parser can follow with the stack left (anywhere in it, not
 * only in this function; how much is left depends on how far V8 has optimised the parser's
 * frames, so it varies from run to run), only the call at the site is parsed, the rest of the
 * file blanked (callSpan.ts): the outcome then does not depend on the rest of the file. A call
 * that itself nests too deeply for the parser is KVF1012, as its own text would be.
 */
function originalOrNothing(def: FunctionDef, site: CallSite, running: string): { node: FunctionNode; report: Reporter; dispose?: () => void } | undefined {
  try {
    return findInOriginal(site, running);
  } catch (e) {
    if (!isStackOverflow(e)) throw e;
    return findAtSite(def, site, running);
  }
}

function findAtSite(def: FunctionDef, site: CallSite, running: string): { node: FunctionNode; report: Reporter; dispose: () => void } | undefined {
  let text: string;
  try {
    text = readFileSync(site.file, 'utf8');
  } catch {
    return undefined;
  }
  const ext = extensionOf(site.file);
  const span = callSpan(text, site.line, site.column, ext === 'tsx' || ext === 'jsx');
  if (!span) return undefined;
  const name = `/__kvforge_site_${counter++}.${ext}`;
  let sf: SourceFile | undefined;
  try {
    sf = project.createSourceFile(name, blankOutside(text, span));
    for (const fn of functionsOf(sf)) {
      if (fingerprint(fn.compilerNode) === running) {
        const own = sf;
        return { node: fn, report: new Reporter(site.file, text), dispose: () => project.removeSourceFile(own) };
      }
    }
    project.removeSourceFile(sf);
    return undefined;
  } catch (e) {
    if (sf) project.removeSourceFile(sf);
    if (!isStackOverflow(e)) throw e;
    throw new KvforgeError('KVF1012', `the ${def.role} '${def.name}' nests too deeply for the TypeScript parser`, {
      location: { file: site.file, line: site.line, column: site.column }, hint: NESTING_HINT,
    });
  }
}

/** The language a file is in, as its transpiler read it (`a < (b) > (c)` differs between them). */
function extensionOf(path: string): 'ts' | 'tsx' | 'js' | 'jsx' {
  return /\.tsx$/.test(path) ? 'tsx' : /\.jsx$/.test(path) ? 'jsx' : /\.[cm]?js$/.test(path) ? 'js' : 'ts';
}

function unreadable(def: FunctionDef, detail: string): never {
  const site = def.site;
  throw new KvforgeError('KVF1010', `cannot read the source of ${def.role} '${def.name}': ${detail}`, {
    ...(site ? { location: { file: site.file, line: site.line, column: site.column } } : {}),
    hint: `pass the ${def.role} function itself, written as an arrow function or a function expression`,
  });
}

function functionText(def: FunctionDef): string {
  if (typeof def.fn !== 'function') unreadable(def, `it is not a function (got ${typeof def.fn})`);
  const text = Function.prototype.toString.call(def.fn);
  // Built-ins and bound functions print as `function f() { [native code] }`: no body to read.
  if (/\{\s*\[native code\]\s*\}\s*$/.test(text)) unreadable(def, 'it is a native or bound function');
  return text;
}

/**
 * Parse the text of a function as an expression. A method prints as `name(b, h) { ... }`, which
 * only parses inside an object literal; everything else parses inside parentheses.
 */
function parseFunctionText(text: string, def: FunctionDef): { node: FunctionNode; prefix: number; dispose: () => void } {
  for (const [open, close] of [['(', ')'], ['({', '})']] as const) {
    // The text is JavaScript (what runs), never TypeScript: in TypeScript `a < (b) > (c)` would
    // parse as a call with a type argument.
    const name = `/__kvforge_fn_${counter++}.js`;
    let sf: SourceFile;
    try {
      sf = project.createSourceFile(name, `${open}${text}\n${close}`);
    } catch (e) {
      if (!isStackOverflow(e)) throw e;
      project.getSourceFile(name)?.forget();
      throw new KvforgeError('KVF1012', `the ${def.role} '${def.name}' nests too deeply for the TypeScript parser`, {
        ...(def.site ? { location: { file: def.site.file, line: def.site.line, column: def.site.column } } : {}),
        hint: NESTING_HINT,
      });
    }
    const node = onlyFunction(sf);
    if (node) return { node, prefix: open.length, dispose: () => project.removeSourceFile(sf) };
    project.removeSourceFile(sf);
  }
  return unreadable(def, `its text does not parse as a function: ${text.slice(0, 60)}`);
}

/**
 * TypeScript's complaints about legacy octal (`017`) and leading-zero (`08`) literals: valid in
 * sloppy JavaScript (a `Function` body), so they are left to the literal reader (literals.ts),
 * whose KVF1011 says what they mean and what to write.
 */
const LITERAL_DIAGNOSTICS = new Set([1121, 1489]);

function hasParseErrors(sf: SourceFile): boolean {
  const diagnostics = (sf.compilerNode as unknown as { parseDiagnostics?: ReadonlyArray<{ code: number }> }).parseDiagnostics;
  return (diagnostics ?? []).some((d) => !LITERAL_DIAGNOSTICS.has(d.code));
}

/** The function a wrapped text consists of: `(fn)` or `({ method() {} })`. */
function onlyFunction(sf: SourceFile): FunctionNode | undefined {
  if (hasParseErrors(sf)) return undefined;
  const statements = sf.getStatements();
  if (statements.length !== 1 || !Node.isExpressionStatement(statements[0])) return undefined;
  let e: Node = statements[0].getExpression();
  while (Node.isParenthesizedExpression(e)) e = e.getExpression();
  if (Node.isObjectLiteralExpression(e)) {
    const props = e.getProperties();
    return props.length === 1 && Node.isMethodDeclaration(props[0]) ? props[0] : undefined;
  }
  return isFunctionNode(e) ? e : undefined;
}

/** The original file, parsed once per version (path, mtime and size). */
function parsedFile(path: string): ParsedFile | undefined {
  let stat;
  let text;
  try {
    stat = statSync(path);
    const cached = files.get(path);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached;
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const old = files.get(path);
  if (old) project.removeSourceFile(old.sourceFile);
  const ext = extensionOf(path);
  const name = `/__kvforge_file_${counter++}.${ext}`;
  let sourceFile: SourceFile | undefined;
  let functions: FunctionNode[];
  try {
    sourceFile = project.createSourceFile(name, text);
    functions = functionsOf(sourceFile);
  } catch (e) {
    files.delete(path);
    if (sourceFile) project.removeSourceFile(sourceFile);
    throw e;
  }
  const entry = { mtimeMs: stat.mtimeMs, size: stat.size, sourceFile, report: new Reporter(path, text), functions, fingerprints: new Map() };
  files.set(path, entry);
  return entry;
}

/**
 * Every function in the file. Found by an iterative walk of the syntax tree, and only the
 * functions are wrapped as ts-morph nodes: getDescendants() recurses (and wraps every node, which
 * ts-morph later forgets recursively), so a file holding a 10^4-term `&&` chain would overflow.
 */
function functionsOf(sf: SourceFile): FunctionNode[] {
  const wrap = (sf as unknown as { _getNodeFromCompilerNode(n: ts.Node): Node })._getNodeFromCompilerNode.bind(sf);
  const out: FunctionNode[] = [];
  const stack: ts.Node[] = [sf.compilerNode];
  while (stack.length) {
    const n = stack.pop()!;
    if (ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) {
      const node = wrap(n);
      if (isFunctionNode(node)) out.push(node);
    }
    const kids: ts.Node[] = [];
    ts.forEachChild(n, (c) => { kids.push(c); });
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
  }
  return out;
}

/**
 * The function in the original file that is the running code: first the ones passed as the
 * first argument of a call at the site line, then of calls after it, then any function in the
 * file, nearest to the site first.
 */
function findInOriginal(site: CallSite, running: string): { node: FunctionNode; report: Reporter } | undefined {
  const file = parsedFile(site.file);
  if (!file) return undefined;
  const rank = (fn: FunctionNode): [number, number] => {
    const parent = fn.getParent();
    const start = fn.getStartLineNumber();
    if (Node.isCallExpression(parent) && parent.getArguments()[0] === fn) {
      const callStart = parent.getStartLineNumber();
      if (callStart <= site.line && site.line <= parent.getEndLineNumber()) return [0, site.line - callStart];
      if (callStart > site.line) return [1, callStart - site.line];
    }
    return [2, Math.abs(start - site.line)];
  };
  const ranked = file.functions.map((fn) => ({ fn, rank: rank(fn) }))
    .sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1]);
  for (const { fn } of ranked) {
    let print = file.fingerprints.get(fn);
    if (print === undefined) {
      print = fingerprint(fn.compilerNode);
      file.fingerprints.set(fn, print);
    }
    if (print === running) return { node: fn, report: file.report };
  }
  return undefined;
}
