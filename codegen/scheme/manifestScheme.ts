/**
 * A scheme as generated/manifest.json records it: its declaration (plain data: the layer table,
 * shape, window, options), its compiled plan (compileScheme.ts) and, per variant, the ids of the
 * kernels gen wrote for it. The runtime (an executor) reads this, never configs/.
 *
 * Reading checks the entry by rebuilding: the declaration goes through scheme() (every check of
 * the DSL), the plan is recomputed and must equal the recorded one, and every kernel id must be
 * a kernel of the manifest with the scheme's shape. Attention overrides (an extra mask, a score)
 * are functions: the entry names them, and their IR lives in the variants' kernels.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { scheme, type SchemeSpec } from '../../dsl/scheme/scheme.ts';
import { policyData, policyOfData, type PolicyData } from '../../dsl/policy/policy.ts';
import type { FieldReader } from '../fieldReader.ts';
import { canonicalJson } from '../hash.ts';
import { compileScheme, type SchemePlan } from './compileScheme.ts';
import type { VariantKey } from './variants.ts';

/** What scheme() needs to rebuild a scheme without its attention overrides. */
export interface SchemeDeclaration {
  readonly name: string;
  readonly layers: number;
  readonly heads: { readonly q: number; readonly kv: number };
  readonly headDim: number;
  readonly valueDim: number;
  readonly table: ReadonlyArray<{ readonly keysFrom: number; readonly valuesFrom: number; readonly sliding: boolean; readonly window?: number }>;
  readonly window: number;
  readonly forceNoDiagonal: boolean;
  readonly iterations: { readonly m: number; readonly b: number };
  readonly decode: SchemeSpec['decode'];
  readonly dtype: SchemeSpec['dtype'];
  /** Per layer, the policy of the cache it owns (null: none); absent when no cache has one. */
  readonly policies?: readonly (PolicyData | null)[];
}

export interface ManifestScheme {
  /** The export it was generated from: what an executor asks for. */
  readonly exportName: string;
  /** `file#export`. */
  readonly source: string;
  readonly declaration: SchemeDeclaration;
  readonly plan: SchemePlan;
  /** Variant key -> ids of its kernels (one per plan gen wrote: C++, CUDA dtypes...). */
  readonly kernels: Readonly<Partial<Record<VariantKey, readonly string[]>>>;
}

export function declarationOf(s: SchemeSpec): SchemeDeclaration {
  return {
    name: s.name, layers: s.layers, heads: { q: s.heads.q, kv: s.heads.kv }, headDim: s.headDim, valueDim: s.valueDim,
    table: s.table.map((l) => ({ keysFrom: l.keysFrom, valuesFrom: l.valuesFrom, sliding: l.sliding, ...(l.window !== undefined ? { window: l.window } : {}) })),
    window: s.window, forceNoDiagonal: s.forceNoDiagonal, iterations: { m: s.iterations.m, b: s.iterations.b }, decode: s.decode, dtype: s.dtype,
    ...(s.policies.some((p) => p !== undefined) ? { policies: s.policies.map((p) => (p ? policyData(p) : null)) } : {}),
  };
}

/** The scheme a declaration describes (no attention overrides); a bad declaration is a KvforgeError. */
export function schemeOfDeclaration(d: SchemeDeclaration): SchemeSpec {
  return scheme({
    name: d.name, layers: d.layers, heads: d.heads, headDim: d.headDim, valueDim: d.valueDim,
    kv: d.table.map((l) => ({ keysFrom: l.keysFrom, valuesFrom: l.valuesFrom, sliding: l.sliding, ...(l.window !== undefined ? { window: l.window } : {}) })),
    window: d.window, forceNoDiagonal: d.forceNoDiagonal, iterations: d.iterations, decode: d.decode, dtype: d.dtype,
    ...(d.policies !== undefined ? { policy: Array.isArray(d.policies) ? d.policies.map((p) => (p === null ? null : policyOfData(p))) : (d.policies as never) } : {}),
  });
}

/** The plan without what depends on the overrides (compared when an entry is read). */
const structural = (p: SchemePlan) => canonicalJson({ ...p, overrides: null });

export function readManifestScheme(
  r: FieldReader, exportName: string, x: unknown, at: string,
  kernel: (id: string) => { heads: { q: number; kv: number }; headDim: number; valueDim: number } | undefined,
): ManifestScheme {
  const o = r.object(x, at);
  const source = r.string(o.source, `${at}.source`);
  const d = r.object(o.declaration, `${at}.declaration`) as unknown as SchemeDeclaration;
  let rebuilt: SchemeSpec;
  try {
    rebuilt = schemeOfDeclaration(d);
  } catch (e) {
    if (!(e instanceof KvforgeError)) throw e;
    return r.fail(`${at}.declaration`, `is not a valid scheme: ${e.detail}`);
  }
  const recorded = r.object(o.plan, `${at}.plan`) as unknown as SchemePlan;
  const plan = compileScheme(rebuilt);
  if (structural({ ...recorded }) !== structural(plan)) r.fail(`${at}.plan`, 'differs from the plan of its declaration');
  const ov = r.object(recorded.overrides, `${at}.plan.overrides`);
  const overrides = {
    mask: ov.mask === null ? null : r.string(ov.mask, `${at}.plan.overrides.mask`),
    score: ov.score === null ? null : r.string(ov.score, `${at}.plan.overrides.score`),
    scale: ov.scale === null ? null : r.number(ov.scale, `${at}.plan.overrides.scale`),
  };
  const ko = r.object(o.kernels, `${at}.kernels`);
  const keys = plan.variants.map((v) => v.key);
  if (canonicalJson(Object.keys(ko).sort()) !== canonicalJson([...keys].sort())) {
    r.fail(`${at}.kernels`, `must list the variants ${JSON.stringify(keys)}, got ${JSON.stringify(Object.keys(ko))}`);
  }
  const kernels: Partial<Record<VariantKey, string[]>> = {};
  for (const key of keys) {
    const ids = r.list(ko[key], `${at}.kernels.${key}`).map((id, i) => r.string(id, `${at}.kernels.${key}[${i}]`));
    if (ids.length === 0) r.fail(`${at}.kernels.${key}`, 'lists no kernel');
    for (const id of ids) {
      const k = kernel(id) ?? r.fail(`${at}.kernels.${key}`, `names '${id}', which is not a kernel of the manifest`);
      if (k.heads.q !== d.heads.q || k.heads.kv !== d.heads.kv || k.headDim !== d.headDim || k.valueDim !== d.valueDim) {
        r.fail(`${at}.kernels.${key}`, `names '${id}', whose shape is not the scheme's`);
      }
    }
    kernels[key] = ids;
  }
  return { exportName, source, declaration: declarationOf(rebuilt), plan: { ...plan, overrides }, kernels };
}
