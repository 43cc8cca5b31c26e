/**
 * KV cache policies as plain data (semantics.md section 3): what a cache keeps, and in what form.
 * A policy belongs to a cache, so in a sharing scheme it is set on the layer that owns the cache
 * and is applied once for all of that cache's readers.
 *
 * - full: keeps every token (the default).
 * - sliding: keeps the last `window` tokens (3.1).
 * - sinks: StreamingLLM; keeps the first `sinks` tokens and the last `windowLength - sinks` (3.2).
 * - pyramid: merging-focused compression (3.3): sinks, a compressed region of merged slots and a
 *   raw recent region of at most W_k slots, W_k from the pyramid formula or a user's list.
 * - adaptive: FastGen (3.4): per KV head, the first candidate kept-set that passes the recovery
 *   test on the prompt.
 *
 * Every constructor checks its options at the user's line (KVF2012, with file:line:col), so a
 * policy a user declares in their own file needs no change inside kvforge.
 */
import { captureCallSite } from '../callsite.ts';
import { KvforgeError, type SourceLocation } from '../diagnostics.ts';
import type { CallSite } from '../types.ts';

/** Bounds that keep every count an int32 in the kernels. */
export const MAX_POLICY_TOKENS = 2 ** 31 - 1;
export const MAX_GROUP_SIZE = 1024;

export type Pooling = 'mean' | 'max' | 'best';
export type Importance = 'mass' | 'keyNorm';
/** 'mass' (decision): retained attention mass >= T. 'recoveryMaxError': the re-implementation's rule. */
export type RecoveryRule = 'mass' | 'recoveryMaxError';

/** Per-layer budgets W_k: the pyramid formula, or one budget per layer of the model. */
export type PyramidBudget =
  | { readonly kind: 'pyramid'; readonly L0: number; readonly beta: number }
  | { readonly kind: 'list'; readonly budgets: readonly number[] };

export interface FullPolicy { readonly kind: 'full' }
export interface SlidingPolicy { readonly kind: 'sliding'; readonly window: number }
export interface SinkPolicy { readonly kind: 'sinks'; readonly sinks: number; readonly windowLength: number }
export interface PyramidPolicy {
  readonly kind: 'pyramid';
  readonly budget: PyramidBudget;
  readonly sinks: number;
  readonly groupSize: number;
  readonly pooling: Pooling;
  /**
   * What `best` pooling ranks members by: 'mass', the attention mass a slot has received (the
   * attention kernels' mass output, tracked on every call over the cache), or 'keyNorm', its key's
   * L2 norm (semantics 3.3: the importance when mass is not tracked). Ties go to the older slot.
   */
  readonly importance: Importance;
  /** Add ln(count) to a slot's logit, so a merged slot weighs as much as the tokens it replaced. */
  readonly countBias: boolean;
  /** Compatibility: the project's per-channel majority vote instead of `best` (pooling 'best', groups of 2). */
  readonly bestVote: boolean;
  /** Compatibility: the project's decode-time merge (semantics 3.3); needs an even number of sinks. */
  readonly mergeLiteralDecode: boolean;
}
export interface AdaptivePolicy {
  readonly kind: 'adaptive';
  /** Recovery threshold. */
  readonly T: number;
  /** Frequency (heavy hitter) ratio: the top floor(n * rF) positions by attention column sum. */
  readonly rF: number;
  /** Locality ratio: the last floor(n * rL) positions. */
  readonly rL: number;
  /** Token ids of special tokens and of punctuation, as the tokenizer gives them. */
  readonly special: readonly number[];
  readonly punctuation: readonly number[];
  readonly recovery: RecoveryRule;
  /** Apply each head's policy to decode tokens too (the paper); default: append every decode token. */
  readonly policyDecode: boolean;
}

/** A policy with where it was declared. */
export type Declared<T> = T & { readonly site?: CallSite };
export type CachePolicySpec = Declared<FullPolicy | SlidingPolicy | SinkPolicy | PyramidPolicy | AdaptivePolicy>;
export type PolicyKind = CachePolicySpec['kind'];

const KINDS: readonly PolicyKind[] = ['full', 'sliding', 'sinks', 'pyramid', 'adaptive'];

/** Whether x is what one of the constructors returns, structurally. */
export function isCachePolicy(x: unknown): x is CachePolicySpec {
  return typeof x === 'object' && x !== null && KINDS.includes((x as { kind?: PolicyKind }).kind as PolicyKind)
    && (x as { policy?: unknown }).policy === POLICY_TAG;
}
// A marker field, so an object that only looks like a policy (a typo'd hand-written literal) is refused.
const POLICY_TAG = 'kvforge-cache-policy';

