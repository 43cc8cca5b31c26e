/**
 * Run-time parameter values (`run(x, { params })`), addressed by the names the user declared.
 *
 * Inside a kernel the parameters of its functions are slots named `m<i>_<name>` (mask leaf i) and
 * `s_<name>` (the score), so that two functions never collide; those names are kvforge's, not the
 * user's. A caller names a parameter as it was declared (`window`), or, when two functions of the
 * variant declare the same name, qualified by the function's name (`slidingWindow.window`). Every
 * value goes through the same check as `.with({...})` (dsl/paramValue.ts).
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import type { ParamSlot } from '../../codegen/unit.ts';
import { checkParamValue } from '../../dsl/paramValue.ts';
import type { ParamType } from '../../dsl/types.ts';

/** One slot as a caller addresses it. */
export interface PublicParam {
  /** The name `run(x, { params })` takes: the declared name, qualified when it is not unique. */
  readonly name: string;
  /** The function that declared it and the declared name (`slidingWindow.window`). */
  readonly origin: string;
  readonly type: ParamType;
  /**
   * The value bound with `.with()` (float32 values already rounded); undefined for a shipped
   * kernel with run-time parameters, which records none: every call passes it.
   */
  readonly value: number | undefined;
  /** The kernel's slot name (`m0_window`): internal, shown in `kvforge explain`. */
  readonly slot: string;
}

/** `origin` is `<function name>.<declared name>`; declared names are identifiers (dsl/define.ts). */
function declaredName(s: ParamSlot): string {
  return s.origin.slice(s.origin.lastIndexOf('.') + 1);
}

export function publicParams(slots: readonly ParamSlot[]): PublicParam[] {
  const count = (f: (s: ParamSlot) => string, key: string) => slots.filter((s) => f(s) === key).length;
  return slots.map((s) => {
    const declared = declaredName(s);
    return {
      name: count(declaredName, declared) === 1 ? declared : s.origin,
      origin: s.origin, type: s.type === 'int' ? 'int32' : 'float32', value: s.value, slot: s.name,
    };
  });
}

/**
 * The slot values of a call: the bound values, with `overrides` (by public name) checked and
 * applied. `kernel` names the kernel in errors. A parameter with no bound value (a shipped kernel
 * with run-time parameters) must be given: KVF2006 otherwise.
 */
export function resolveRunParams(
  kernel: string, slots: readonly ParamSlot[], overrides: unknown,
): Record<string, number> {
  const values: Record<string, number> = {};
  for (const p of slots) if (p.value !== undefined) values[p.name] = p.value;
  const params = publicParams(slots);
  const list = params.map((p) => `${p.name} (${p.type})`).join(', ') || 'none';
  if (overrides !== undefined) {
    if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
      throw new KvforgeError('KVF2002', `run option 'params' must be an object of parameter values, got ${overrides === null ? 'null' : Array.isArray(overrides) ? 'an array' : typeof overrides}`,
        { hint: `kernel '${kernel}' takes: ${list}` });
    }
    for (const [key, v] of Object.entries(overrides as Record<string, unknown>)) {
      const p = findParam(kernel, params, key, list);
      values[p.slot] = checkParamValue(`parameter '${p.name}' of kernel '${kernel}'`, p.type, v);
    }
  }
  const missing = params.filter((p) => values[p.slot] === undefined);
  if (missing.length) {
    throw new KvforgeError('KVF2006', `kernel '${kernel}' needs a value for ${missing.map((p) => `'${p.name}' (${p.type})`).join(', ')}: it takes its parameters at run time and records no default`, {
      hint: `pass them on every call: run(x, { params: { ${missing.map((p) => `${p.name}: ...`).join(', ')} } })`,
    });
  }
  return values;
}

function findParam(kernel: string, params: readonly PublicParam[], key: string, list: string): PublicParam {
  const byName = params.filter((p) => p.name === key);
  if (byName.length === 1) return byName[0]!;
  const byOrigin = params.filter((p) => p.origin === key);
  if (byOrigin.length === 1) return byOrigin[0]!;
  const named = new Set([...byName, ...byOrigin]).size;
  if (named > 1) {
    throw new KvforgeError('KVF2002', `'${key}' names ${named} parameters of kernel '${kernel}'`, {
      hint: 'two functions of this variant have the same name: give them distinct names with defineMask(fn, { name })',
    });
  }
  const bySlot = params.find((p) => p.slot === key);
  if (bySlot) {
    throw new KvforgeError('KVF2002', `'${key}' is kvforge's internal slot name, not a declared parameter`, { hint: `call it '${bySlot.name}'` });
  }
  const sharing = params.filter((p) => p.origin.endsWith(`.${key}`));
  if (sharing.length > 1) {
    throw new KvforgeError('KVF2002', `'${key}' is declared by ${sharing.length} functions of kernel '${kernel}'`, {
      hint: `qualify it: ${sharing.map((p) => `'${p.name}'`).join(' or ')}`,
    });
  }
  throw new KvforgeError('KVF2002', `kernel '${kernel}' has no parameter '${key}'`, { hint: `its parameters: ${list}` });
}
