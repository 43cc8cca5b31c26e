/**
 * defineMask / defineScore: declare a mask or score function with explicit parameters.
 *
 * The function is kept as it is: the reference runs it as JavaScript, and the front end reads its
 * source to generate kernels. Parameters are declared, never captured, so that every value the
 * kernel depends on is visible to kvforge (a closure over an outer variable is rejected with a
 * hint when the function is translated).
 */
import { KvforgeError } from './diagnostics.ts';
import { captureCallSite } from './callsite.ts';
import { checkParamValue } from './paramValue.ts';
import { checkName } from './name.ts';
import type { CallSite, FunctionDef, MaskFn, ParamDecls, ParamType, ParamValues, ScoreFn } from './types.ts';

const PARAM_TYPES: readonly ParamType[] = ['int32', 'float32'];
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Options of {@link defineMask} and {@link defineScore}. */
export interface DefineOptions<P extends ParamDecls> {
  /** Declared parameters: name -> 'int32' | 'float32'. @defaultValue `{}` */
  readonly params?: P;
  /**
   * Name used in kernel ids, reports and error messages: any non-empty text without control
   * characters, line separators or bidirectional controls (KVF2007; see dsl/name.ts).
   * @defaultValue the function's name, else 'mask' / 'score'
   */
  readonly name?: string;
}

/** A declared function with its parameters bound to values: what attention specs hold. */
export interface Bound<D> {
  readonly def: D;
  readonly values: Readonly<Record<string, number>>;
}

abstract class FunctionDefBase<P extends ParamDecls> implements FunctionDef {
  abstract readonly role: 'mask' | 'score';
  readonly name: string;
  readonly params: P;
  readonly site: CallSite | undefined;
  abstract readonly fn: (...args: never[]) => unknown;

  constructor(name: string, params: P, site: CallSite | undefined) {
    this.name = name;
    this.params = params;
    this.site = site;
  }

  /** Bind every declared parameter; checked here so a bad value fails where it is written. */
  protected bindValues(values: ParamValues<P>): Readonly<Record<string, number>> {
    return validateParamValues(this.name, this.params, values as Record<string, unknown>, captureCallSite(2));
  }
}

/** A declared mask function. Use `.with({...})` to bind its parameters. */
export class MaskDef<P extends ParamDecls = {}> extends FunctionDefBase<P> {
  readonly role = 'mask' as const;
  readonly fn: MaskFn<P>;
  constructor(fn: MaskFn<P>, name: string, params: P, site: CallSite | undefined) {
    super(name, params, site);
    this.fn = fn;
  }
  /** Bind the parameters: `slidingWindow.with({ window: 256 })`. */
  with(values: ParamValues<P>): Bound<MaskDef<P>> {
    return { def: this, values: this.bindValues(values) };
  }
}

/** A declared score function. Use `.with({...})` to bind its parameters. */
export class ScoreDef<P extends ParamDecls = {}> extends FunctionDefBase<P> {
  readonly role = 'score' as const;
  readonly fn: ScoreFn<P>;
  constructor(fn: ScoreFn<P>, name: string, params: P, site: CallSite | undefined) {
    super(name, params, site);
    this.fn = fn;
  }
  /** Bind the parameters: `softcap.with({ cap: 30 })`. */
  with(values: ParamValues<P>): Bound<ScoreDef<P>> {
    return { def: this, values: this.bindValues(values) };
  }
}

/**
 * Declare a mask: `(b, h, q, k, p) => boolean`, true where key position `k` is admissible for
 * query position `q` (token positions, semantics.md section 1).
 *
 * @param fn - the mask body; integer arithmetic, comparisons, `&&`, `||`, `!`, ternaries,
 *   `Math.min/max/abs`, `Math.floor(a / b)`, and declared parameters read as `p.name`.
 * @param options - declared parameters and a name.
 * @example
 * ```ts
 * export const dilated = defineMask((b, h, q, k, p) => k <= q && (q - k) % p.stride === 0,
 *   { name: 'dilated', params: { stride: 'int32' } });
 * const mask = dilated.with({ stride: 3 });
 * ```
 */
export function defineMask<P extends ParamDecls = {}>(fn: MaskFn<P>, options: DefineOptions<P> = {}): MaskDef<P> {
  const site = captureCallSite(1);
  checkDefinition('defineMask', fn, options, site);
  const params = validateDecls(options.params ?? ({} as P), site);
  return new MaskDef(fn, checkName(options.name ?? (fn.name || 'mask'), 'mask', siteLocation(site)), params, site);
}