type Fail = (detail: string, hint?: string) => never;

function failAt(site: CallSite | undefined): Fail {
  const location: SourceLocation | undefined = site ? { ...site } : undefined;
  return (detail, hint) => {
    throw new KvforgeError('KVF2012', detail, { location, hint });
  };
}

function options(fail: Fail, what: string, o: unknown, keys: readonly string[], example: string): Record<string, unknown> {
  if (o === undefined) return {};
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    fail(`${what} takes an options object, got ${o === null ? 'null' : Array.isArray(o) ? 'an array' : typeof o}`, example);
  }
  const r = o as Record<string, unknown>;
  const unknown = Object.keys(r).filter((k) => !keys.includes(k));
  if (unknown.length) fail(`${what}: unknown option(s) ${unknown.map((k) => `'${k}'`).join(', ')}`, `options: ${keys.join(', ')}`);
  return r;
}

function int(fail: Fail, what: string, x: unknown, lo: number, hi = MAX_POLICY_TOKENS): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi) fail(`${what} must be an integer in ${lo}..${hi}, got ${show(x)}`);
  return x as number;
}

function ratio(fail: Fail, what: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 1) fail(`${what} must be a number in [0, 1], got ${show(x)}`);
  return x as number;
}

function bool(fail: Fail, what: string, x: unknown): boolean {
  if (typeof x !== 'boolean') fail(`${what} must be true or false, got ${show(x)}`);
  return x as boolean;
}

function show(x: unknown): string {
  return typeof x === 'string' ? `'${x}'` : Array.isArray(x) ? 'an array' : String(x);
}

function tag<T extends object>(p: T, site: CallSite | undefined): T & { readonly site?: CallSite } {
  return Object.freeze({ ...p, site, policy: POLICY_TAG });
}

/** Keep every token (what a cache does with no policy). */
export function fullCache(): Declared<FullPolicy> {
  return tag({ kind: 'full' as const }, captureCallSite(1));
}

/** Keep the last `window` tokens; the step that appends a token attends before truncating (3.1). */
export function slidingCache(o: { readonly window: number }): Declared<SlidingPolicy> {
  const site = captureCallSite(1);
  const fail = failAt(site);
  const r = options(fail, 'slidingCache', o, ['window'], 'slidingCache({ window: 4096 })');
  return tag({ kind: 'sliding' as const, window: int(fail, 'window', r.window, 1) }, site);
}

/**
 * StreamingLLM (3.2): once the cache holds more than `windowLength` tokens, keep the first `sinks`
 * and the last `windowLength - sinks`. `windowLength` counts the sinks.
 * @example sinkCache({ sinks: 4, windowLength: 1024 })
 */
export function sinkCache(o: { readonly sinks: number; readonly windowLength: number }): Declared<SinkPolicy> {
  const site = captureCallSite(1);
  const fail = failAt(site);
  const r = options(fail, 'sinkCache', o, ['sinks', 'windowLength'], 'sinkCache({ sinks: 4, windowLength: 1024 })');
  const sinks = int(fail, 'sinks', r.sinks, 0);
  const windowLength = int(fail, 'windowLength', r.windowLength, 1);
  if (windowLength <= sinks) {
    fail(`windowLength (${windowLength}) must be larger than sinks (${sinks}): it counts the sinks, and the recent tokens come on top`,
      `e.g. sinkCache({ sinks: ${sinks}, windowLength: ${sinks + 1024} })`);
  }
  return tag({ kind: 'sinks' as const, sinks, windowLength }, site);
}

export interface PyramidOptions {
  /** Budget of layer 0 (with beta): W_k = floor(L0 * (1 + k/m * (1/beta - 1))). */
  readonly L0?: number;
  /** Pyramid compression ratio (with L0). */
  readonly beta?: number;
  /** Or one budget per layer of the model (instead of L0 and beta). */
  readonly budgets?: readonly number[];
  /** Raw slots at the front, never merged. @defaultValue 4 */
  readonly sinks?: number;
  /** Slots merged into one. @defaultValue 2 */
  readonly groupSize?: number;
  /** @defaultValue 'mean' */
  readonly pooling?: Pooling;
  /** `best` pooling's ranking (see PyramidPolicy.importance). @defaultValue 'mass' */
  readonly importance?: Importance;
  /** @defaultValue false */
  readonly countBias?: boolean;
  /** Compatibility modes that reproduce the project's code (semantics 3.3). */
  readonly compatibility?: { readonly bestVote?: boolean; readonly mergeLiteralDecode?: boolean };
}

