/**
 * `kvforge inspect` and `kvforge gen` on schemes, as a user runs them: the shipped schemes, a
 * user's scheme file, a config.json, bad input.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvforge } from './support/cli.ts';

describe('kvforge inspect', () => {
  it('prints LCKV layer by layer: sources, diagonal, caches, iteration plan, kernels, memory', () => {
    const r = kvforge('inspect', 'configs/schemes.ts', 'lckvW2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('scheme lckv(warmup=2)  (configs/schemes.ts: lckvW2)');
    expect(r.stdout).toMatch(/^ {2}1 +20 +20 +- +masked +- +- +noDiagonal$/m);
    expect(r.stdout).toMatch(/^ {2}20 +20 +20 +- +kept +K,V +1\.\.20 +causal$/m);
    expect(r.stdout).toContain('iteration plan: plain 0 | cyclic 1..20 x9 | plain 21');
    expect(r.stdout).toContain('kernels (2, shared by prefill and decode): causal [layers 0,20,21], noDiagonal [layers 1..19]');
    expect(r.stdout).toContain('caches (3 of 22 layers): 0 full, 20 full, 21 full');
    // 3 caches x 4 heads x (64 + 64) x 2 bytes = 3072 B/token against 22 x 1024.
    expect(r.stdout).toContain('KV memory at context 2048: 3072 B/token');
    expect(r.stdout).toContain('(0.136x)');
  });
  it('--json is the compiled plan, with the memory figures at --context and the batch at --budget', () => {
    const r = kvforge('inspect', 'configs/schemes.ts', 'yocoScheme', '--json', '--context', '4096', '--budget', '1');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.layerTypes).toBe('0s_1s_2s_3s_4s_5s_6s_7s_8s_9s_10s_11_11_11_11_11_11_11_11_11_11_11');
    expect(j.caches).toHaveLength(12);
    expect(j.memory.context).toBe(4096);
    const row = 4 * 128 * 2;
    expect(j.memory.bytesPerSequence).toBe(11 * row * (1024 + 16) + row * 4096); // W + WINDOW_SLACK
    expect(j.maxBatch).toBe(Math.floor(1024 ** 3 / j.memory.bytesPerSequence));
    expect(j.standardMaxBatch).toBe(Math.floor(1024 ** 3 / (22 * row * 4096)));
  });
  it("a user's scheme file: separate key/value sources, cycles, overrides", () => {
    const r = kvforge('inspect', 'specs/fixtures/my-schemes.ts');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('scheme fusedKvLite');
    expect(r.stdout).toContain('layer_types (not expressible');
    expect(r.stdout).toMatch(/^ {2}3 +1 +0 +W=64 +kept +- +- +window$/m);
    expect(r.stdout).toContain('iteration plan: cyclic 0..2 x4 | plain 3');
    expect(r.stdout).toContain('cache 1 keeps the full history: full-attention layer(s) 0 read it (its own window is 16)');
    expect(r.stdout).toContain('every layer: and mask evenDistance');
  });
  it('a config.json, and bad input', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvforge-inspect-'));
    try {
      const cfg = path.join(dir, 'config.json');
      writeFileSync(cfg, JSON.stringify({ hidden_size: 256, intermediate_size: 512, num_attention_heads: 8, num_key_value_heads: 2, num_hidden_layers: 4, vocab_size: 1000, layer_types: '0_3_3_3' }));
      const r = kvforge('inspect', cfg);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('iteration plan: plain 0 | cyclic 1..3 x9');
      expect(kvforge('inspect', dir).stdout).toBe(r.stdout.replace(cfg, path.join(dir, 'config.json'))); // a folder: its config.json
      writeFileSync(cfg, JSON.stringify({ hidden_size: 256, num_attention_heads: 8, num_hidden_layers: 4, vocab_size: 1000, layer_types: '0_3_3_4' }));
      const bad = kvforge('inspect', cfg);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/error KVF2008: bad layer_types string: .*config\.json: 'layer_types': token 3 \('4', layer 3\) at character 7: layer 4 is out of range/);
      writeFileSync(cfg, '{ "hidden_size": ');
      expect(kvforge('inspect', cfg).stderr).toMatch(/KVF2010.*not valid JSON/);
      expect(kvforge('inspect', 'configs/schemes.ts', 'nope').stderr).toMatch(/KVF4004.*no scheme export 'nope'[\s\S]*hint: its schemes: cla2, lckvSandwichMiddle, lckvW2/);
      expect(kvforge('inspect', 'configs/builtins.ts').stderr).toMatch(/KVF4004.*exports no scheme/);
      expect(kvforge('inspect', path.join(dir, 'missing.ts')).stderr).toMatch(/KVF4004: cannot load user file: no such file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gen on a user's scheme file writes one kernel per distinct variant and the schemes in its manifest", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kvforge-gen-schemes-'));
    try {
      const r = kvforge('gen', 'specs/fixtures/my-schemes.ts', '--out', path.join(dir, 'out'));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // cyclic: causal, noDiagonal, windowNoDiagonal; fusedKv: causal (shared with cyclic), window;
      // dilatedStandard: causal with its extra mask (a kernel of its own).
      expect(readdirSync(path.join(dir, 'out', 'cpp'))).toHaveLength(5);
      const m = JSON.parse(readFileSync(path.join(dir, 'out', 'manifest.json'), 'utf8'));
      expect(Object.keys(m.schemes)).toEqual(['cyclic', 'dilatedStandard', 'fusedKv']);
      expect(m.schemes.fusedKv.kernels.causal).toEqual(m.schemes.cyclic.kernels.causal);
      expect(m.schemes.dilatedStandard.kernels.causal).not.toEqual(m.schemes.cyclic.kernels.causal);
      expect(m.schemes.cyclic.plan.groups).toEqual([{ kind: 'cyclic', first: 0, last: 2, passes: 4 }, { kind: 'plain', first: 3, last: 3, passes: 1 }]);
      expect(kvforge('gen', 'specs/fixtures/my-schemes.ts', '--out', path.join(dir, 'out'), '--check').code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the README's scheme example is specs/fixtures/readme-schemes.ts verbatim, and inspect reads it", () => {
    const example = readFileSync('specs/fixtures/readme-schemes.ts', 'utf8');
    expect(readFileSync('README.md', 'utf8')).toContain(example.trim());
    const r = kvforge('inspect', 'specs/fixtures/readme-schemes.ts', '--json');
    expect(r.stderr).toBe('');
    const plans = JSON.parse(r.stdout) as Array<{ source: string; layerTypes: string | null; caches: unknown[] }>;
    expect(plans.map((p) => p.source.split(': ')[1])).toEqual(['fromConfig', 'fusedKv', 'pizzaTop', 'tinyLckv']);
    expect(plans[3].layerTypes).toBe(['0', ...Array.from({ length: 20 }, () => '20'), '21'].join('_'));
    expect(plans[1].caches).toHaveLength(2);
  });

  it("the README's policy example is specs/fixtures/readme-policies.ts verbatim, and inspect shows each cache's policy and what it keeps", () => {
    const example = readFileSync('specs/fixtures/readme-policies.ts', 'utf8');
    expect(readFileSync('README.md', 'utf8')).toContain(example.trim());
    const r = kvforge('inspect', 'specs/fixtures/readme-policies.ts');
    expect(r.code, r.stderr).toBe(0);
    // LCKV warm-up 2 on 22 layers: caches 0, 20, 21; W_k = floor(512 * (1 + k/22 * (1/2 - 1))): 512, 279, 267.
    expect(r.stdout).toMatch(/caches \(3 of 22 layers\): 0 full \(pyramid W 512, sinks 4, best of 2\), 20 full \(pyramid W 279, sinks 4, best of 2\), 21 full \(pyramid W 267/);
    expect(r.stdout).toMatch(/\(sinks 4 \+ window 1024\)/);
    expect(r.stdout).toMatch(/\(adaptive T 0.95\)/);
    // streaming: 22 caches x 1024 slots x 4 heads x 128 values x 2 bytes at 2048 tokens.
    expect(r.stdout).toMatch(new RegExp(`KV memory at context 2048: ${((22 * 1024 * 4 * 128 * 2) / 2048 / 1024).toFixed(1)} KiB/token`));
  });

  it('fuzz on a scheme file: its kernels, then the executor against the reference model per scheme and target', () => {
    const r = kvforge('fuzz', 'specs/fixtures/fuzz-schemes.ts', '--runs', '3', '--target', 'all');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok {3}causal_\w+ +cpu/m);
    for (const ok of ['mixed (cpu)', 'split (cpu)', 'cudaReady (cpu)', 'cudaReady (cuda)']) {
      expect(r.stdout).toMatch(new RegExp(`^ok {3}${ok.replace(/[()]/g, '\\$&')}: executor = reference model \\(prefill, cached decode, token by token\\), 3 cases, seed 42`, 'm'));
    }
    expect(r.stdout).toMatch(/^n\/a {2}literalSliding \(cpu\): layer 0: the literal zero-fill decode runs only on a top-attending layer without a window/m);
    expect(r.stdout).toMatch(/^n\/a {2}mixed \(cuda\): .*headDim a multiple of 32/m);
    expect(r.stdout).toContain('4 passed, 0 failed, 4 not run (the executor or the target cannot run them)');
    expect(kvforge('fuzz', 'specs/fixtures/fuzz-schemes.ts', '--target', 'tpu').stderr).toMatch(/KVF3004.*--target must be cpu, cuda or all/);
  });
});

