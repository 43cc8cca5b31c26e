/**
 * manifest.json of a folder `kvforge gen` writes: which kernels it holds, as plain unit data
 * (unit.ts: plan, shape, scale, final IR, parameters), and which files gen wrote there.
 *
 * Two readers. gen reads a folder's manifest back to know what it may delete on the next run
 * (readPriorManifest): only the files the manifest lists, and only when each has the form of a
 * generated file name. The runtime reads generated/manifest.json to load the shipped kernels
 * (readManifest), checking every field, so it never needs the specs of configs/ or the front end.
 * Numbers JSON cannot carry (-0 in the IR or a parameter) are boxed (json.ts).
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MAX_HEAD_DIM } from '../dsl/attention.ts';
import { KvforgeError } from '../dsl/diagnostics.ts';
import { canonicalJson } from './hash.ts';
import { BINARY_FNS, E, INDEX_NAMES, UNARY_FNS, type Expr, type IndexName } from './ir/expr.ts';
import { MAX_IR_DEPTH } from './ir/depth.ts';
import { parseData, stringifyData } from './json.ts';
import { describe, FieldReader } from './fieldReader.ts';
import { readManifestScheme, type ManifestScheme } from './scheme/manifestScheme.ts';
import { makePlan, type KernelPlan } from './planner/plan.ts';
import { GENERATED_FILE, KERNEL_ID, kernelFile, type KernelUnitData, type ParamSlot } from './unit.ts';

/**
 * Format 4 adds `schemes` (scheme/manifestScheme.ts); 3 added each kernel's unit data; 2 added
 * `files`; format 1 listed files per kernel only.
 */
export const GENERATOR = 'kvforge-codegen 4';
const GENERATOR_FORMAT = /^kvforge-codegen ([1234])$/;
export const MANIFEST = 'manifest.json';

/** One kernel of a manifest: its unit data, where it came from, the names it ships as, its files. */
export interface ManifestKernel extends KernelUnitData {
  /** `file#export` of the first export it was generated for (what its provenance line names). */
  readonly source: string;
  /** What loadShipped calls it: one name per export (and plan) it was generated for. */
  readonly shipped: readonly string[];
  readonly files: readonly string[];
}

export interface Manifest {
  readonly files: readonly string[];
  /** Sorted by id. */
  readonly kernels: readonly ManifestKernel[];
  /** The schemes gen compiled, sorted by export name. */
  readonly schemes: readonly ManifestScheme[];
}

/** The name a shipped kernel goes by: the export name for C++ kernels, `<export>@cuda-<dtype>` for CUDA ones. */
export function shippedName(exportName: string, plan: KernelPlan): string {
  return plan.target === 'cpp' ? exportName : `${exportName}@${plan.target}-${plan.dtype}`;
}

/** A kernel as it is written: keyed by id, run-time parameters by name, absent IR as null. */
function entryOf(k: ManifestKernel): Record<string, unknown> {
  return {
    name: k.name, source: k.source, shipped: k.shipped, specHash: k.specHash, plan: k.plan,
    heads: k.heads, headDim: k.headDim, valueDim: k.valueDim, scale: k.scale,
    params: k.params, runtimeParams: k.runtimeParams.map((p) => p.name),
    mask: k.mask ?? null, score: k.score ?? null, files: k.files,
  };
}

/** The manifest's text: `kernels` sorted by id, `files` (every generated file but the manifest) sorted. */
export function manifestText(kernels: readonly ManifestKernel[], files: readonly string[], schemes: readonly ManifestScheme[] = []): string {
  const sorted = [...kernels].sort((a, b) => (a.id < b.id ? -1 : 1));
  const sch = [...schemes].sort((a, b) => (a.exportName < b.exportName ? -1 : 1));
  return `${stringifyData({
    generator: GENERATOR, files: [...files].sort(), kernels: Object.fromEntries(sorted.map((k) => [k.id, entryOf(k)])),
    schemes: Object.fromEntries(sch.map((m) => [m.exportName, { source: m.source, declaration: m.declaration, plan: m.plan, kernels: m.kernels }])),
  })}\n`;
}

/** What an output folder holds before gen writes: nothing of gen's, someone else's manifest.json, or gen's files. */
export type PriorManifest =
  | { readonly kind: 'none' }
  | { readonly kind: 'foreign'; readonly why: string }
  | { readonly kind: 'ours'; readonly files: readonly string[] };

function unsafe(detail: string, hint: string): never {
  throw new KvforgeError('KVF4011', detail, { hint });
}

/**
 * Read `dir`/manifest.json. Not there: 'none'. Not JSON, or not written by kvforge: 'foreign' (the
 * folder is not gen's). Written by kvforge but a link, not a file, or listing anything but a
 * generated file name (`../victim`, an absolute path): refused with KVF4011, since gen would
 * otherwise delete what that entry names.
 */