/**
 * Declare a score function: `(s, b, h, q, k, p) => number`, applied to the scaled score `s`
 * before the mask. Besides what masks allow: float literals, `/`, `Math.tanh/exp/log/sqrt`.
 *
 * @example
 * ```ts
 * export const softcap = defineScore((s, b, h, q, k, p) => p.cap * Math.tanh(s / p.cap),
 *   { name: 'softcap', params: { cap: 'float32' } });
 * const score = softcap.with({ cap: 30 });
 * ```
 */
export function defineScore<P extends ParamDecls = {}>(fn: ScoreFn<P>, options: DefineOptions<P> = {}): ScoreDef<P> {
  const site = captureCallSite(1);
  checkDefinition('defineScore', fn, options, site);
  const params = validateDecls(options.params ?? ({} as P), site);
  return new ScoreDef(fn, checkName(options.name ?? (fn.name || 'score'), 'score', siteLocation(site)), params, site);
}

function siteLocation(site: CallSite | undefined) {
  return site ? { file: site.file, line: site.line, column: site.column } : undefined;
}

/** The function and options of defineMask/defineScore, before anything reads them. */
function checkDefinition(what: string, fn: unknown, options: unknown, site: CallSite | undefined): void {
  const location = siteLocation(site);
  if (typeof fn !== 'function') {
    throw new KvforgeError('KVF2005', `${what} takes a function, got ${fn === null ? 'null' : typeof fn}`, {
      location, hint: `${what}(${what === 'defineMask' ? '(b, h, q, k)' : '(s, b, h, q, k)'} => ..., { name, params })`,
    });
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new KvforgeError('KVF2005', `${what}: options must be an object { name?, params? }, got ${options === null ? 'null' : typeof options}`, { location });
  }
  // The name is checked by checkName (dsl/name.ts), with the other declarations' names.
  const o = options as { params?: unknown };
  if (o.params !== undefined && (typeof o.params !== 'object' || o.params === null || Array.isArray(o.params))) {
    throw new KvforgeError('KVF2001', `${what}: 'params' must be an object of declarations such as { window: 'int32' }, got ${o.params === null ? 'null' : Array.isArray(o.params) ? 'an array' : typeof o.params}`, { location });
  }
}

function validateDecls<P extends ParamDecls>(params: P, site: CallSite | undefined): P {
  for (const [name, type] of Object.entries(params)) {
    if (!IDENT.test(name)) {
      throw new KvforgeError('KVF2001', `parameter name '${name}' is not an identifier`, {
        location: siteLocation(site), hint: 'use a name like window or cap',
      });
    }
    if (!PARAM_TYPES.includes(type)) {
      throw new KvforgeError('KVF2001', `parameter '${name}' has type '${String(type)}'`, {
        location: siteLocation(site), hint: `declare it as one of ${PARAM_TYPES.map((t) => `'${t}'`).join(', ')}`,
      });
    }
  }
  return Object.freeze({ ...params });
}

/** Check that `values` binds exactly the declared parameters with values of their types. */
export function validateParamValues(
  owner: string, decls: ParamDecls, values: Record<string, unknown>, site?: CallSite,
): Readonly<Record<string, number>> {
  const location = siteLocation(site);
  const declared = Object.keys(decls);
  const list = declared.length ? declared.join(', ') : 'none';
  if (values !== undefined && (typeof values !== 'object' || values === null || Array.isArray(values))) {
    throw new KvforgeError('KVF2002', `'${owner}'.with() takes an object of parameter values, got ${values === null ? 'null' : Array.isArray(values) ? 'an array' : typeof values}`,
      { location, hint: `e.g. ${owner}.with({ ${declared[0] ?? 'name'}: ... })` });
  }
  for (const name of Object.keys(values ?? {})) {
    if (!Object.hasOwn(decls, name)) {
      throw new KvforgeError('KVF2002', `'${owner}' has no parameter '${name}'`, { location, hint: `declared parameters: ${list}` });
    }
  }
  const out: Record<string, number> = {};
  for (const [name, type] of Object.entries(decls)) {
    const v = values?.[name];
    if (v === undefined) {
      throw new KvforgeError('KVF2006', `'${owner}' needs a value for parameter '${name}' (${type})`, {
        location, hint: `bind it: ${owner}.with({ ${name}: ... })`,
      });
    }
    out[name] = checkParamValue(`parameter '${name}' of '${owner}'`, type, v, location);
  }
  return Object.freeze(out);
}
