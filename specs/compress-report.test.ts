/**
 * The compression report (issue 9 part 6): the executor under a policy against full caches on the
 * same tokens. A budget that covers the whole context changes nothing (exactly); smaller ones hold
 * fewer KV bytes and bring in error; the PNG decodes to the plot whose points sit where the
 * report's figures put them; the command prints the table and writes the PNG.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { scheme } from '../dsl/index.ts';
import { compressReportPng, REPORT_COLORS, runCompressReport, withPolicy, type CompressRow } from '../runtime/bench/compressReport.ts';
import { plotFrame } from '../runtime/bench/plot.ts';
import { sinkCache } from '../dsl/policy/policy.ts';
import { smallModel } from '../runtime/verify/schemeFuzz.ts';
import { caught } from './support/caught.ts';
import { kvforge } from './support/cli.ts';
import { parseBudgets } from '../runtime/cli/compressReport.ts';
import { saveCheckpoint } from '../runtime/model/checkpoint.ts';
import { seededWeights } from '../runtime/model/weights.ts';

const s = scheme({ heads: { q: 4, kv: 2 }, headDim: 8, dtype: 'f32', layers: 4, kv: '0_1_2_3', name: 'small' });

describe('compress-report', () => {
  let rows: CompressRow[] = [];
  it('a budget covering the context changes nothing; smaller ones save bytes and bring in error', async () => {
    rows = await runCompressReport({ scheme: s, model: smallModel(), family: 'pyramid', budgets: [2, 4, 1000], prompt: 12, steps: 6, seed: 3, sinks: 1 });
    expect(rows.map((r) => r.budget)).toEqual([2, 4, 1000]);
    const [small, mid, all] = rows as [CompressRow, CompressRow, CompressRow];
    // 4 caches x 2 KV heads x 18 tokens x (8 + 8) f32 values = 9216 bytes with full caches.
    expect(all.fullKvBytes).toBe(4 * 2 * 18 * 16 * 4);
    expect(all.kvBytes).toBe(all.fullKvBytes);
    expect([all.attentionErrorMax, all.logitErrorMax, all.top1]).toEqual([0, 0, 1]);
    expect(small.kvBytes).toBeLessThan(mid.kvBytes);
    expect(mid.kvBytes).toBeLessThan(all.kvBytes);
    expect(small.attentionErrorMean).toBeGreaterThan(0);
    expect(small.statsBytes).toBeGreaterThan(0);
  }, 300_000);

  it('plots the rows: the PNG decodes, and each point is drawn in its series colour where the figures put it', () => {
    const png = PNG.sync.read(compressReportPng(rows, 'test'));
    const x = (r: CompressRow) => (100 * r.kvBytes) / r.fullKvBytes;
    const spec = {
      title: 'test', xLabel: '', yLabel: '',
      series: [
        { name: '', color: REPORT_COLORS.attention, points: rows.map((r) => ({ x: x(r), y: r.attentionErrorMean })) },
        { name: '', color: REPORT_COLORS.top1, points: rows.map((r) => ({ x: x(r), y: 1 - r.top1 })) },
      ],
    };
    const f = plotFrame(spec);
    expect([png.width, png.height]).toEqual([f.width, f.height]);
    const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const at = (px: number, py: number) => {
      const i = (Math.round(py) * png.width + Math.round(px)) * 4;
      return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
    };
    // The last-drawn series wins where points coincide (budget 1000: both at error 0).
    for (const p of spec.series[1]!.points) expect(at(f.x(p.x), f.y(p.y))).toEqual(rgb(REPORT_COLORS.top1));
    expect(at(f.x(spec.series[0]!.points[0]!.x), f.y(spec.series[0]!.points[0]!.y))).toEqual(rgb(REPORT_COLORS.attention));
    // Far from every point and line: the white background.
    expect(at(f.width - 30, f.height - 80)).toEqual([255, 255, 255]);
  });

  it('refuses a scheme whose caches cannot take a policy', () => {
    const sliding = scheme({ heads: { q: 4, kv: 2 }, headDim: 8, layers: 2, kv: '0s_1s' });
    expect(caught(() => withPolicy(sliding, sinkCache({ sinks: 1, windowLength: 4 }))).code).toBe('KVF2012');
  });

  it('refuses bad budget lists, naming the entry; empty entries are not read as 0', () => {
    for (const [family, list] of [['pyramid', ''], ['pyramid', '4,,8'], ['pyramid', '0'], ['pyramid', '2.5'], ['sinks', 'x'], ['sliding', '-3'],
      ['adaptive', ''], ['adaptive', '1.5'], ['adaptive', '-0.1'], ['adaptive', 'NaN'], ['adaptive', '0.9,']] as const) {
      const e = caught(() => parseBudgets(family, list));
      expect(e.code, `${family} '${list}'`).toBe('KVF3004');
      expect(e.detail).toMatch(/--budgets must be a comma-separated list of/);
    }
    expect(parseBudgets('adaptive', '0, 0.5,1')).toEqual([0, 0.5, 1]);
    expect(parseBudgets('pyramid', '16, 32')).toEqual([16, 32]);
  });

  it('the command refuses bad options before it builds anything', () => {
    for (const [args, message] of [
      [['--beta', '0'], /--beta must be a positive number/],
      [['--beta', 'NaN'], /--beta must be a positive number/],
      [['--beta', ''], /--beta must be a positive number/],
      [['--prompt', ''], /--prompt must be an integer >= 1/],
      [['--seed', ''], /--seed must be an integer >= 0/],
      [['--sinks', '-1'], /--sinks must be an integer >= 0/],
      [['--budgets', ''], /KVF3004.*--budgets must be a comma-separated list of positive integers, received '' \(entry ''\)/],
      [['--pooling', 'median'], /KVF3004.*--pooling must be mean, max or best/],
    ] as const) {
      const r = kvforge('compress-report', ...args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/building|built the addon/);
    }
  }, 120_000);

  it('runs on a model folder (config.json + safetensors), an LCKV scheme included', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvf-cr-ckpt-'));
    try {
      const model = { hiddenSize: 16, intermediateSize: 24, vocabSize: 32, ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: false };
      const lckv = scheme({ layers: 4, heads: { q: 2, kv: 1 }, headDim: 8, kv: '0_3_3_3', dtype: 'f32', name: 'lckvSmall' });
      saveCheckpoint(dir, seededWeights(lckv, model, 2), { config: { model_type: 'lckv-llama' } });
      const r = kvforge('compress-report', dir, '--policy', 'pyramid', '--budgets', '2,100', '--sinks', '1', '--prompt', '10', '--steps', '3');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/compress-report on checkpoint/);
      expect(r.stdout).toMatch(/pyramid L0=2 beta=2 sinks=1 mean/);
      expect(r.stdout).toMatch(/pyramid L0=100 beta=2 sinks=1 mean/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('the command prints the table and writes the PNG', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvf-cr-'));
    try {
      const out = path.join(dir, 'tradeoff.png');
      const r = kvforge('compress-report', 'specs/fixtures/fuzz-schemes.ts', 'mixed', '--policy', 'sinks', '--budgets', '3,6', '--sinks', '1',
        '--prompt', '10', '--steps', '4', '--hidden', '16', '--intermediate', '32', '--vocab', '32', '--png', out);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/sinks 1 \+ window 3/);
      expect(r.stdout).toMatch(/sinks 1 \+ window 6/);
      expect(PNG.sync.read(readFileSync(out)).width).toBe(720);
      const bad = kvforge('compress-report', '--policy', 'median');
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/KVF3004.*--policy must be one of pyramid, sinks, sliding, adaptive/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