export function readPriorManifest(dir: string): PriorManifest {
  const file = path.join(dir, MANIFEST);
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return { kind: 'none' };
  }
  if (!st.isFile()) unsafe(`${file} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; kvforge gen does not follow links out of its output folder`, `remove ${file}, or choose another --out`);
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { kind: 'foreign', why: `${MANIFEST} is not JSON` };
  }
  const o = (typeof m === 'object' && m !== null ? m : {}) as { generator?: unknown; files?: unknown; kernels?: unknown };
  const format = typeof o.generator === 'string' ? GENERATOR_FORMAT.exec(o.generator)?.[1] : undefined;
  if (!format) return { kind: 'foreign', why: `${MANIFEST} was not written by kvforge gen` };
  const bad = (what: string): never => unsafe(`${file} is a kvforge manifest but ${what}; kvforge gen deletes only generated files it listed, so it will not guess`,
    `restore or remove ${file} (gen then treats the folder as not its own: pass --force to write into it)`);
  let files: unknown[];
  if (format !== '1') {
    if (!Array.isArray(o.files)) bad("its 'files' is not a list");
    files = o.files as unknown[];
  } else {
    if (typeof o.kernels !== 'object' || o.kernels === null) bad("its 'kernels' is not an object");
    files = Object.values(o.kernels as Record<string, { files?: unknown }>).flatMap((k) => (Array.isArray(k?.files) ? k.files : [k?.files]));
  }
  for (const f of files) {
    if (typeof f !== 'string' || !GENERATED_FILE.test(f)) bad(`it lists ${JSON.stringify(f)}, which is not a generated file name (cpp/<id>.cpp or cuda/<id>.cu)`);
  }
  return { kind: 'ours', files: files as string[] };
}

/**
 * Read and check `dir`/manifest.json as the runtime does: every field of every kernel, the IR node
 * by node. Anything missing, malformed, of an older format or not kvforge's is KVF4012 naming the
 * field (`kernels.causal_5be759ce41.plan.tileQ`).
 */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST);
  const fail = (at: string, detail: string): never => {
    throw manifestError(`${file}${at ? `: ${at}` : ''}`, detail);
  };
  if (!existsSync(file)) fail('', 'is missing');
  let data: unknown;
  try {
    data = parseData(readFileSync(file, 'utf8'));
  } catch (e) {
    fail('', `is not JSON (${(e as Error).message})`);
  }
  const r = new FieldReader(fail);
  const top = r.object(data, '');
  if (top.generator !== GENERATOR) {
    const format = typeof top.generator === 'string' ? GENERATOR_FORMAT.exec(top.generator)?.[1] : undefined;
    fail('generator', format ? `is '${top.generator}', an older format that records no ${format === '3' ? 'schemes' : 'kernel data'} (this kvforge reads '${GENERATOR}')`
      : `is ${describe(top.generator)}: the file was not written by kvforge gen`);
  }
  const files = r.list(top.files, 'files').map((f, i) => r.string(f, `files[${i}]`, GENERATED_FILE));
  const kernels = Object.entries(r.object(top.kernels, 'kernels')).map(([id, k]) => readKernel(r, id, k, `kernels.${id}`));
  const listed = [...new Set(kernels.flatMap((k) => k.files))].sort();
  if (canonicalJson(listed) !== canonicalJson([...files].sort())) fail('files', `lists ${files.length} files, but its kernels list ${listed.length} (${listed.join(', ')})`);
  const byId = new Map(kernels.map((k) => [k.id, k]));
  const schemes = Object.entries(r.object(top.schemes, 'schemes')).map(([name, x]) => readManifestScheme(r, name, x, `schemes.${name}`, (id) => byId.get(id)));
  return { files, kernels: kernels.sort((a, b) => (a.id < b.id ? -1 : 1)), schemes: schemes.sort((a, b) => (a.exportName < b.exportName ? -1 : 1)) };
}

/** KVF4012: `what` (a manifest, or one of its fields) is not what the runtime can load. */
export function manifestError(what: string, detail: string): KvforgeError {
  return new KvforgeError('KVF4012', `${what} ${detail}`, {
    hint: 'regenerate it with `kvforge gen` (npm run gen in a clone of kvforge), or reinstall kvforge',
  });
}


