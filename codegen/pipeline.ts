/**
 * The code generator, top to bottom. Each stage is a pure function; `explain` prints the IR after
 * every one of them.
 *
 *   1. lowerSpec      front end: read each mask/score function's source with ts-morph and
 *                     translate it through the whitelist into Expr IR; combine masks; name params.
 *   2. bindParams     (plan.paramMode = 'baked') turn parameter values into literals, so the
 *                     kernel is specialised to them and folding can see through them.
 *   3. foldConstants  evaluate what no longer depends on indices, params or the score.
 *   4. plan           the schedule (tiles, target, parameter mode), hashed into the kernel id.
 *   5. render         backend view model -> handlebars template -> source text.
 *
 * Tile classification (classifyTiles) is not a stage here: it needs the call's positions and
 * parameter values, so the runtime runs it on every call from the unit's final mask IR.
 */
import { specScale, type AttentionSpec } from '../dsl/attention.ts';
import { canonicalJson, stableHash } from './hash.ts';
import type { Expr } from './ir/expr.ts';
import { lowerSpec } from './lower.ts';
import { bindParams } from './passes/bindParams.ts';
import { foldConstants } from './passes/foldConstants.ts';
import { checkConstants } from './passes/checkConstants.ts';
import { makePlan, type KernelPlan } from './planner/plan.ts';
import { kernelId, type KernelUnitData } from './unit.ts';

/** A unit compiled from a spec: its plain data, and the spec (for the front end's own checks; nothing at run time needs it). */
export interface KernelUnit extends KernelUnitData {
  readonly spec: AttentionSpec;
}

export interface StageDump { readonly stage: string; readonly mask?: Expr; readonly score?: Expr; readonly note?: string }

export function compileUnit(spec: AttentionSpec, planOverrides: Partial<KernelPlan> = {}, dumps?: StageDump[]): KernelUnit {
  const lowered = lowerSpec(spec);
  dumps?.push({ stage: 'lowerSpec', mask: lowered.mask, score: lowered.score, note: `params: ${lowered.params.map((p) => `${p.name}=${p.value}`).join(', ') || 'none'}` });
  const plan = makePlan(planOverrides, spec);
  const values = Object.fromEntries(lowered.params.map((p) => [p.name, p.value]));
  const baked = plan.paramMode === 'baked';
  const bind = (e: Expr | undefined) => (e && baked ? bindParams(e, values) : e);
  let mask = bind(lowered.mask);
  let score = bind(lowered.score);
  dumps?.push({ stage: 'bindParams', mask, score, note: baked ? 'parameters baked as literals' : 'parameters passed at run time' });
  mask = mask && foldConstants(mask);
  score = score && foldConstants(score);
  dumps?.push({ stage: 'foldConstants', mask, score });
  if (mask) checkConstants(mask, `mask of '${spec.name}'`, baked);
  if (score) checkConstants(score, `score of '${spec.name}'`, baked);
  // A mask folded to `true` admits everything: drop it, so tiles are all FULL and no mask runs.
  if (mask?.op === 'const' && mask.value === true) mask = undefined;
  // Run-time parameters are the kernel's inputs, not part of it: their values are not hashed, so
  // specs that differ only in them (two layers' windows) share one kernel id and one source file.
  const specHash = stableHash({
    heads: spec.heads, headDim: spec.headDim, valueDim: spec.valueDim, scale: spec.scale ?? null,
    mask: lowered.mask ?? null, score: lowered.score ?? null,
    params: lowered.params.map((p) => (baked ? [p.name, p.type, p.value] : [p.name, p.type])),
  });
  const id = kernelId(spec.name, specHash, plan);
  dumps?.push({ stage: 'plan', note: `${id} ${canonicalJson(plan)}` });
  return {
    id, name: spec.name, spec, specHash, plan, heads: { q: spec.heads.q, kv: spec.heads.kv }, headDim: spec.headDim,
    valueDim: spec.valueDim, scale: specScale(spec), mask, score, params: lowered.params, runtimeParams: baked ? [] : lowered.params,
  };
}