const POOLINGS: readonly Pooling[] = ['mean', 'max', 'best'];

/**
 * Pyramid budgets with pooled merges (3.3).
 * @example pyramidCache({ L0: 512, beta: 2, sinks: 4, pooling: 'mean' })
 * @example pyramidCache({ budgets: [512, 384, 256, 128], pooling: 'best', countBias: true })
 */
export function pyramidCache(o: PyramidOptions): Declared<PyramidPolicy> {
  const site = captureCallSite(1);
  const fail = failAt(site);
  const r = options(fail, 'pyramidCache', o, ['L0', 'beta', 'budgets', 'sinks', 'groupSize', 'pooling', 'importance', 'countBias', 'compatibility'],
    'pyramidCache({ L0: 512, beta: 2, sinks: 4, pooling: \'mean\' })');
  let budget: PyramidBudget;
  if (r.budgets !== undefined) {
    if (r.L0 !== undefined || r.beta !== undefined) fail('give either budgets or L0 and beta, not both');
    if (!Array.isArray(r.budgets) || r.budgets.length === 0) fail(`budgets must be a non-empty list with one budget per layer, got ${show(r.budgets)}`);
    const list = r.budgets as unknown[];
    for (let i = 0; i < list.length; i++) if (!(i in list)) fail(`budgets[${i}]: missing entry (a hole in the list)`);
    budget = { kind: 'list', budgets: Object.freeze(list.map((b, i) => int(fail, `budgets[${i}]`, b, 1))) };
  } else {
    if (r.L0 === undefined || r.beta === undefined) fail('pyramidCache needs L0 and beta (or a budgets list)', 'pyramidCache({ L0: 512, beta: 2 })');
    const L0 = int(fail, 'L0', r.L0, 1);
    if (typeof r.beta !== 'number' || !Number.isFinite(r.beta) || r.beta <= 0) fail(`beta must be a finite number above 0, got ${show(r.beta)}`);
    budget = { kind: 'pyramid', L0, beta: r.beta as number };
  }
  const sinks = r.sinks === undefined ? 4 : int(fail, 'sinks', r.sinks, 0);
  const groupSize = r.groupSize === undefined ? 2 : int(fail, 'groupSize', r.groupSize, 2, MAX_GROUP_SIZE);
  const pooling = (r.pooling ?? 'mean') as Pooling;
  if (!POOLINGS.includes(pooling)) fail(`pooling must be one of ${POOLINGS.map((x) => `'${x}'`).join(', ')}, got ${show(r.pooling)}`);
  const importance = (r.importance ?? 'mass') as Importance;
  if (importance !== 'mass' && importance !== 'keyNorm') fail(`importance must be 'mass' or 'keyNorm', got ${show(r.importance)}`);
  if (r.importance !== undefined && pooling !== 'best') fail(`importance ranks the members of 'best' pooling; pooling is '${pooling}'`);
  const countBias = r.countBias === undefined ? false : bool(fail, 'countBias', r.countBias);
  const compat = options(fail, 'compatibility', r.compatibility, ['bestVote', 'mergeLiteralDecode'], '{ bestVote: true }');
  const bestVote = compat.bestVote === undefined ? false : bool(fail, 'compatibility.bestVote', compat.bestVote);
  const mergeLiteralDecode = compat.mergeLiteralDecode === undefined ? false : bool(fail, 'compatibility.mergeLiteralDecode', compat.mergeLiteralDecode);
  if (bestVote && (pooling !== 'best' || groupSize !== 2)) {
    fail(`compatibility.bestVote replaces 'best' pooling over pairs; it needs pooling: 'best' and groupSize: 2, got '${pooling}' and ${groupSize}`);
  }
  if (bestVote && r.importance !== undefined) fail('compatibility.bestVote votes per channel; it takes no importance');
  if (mergeLiteralDecode && sinks % 2 !== 0) {
    fail(`compatibility.mergeLiteralDecode with an odd number of sinks (${sinks}): the project's decode step fails outright there`,
      `use an even number of sinks, e.g. ${sinks + 1}`);
  }
  return tag({ kind: 'pyramid' as const, budget: Object.freeze(budget), sinks, groupSize, pooling, importance, countBias, bestVote, mergeLiteralDecode }, site);
}

