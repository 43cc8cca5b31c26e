/**
 * `kvforge inspect <scheme file | config.json> [export]`: per layer the KV source, sliding,
 * diagonal, whether it computes KV, the iteration plan, the kernels and caches the scheme needs,
 * and its KV memory against the standard scheme of the same shape. `--json` for scripts.
 */
import { KvforgeError } from '../../dsl/diagnostics.ts';
import { printable } from '../../dsl/name.ts';
import { schemeReport, type SchemeReport } from '../../codegen/scheme/compileScheme.ts';
import { maxBatch } from '../../codegen/scheme/cachePlan.ts';
import { loadSchemes, type NamedScheme } from '../../codegen/loadSchemes.ts';
import { scheme as makeScheme } from '../../dsl/scheme/scheme.ts';
import type { PolicyData } from '../../dsl/policy/policy.ts';

export interface InspectOptions {
  readonly json?: boolean;
  readonly context: number;
  /** KV memory budget in GiB for the largest-batch figure. */
  readonly budget: number;
}

/** `[1, 2, 3, 7]` -> `1..3,7`. */
export function ranges(xs: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    out.push(j === i ? `${xs[i]}` : j === i + 1 ? `${xs[i]},${xs[j]}` : `${xs[i]}..${xs[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

const GiB = 1024 ** 3;

export function inspectReport(n: NamedScheme, o: InspectOptions): SchemeReport & { readonly source: string; readonly budgetGiB: number; readonly maxBatch: number; readonly standardMaxBatch: number; readonly model?: unknown } {
  const plan = schemeReport(n.scheme, o.context);
  const s = n.scheme;
  const standard = makeScheme({ layers: s.layers, heads: s.heads, headDim: s.headDim, valueDim: s.valueDim, dtype: s.dtype, name: 'standard' });
  return {
    source: `${n.file}${n.exportName === 'config' ? '' : `: ${n.exportName}`}`, ...plan,
    budgetGiB: o.budget, maxBatch: maxBatch(s, o.context, o.budget * GiB), standardMaxBatch: maxBatch(standard, o.context, o.budget * GiB),
    ...(n.model ? { model: n.model } : {}),
  };
}

/** A policy in a few words: its kind and what sizes it. */
function policyLabel(p: PolicyData, budget: number | undefined): string {
  switch (p.kind) {
    case 'sliding': return `sliding ${String(p.window)}`;
    case 'sinks': return `sinks ${String(p.sinks)} + window ${String(p.windowLength)}`;
    case 'pyramid': return `pyramid W ${budget}, sinks ${String(p.sinks)}, ${String(p.pooling)} of ${String(p.groupSize)}`;
    case 'adaptive': return `adaptive T ${String(p.T)}`;
    default: return p.kind;
  }
}

export function formatInspect(r: ReturnType<typeof inspectReport>): string {
  const lines: string[] = [];
  const sh = r.shape;
  lines.push(`scheme ${printable(r.name)}  (${printable(r.source)})`);
  lines.push(`  ${sh.layers} layers, heads ${sh.heads.q}/${sh.heads.kv}, head dim ${sh.headDim}${sh.valueDim !== sh.headDim ? `/${sh.valueDim}` : ''}, ${sh.dtype} caches, window ${r.window}, m + b = ${r.iterations.m} + ${r.iterations.b}, decode ${r.decode}${r.forceNoDiagonal ? ', forceNoDiagonal' : ''}`);
  const ov = r.overrides;
  if (ov.mask || ov.score || ov.scale !== null) {
    lines.push(`  every layer: ${[ov.mask && `and mask ${printable(ov.mask)}`, ov.score && `score ${printable(ov.score)}`, ov.scale !== null && `scale ${ov.scale}`].filter(Boolean).join(', ')}`);
  }
  lines.push(`  layer_types ${r.layerTypes ?? '(not expressible: separate key and value sources or per-layer windows)'}`);
  const rows = [['layer', 'keys', 'values', 'sliding', 'diagonal', 'computes KV', 'read by', 'kernel']];
  for (const l of r.layers) {
    rows.push([
      String(l.index), String(l.keysFrom), String(l.valuesFrom), l.sliding ? `W=${l.window}` : '-',
      l.diagonalMasked ? 'masked' : 'kept', l.computesKv ? (l.cachesKeys && l.cachesValues ? 'K,V' : l.cachesKeys ? 'K' : 'V') : '-',
      l.readers.length ? ranges(l.readers) : '-', l.variant,
    ]);
  }
  const widths = rows[0].map((_, c) => rows.reduce((w, row) => Math.max(w, row[c].length), 0));
  for (const row of rows) lines.push(`  ${row.map((x, c) => x.padEnd(widths[c])).join('  ').trimEnd()}`);
  lines.push(`  iteration plan: ${r.groups.map((g) => `${g.kind} ${g.first === g.last ? g.first : `${g.first}..${g.last}`}${g.kind === 'cyclic' ? ` x${g.passes}` : ''}`).join(' | ')}`);
  lines.push(r.exactPromptLength === null
    ? '    parallel prefill is exact for any prompt length'
    : `    parallel prefill is exact for prompts of at most ${r.exactPromptLength} tokens (m + b passes of each cyclic group)`);
  lines.push(`  kernels (${r.variants.length}, shared by prefill and decode): ${r.variants.map((v) => `${v.key} [layers ${ranges(v.layers)}${v.windows ? `, W ${[...new Set(v.windows)].join('/')}` : ''}]`).join(', ')}`);
  lines.push(`  caches (${r.caches.length} of ${sh.layers} layers): ${r.caches.map((e) => `${e.owner}${e.keys && e.values ? '' : e.keys ? ' K only' : ' V only'} ${e.retention.kind === 'full' ? 'full' : `last ${e.retention.window}`}${e.policy ? ` (${policyLabel(e.policy, e.budget)})` : ''}`).join(', ')}`);
  for (const e of r.caches) {
    const owner = r.layers[e.owner];
    if (owner.sliding && e.retention.kind === 'full') {
      lines.push(`    cache ${e.owner} keeps the full history: full-attention layer(s) ${ranges(e.fullReaders)} read it (its own window is ${owner.window})`);
    }
  }
  const m = r.memory;
  lines.push(`  KV memory at context ${m.context}: ${fmtBytes(m.bytesPerToken)}/token, ${fmtBytes(m.bytesPerSequence)}/sequence; standard ${fmtBytes(m.standardBytesPerToken)}/token (${(m.bytesPerToken / m.standardBytesPerToken).toFixed(3)}x)`);
  lines.push(`  largest batch in ${r.budgetGiB} GiB of KV: ${r.maxBatch} (standard: ${r.standardMaxBatch})`);
  return lines.join('\n');
}

function fmtBytes(b: number): string {
  if (b < 10 * 1024) return `${Number.isInteger(b) ? b : b.toFixed(1)} B`;
  if (b < 10 * 1024 ** 2) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 10 * GiB) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${(b / GiB).toFixed(2)} GiB`;
}

export async function inspectCommand(file: string, exportName: string | undefined, o: InspectOptions): Promise<void> {
  let found = await loadSchemes(file);
  if (exportName !== undefined) {
    found = found.filter((n) => n.exportName === exportName);
    if (found.length === 0) {
      const all = (await loadSchemes(file)).map((n) => n.exportName);
      throw new KvforgeError('KVF4004', `${file} has no scheme export '${exportName}'`, { hint: `its schemes: ${all.join(', ')}` });
    }
  }
  const reports = found.map((n) => inspectReport(n, o));
  process.stdout.write(o.json ? `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n` : `${reports.map(formatInspect).join('\n\n')}\n`);
}