function readKernel(r: FieldReader, id: string, x: unknown, at: string): ManifestKernel {
  if (!KERNEL_ID.test(id)) r.fail(at, `is not a kernel id (of the form ${KERNEL_ID})`);
  const o = r.object(x, at);
  const headDim = r.int(o.headDim, `${at}.headDim`, 1, MAX_HEAD_DIM);
  const valueDim = r.int(o.valueDim, `${at}.valueDim`, 1, MAX_HEAD_DIM);
  const plan = readPlan(r, o.plan, `${at}.plan`, { headDim, valueDim });
  const ho = r.object(o.heads, `${at}.heads`);
  const heads = { q: r.int(ho.q, `${at}.heads.q`, 1, 2 ** 31 - 1), kv: r.int(ho.kv, `${at}.heads.kv`, 1, 2 ** 31 - 1) };
  if (heads.q % heads.kv !== 0) r.fail(`${at}.heads`, `has q = ${heads.q}, not a multiple of kv = ${heads.kv}`);
  const runtime = plan.paramMode === 'runtime';
  const params = r.list(o.params, `${at}.params`).map((p, i): ParamSlot => {
    const pat = `${at}.params[${i}]`;
    const po = r.object(p, pat);
    const slot = { name: r.string(po.name, `${pat}.name`), type: r.oneOf(po.type, `${pat}.type`, ['int', 'float'] as const), origin: r.string(po.origin, `${pat}.origin`) };
    if (runtime) {
      if (po.value !== undefined) r.fail(`${pat}.value`, 'must be absent: a kernel with run-time parameters records no values');
      return slot;
    }
    return { ...slot, value: r.number(po.value, `${pat}.value`) };
  });
  const names = r.list(o.runtimeParams, `${at}.runtimeParams`).map((n, i) => r.string(n, `${at}.runtimeParams[${i}]`));
  const expected = runtime ? params.map((p) => p.name) : [];
  if (canonicalJson(names) !== canonicalJson(expected)) r.fail(`${at}.runtimeParams`, `must be ${JSON.stringify(expected)} (paramMode '${plan.paramMode}'), got ${JSON.stringify(names)}`);
  const declared = new Map((runtime ? params : []).map((p) => [p.name, p.type]));
  const ir = (v: unknown, field: 'mask' | 'score') => (v === null ? undefined : readExpr(r, v, `${at}.${field}`, declared, 0));
  const files = r.list(o.files, `${at}.files`).map((f, i) => r.string(f, `${at}.files[${i}]`));
  if (canonicalJson(files) !== canonicalJson([kernelFile({ id, plan })])) r.fail(`${at}.files`, `must be ["${kernelFile({ id, plan })}"], got ${JSON.stringify(files)}`);
  return {
    id, name: r.string(o.name, `${at}.name`), source: r.string(o.source, `${at}.source`),
    shipped: r.list(o.shipped, `${at}.shipped`).map((s, i) => r.string(s, `${at}.shipped[${i}]`)),
    specHash: r.string(o.specHash, `${at}.specHash`, /^[0-9a-f]{16}$/), plan, heads, headDim, valueDim,
    scale: r.number(o.scale, `${at}.scale`), mask: ir(o.mask, 'mask'), score: ir(o.score, 'score'),
    params, runtimeParams: params.filter((p) => names.includes(p.name)), files,
  };
}

/** A plan must list every field with a value makePlan accepts for this shape. */
function readPlan(r: FieldReader, x: unknown, at: string, shape: { headDim: number; valueDim: number }): KernelPlan {
  const o = r.object(x, at);
  let plan: KernelPlan;
  try {
    plan = makePlan(o as Partial<KernelPlan>, shape);
  } catch (e) {
    if (!(e instanceof KvforgeError)) throw e;
    return r.fail(at, e.detail.replace(/^kernel plan: /, ''));
  }
  const missing = Object.keys(plan).filter((k) => !Object.hasOwn(o, k));
  if (missing.length) r.fail(at, `must list every field, and lacks ${missing.join(', ')}`);
  return plan;
}

/** One IR node and its children, rebuilt through the E constructors (so every type is recomputed and must agree). */
function readExpr(r: FieldReader, x: unknown, at: string, params: ReadonlyMap<string, 'int' | 'float'>, depth: number): Expr {
  if (depth > MAX_IR_DEPTH) r.fail(at, `nests deeper than ${MAX_IR_DEPTH} levels`);
  const o = r.object(x, at);
  const sub = (field: string) => readExpr(r, o[field], `${at}.${field}`, params, depth + 1);
  let e: Expr;
  switch (o.op) {
    case 'const': {
      const type = r.oneOf(o.type, `${at}.type`, ['int', 'float', 'bool'] as const);
      if (type === 'bool') {
        if (typeof o.value !== 'boolean') r.fail(`${at}.value`, `must be a boolean, got ${describe(o.value)}`);
        e = E.bool(o.value as boolean);
      } else if (type === 'int') {
        e = E.int(r.int(o.value, `${at}.value`, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
      } else {
        if (typeof o.value !== 'number') r.fail(`${at}.value`, `must be a number, got ${describe(o.value)}`);
        e = E.float(o.value as number);
      }
      break;
    }
    case 'index': e = E.index(r.oneOf(o.name, `${at}.name`, INDEX_NAMES) as IndexName); break;
    case 'param': {
      const name = r.string(o.name, `${at}.name`);
      const type = params.get(name) ?? r.fail(`${at}.name`, `is '${name}', which is not among the kernel's run-time params`);
      e = E.param(name, type);
      break;
    }
    case 'score': e = E.score(); break;
    case 'unary': e = E.unary(r.oneOf(o.fn, `${at}.fn`, UNARY_FNS), sub('arg')); break;
    case 'binary': e = E.binary(r.oneOf(o.fn, `${at}.fn`, BINARY_FNS), sub('lhs'), sub('rhs')); break;
    case 'select': e = E.select(sub('cond'), sub('then'), sub('else')); break;
    default: return r.fail(`${at}.op`, `must be an IR node ('const', 'index', 'param', 'score', 'unary', 'binary' or 'select'), got ${describe(o.op)}`);
  }
  if (o.type !== e.type) r.fail(`${at}.type`, `must be '${e.type}', got ${describe(o.type)}`);
  return e;
}