export interface AdaptiveOptions {
  /** @defaultValue 0.95 */
  readonly T?: number;
  /** @defaultValue 0.3 */
  readonly rF?: number;
  /** @defaultValue 0.3 */
  readonly rL?: number;
  /** @defaultValue [] */
  readonly special?: readonly number[];
  /** @defaultValue [] */
  readonly punctuation?: readonly number[];
  /** @defaultValue 'mass' */
  readonly recovery?: RecoveryRule;
  /** @defaultValue false */
  readonly policyDecode?: boolean;
}

/**
 * FastGen's adaptive per-head policy (3.4), profiled once on the prompt.
 * @example adaptiveCache({ T: 0.95, rF: 0.3, rL: 0.3, special: [1], punctuation: [29889, 29892] })
 */
export function adaptiveCache(o: AdaptiveOptions = {}): Declared<AdaptivePolicy> {
  const site = captureCallSite(1);
  const fail = failAt(site);
  const r = options(fail, 'adaptiveCache', o, ['T', 'rF', 'rL', 'special', 'punctuation', 'recovery', 'policyDecode'],
    'adaptiveCache({ T: 0.95, rF: 0.3, rL: 0.3, special: [1] })');
  const ids = (what: string, x: unknown): readonly number[] => {
    if (x === undefined) return Object.freeze([]);
    if (!Array.isArray(x)) fail(`${what} must be a list of token ids, got ${show(x)}`);
    const list = x as unknown[];
    for (let i = 0; i < list.length; i++) if (!(i in list)) fail(`${what}[${i}]: missing entry (a hole in the list)`);
    return Object.freeze(list.map((t, i) => int(fail, `${what}[${i}]`, t, 0)));
  };
  const recovery = (r.recovery ?? 'mass') as RecoveryRule;
  if (recovery !== 'mass' && recovery !== 'recoveryMaxError') fail(`recovery must be 'mass' or 'recoveryMaxError', got ${show(r.recovery)}`);
  return tag({
    kind: 'adaptive' as const,
    T: r.T === undefined ? 0.95 : ratio(fail, 'T', r.T),
    rF: r.rF === undefined ? 0.3 : ratio(fail, 'rF', r.rF),
    rL: r.rL === undefined ? 0.3 : ratio(fail, 'rL', r.rL),
    special: ids('special', r.special),
    punctuation: ids('punctuation', r.punctuation),
    recovery,
    policyDecode: r.policyDecode === undefined ? false : bool(fail, 'policyDecode', r.policyDecode),
  }, site);
}

/** A policy as plain data (no call site): what a manifest records and policyOfData rebuilds. */
export type PolicyData = { readonly kind: PolicyKind } & Readonly<Record<string, unknown>>;

export function policyData(p: CachePolicySpec): PolicyData {
  switch (p.kind) {
    case 'full': return { kind: 'full' };
    case 'sliding': return { kind: 'sliding', window: p.window };
    case 'sinks': return { kind: 'sinks', sinks: p.sinks, windowLength: p.windowLength };
    case 'pyramid': return {
      kind: 'pyramid', ...(p.budget.kind === 'list' ? { budgets: [...p.budget.budgets] } : { L0: p.budget.L0, beta: p.budget.beta }),
      sinks: p.sinks, groupSize: p.groupSize, pooling: p.pooling, ...(p.pooling === 'best' && !p.bestVote ? { importance: p.importance } : {}),
      countBias: p.countBias, compatibility: { bestVote: p.bestVote, mergeLiteralDecode: p.mergeLiteralDecode },
    };
    case 'adaptive': return {
      kind: 'adaptive', T: p.T, rF: p.rF, rL: p.rL, special: [...p.special], punctuation: [...p.punctuation], recovery: p.recovery, policyDecode: p.policyDecode,
    };
  }
}

/** The policy plain data describes, through the constructors' checks (KVF2012 when it is not one). */
export function policyOfData(d: PolicyData): CachePolicySpec {
  if (typeof d !== 'object' || d === null) throw new KvforgeError('KVF2012', `a policy record must be an object, got ${String(d)}`);
  const { kind, ...o } = d;
  switch (kind) {
    case 'full': return fullCache();
    case 'sliding': return slidingCache(o as never);
    case 'sinks': return sinkCache(o as never);
    case 'pyramid': return pyramidCache(o as never);
    case 'adaptive': return adaptiveCache(o as never);
    default: throw new KvforgeError('KVF2012', `unknown policy kind ${String(kind)}`, { hint: `one of ${KINDS.join(', ')}` });
  }
}
