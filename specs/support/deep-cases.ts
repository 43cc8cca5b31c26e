/**
 * Deep inputs (issue 6 defect 8) and what each must give: `ok` (it compiles, every pass runs, the
 * IR agrees with the function) or a KVF1012 error. Run in-process under vitest (specs/depth.test.ts)
 * and under tsx from a user file (specs/fixtures/deep-probe.ts), since stack sizes differ.
 */
import { renderKernel } from '../../codegen/backends/render.ts';
import { provenanceOf } from '../../codegen/backends/provenance.ts';
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { stableHash } from '../../codegen/hash.ts';
import { irDepth } from '../../codegen/ir/depth.ts';
import { interpret } from '../../codegen/ir/interpret.ts';
import { classifyTiles } from '../../codegen/passes/classifyTiles.ts';
import { compileUnit } from '../../codegen/pipeline.ts';
import { and, not, type Mask } from '../../dsl/mask.ts';
import { defineAttention } from '../../dsl/attention.ts';
import type { FunctionDef } from '../../dsl/types.ts';

const N = 10_000;

/** Mask bodies by case name, as source text of `(b, h, q, k) => <body>` or a block. */
export const DEEP_BODIES: Readonly<Record<string, string>> = {
  andChain10k: `(b, h, q, k) => ${Array.from({ length: N }, (_, i) => `k <= q + ${i % 7}`).join(' && ')}`,
  orChain10k: `(b, h, q, k) => ${Array.from({ length: N }, (_, i) => `k === q - ${i}`).join(' || ')}`,
  parens300: `(b, h, q, k) => ${'('.repeat(300)}k <= q${')'.repeat(300)}`,
  parens1500: `(b, h, q, k) => ${'('.repeat(1500)}k <= q${')'.repeat(1500)}`,
  ternary300: `(b, h, q, k) => ${Array.from({ length: 300 }, (_, i) => `q === ${i} ? k <= ${i} :`).join(' ')} false`,
  sum1000: `(b, h, q, k) => k <= ${'(q + '.repeat(1000)}1${')'.repeat(1000)}`,
  nested100: `(b, h, q, k) => k <= ${'(q - '.repeat(100)}1${')'.repeat(100)}`,
  leaf: '(b, h, q, k) => k <= q + 1',
  consts1000: `(b, h, q, k) => {\n${Array.from({ length: 1000 }, (_, i) => `  const t${i + 1} = ${i ? `t${i}` : 'q'} - 1;`).join('\n')}\n  return k <= t1000 + 1000;\n}`,
  consts2000: `(b, h, q, k) => {\n${Array.from({ length: 2000 }, (_, i) => `  const t${i + 1} = ${i ? `t${i}` : 'q'} - 1;`).join('\n')}\n  return k <= t2000;\n}`,
  // Each const reads the previous one twice: shallow, but 2^n nodes once inlined (the hostile
  // trial's out-of-memory crash at n = 40); n = 10 is about 5000 nodes and fine.
  doubling10: doubling(10),
  doubling40: doubling(40),
};

function doubling(n: number): string {
  const lines = Array.from({ length: n }, (_, i) => `  const a${i + 1} = a${i} % 7 + a${i} % 5;`);
  return `(b, h, q, k) => {\n  const a0 = q - k;\n${lines.join('\n')}\n  return a${n} % 3 === 0 || k <= q;\n}`;
}

/** What each case must give. */
export const EXPECTED: Readonly<Record<string, 'ok' | 'KVF1012' | 'KVF1013'>> = {
  andChain10k: 'ok', orChain10k: 'ok', parens300: 'KVF1012', parens1500: 'KVF1012', ternary300: 'KVF1012',
  sum1000: 'KVF1012', nested100: 'ok', leaf: 'ok', consts1000: 'ok', consts2000: 'KVF1012',
  combinedAnd10k: 'ok', nestedNot10k: 'KVF1012', nestedAnd300: 'KVF1012', doubling10: 'ok', doubling40: 'KVF1013',
};

export interface DeepResult {
  readonly outcome: string;
  readonly detail?: string;
  readonly location?: { file: string; line: number; column: number };
  readonly irDepth?: number;
  readonly ms?: number;
}

const POINTS = [[0, 0, 5, 3], [1, 1, 3, 5], [0, 1, 2000, 999], [0, 0, 7, 7]] as const;

/** Compile `mask` all the way to C++ and tile maps; check the IR against the original functions. */
function compileAndCheck(name: string, mask: Mask, original: (b: number, h: number, q: number, k: number) => boolean): DeepResult {
  const spec = defineAttention({ name, heads: { q: 2, kv: 1 }, headDim: 16, mask });
  const unit = compileUnit(spec);
  renderKernel(unit, provenanceOf(unit, `deep#${name}`));
  stableHash(unit.mask ?? null);
  const pos = Int32Array.from({ length: 64 }, (_, i) => i * 37);
  classifyTiles(unit.mask, { B: 1, Hq: 2, tileQ: 16, tileK: 16, qpos: pos, kpos: pos, params: {} });
  for (const [b, h, q, k] of POINTS) {
    const got = unit.mask ? interpret(unit.mask, { b, h, q, k, params: {} }) : true;
    if (got !== original(b, h, q, k)) return { outcome: 'wrong', detail: `at ${[b, h, q, k]}: IR ${got}` };
  }
  return { outcome: 'ok', irDepth: unit.mask ? irDepth(unit.mask) : 0 };
}

function outcome(run: () => DeepResult): DeepResult {
  const t0 = performance.now();
  try {
    return { ...run(), ms: Math.round(performance.now() - t0) };
  } catch (e) {
    if (e instanceof KvforgeError) {
      const l = e.location;
      return { outcome: e.code, detail: e.message.split('\n')[0], ...(l ? { location: { file: l.file, line: l.line, column: l.column } } : {}) };
    }
    return { outcome: 'crash', detail: String(e) };
  }
}

/**
 * Every case. `defs` gives the mask definition of each DEEP_BODIES case (from a file under tsx,
 * from `Function` under vitest); combinator cases are built here from `leaf`.
 */
export function runDeepCases(defs: Readonly<Record<string, FunctionDef>>): Record<string, DeepResult> {
  const results: Record<string, DeepResult> = {};
  for (const [name, def] of Object.entries(defs)) {
    results[name] = outcome(() => compileAndCheck(name, { def: def as never, values: {} }, def.fn as never));
  }
  const leaf = defs.leaf!;
  const leafFn = leaf.fn as (b: number, h: number, q: number, k: number) => boolean;
  const leafMask: Mask = { def: leaf as never, values: {} };
  results.combinedAnd10k = outcome(() => compileAndCheck('combinedAnd10k', and(...Array.from({ length: N }, () => leafMask)), leafFn));
  results.nestedNot10k = outcome(() => {
    let m: Mask = leafMask;
    for (let i = 0; i < N; i++) m = not(m);
    return compileAndCheck('nestedNot10k', m, leafFn);
  });
  results.nestedAnd300 = outcome(() => {
    let m: Mask = leafMask;
    for (let i = 0; i < 300; i++) m = and(m, leafMask);
    return compileAndCheck('nestedAnd300', m, leafFn);
  });
  return results;
}
