/**
 * `kvforge gen --out DIR` and the user's files: gen deletes only what it wrote there before (its
 * manifest says what), writes into a folder it did not create only with --force, follows no link
 * out of DIR, and a gen killed at any moment leaves no half file.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GENERATED_FILE } from '../codegen/unit.ts';
import { configFiles } from '../codegen/loadSpecs.ts';
import { diffGenerated, generateFromFiles, writeGenerated, type GeneratedSet } from '../codegen/generate.ts';
import { CONFIGS_DIR, GENERATED_DIR, PACKAGE_ROOT } from '../runtime/build/paths.ts';
import { kvforge } from './support/cli.ts';
import { SEED } from './support/random-expr.ts';
import { caught } from './support/caught.ts';

const FIXTURE = 'specs/fixtures/my-variants.ts';
let mine: GeneratedSet; // my-variants.ts: two C++ kernels
let shipped: GeneratedSet; // configs/: C++ and CUDA kernels

const temps: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'kvforge-out-'));
  temps.push(d);
  return d;
}
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});


/** Every file under `dir`, relative, with its text: what a user would see is kept or lost. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out[r] = readFileSync(path.join(dir, r), 'utf8');
    }
  };
  walk('');
  return out;
}

function userFiles(dir: string): Record<string, string> {
  const files = { 'cpp/helpers.hpp': '// mine\n', 'cpp/notes.cpp': 'int mine;\n', 'cuda/mine.cu': '// mine too\n', 'README.md': '# my kernels\n' };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return files;
}

beforeAll(async () => {
  mine = await generateFromFiles([path.join(PACKAGE_ROOT, FIXTURE)], PACKAGE_ROOT);
  shipped = await generateFromFiles(configFiles(CONFIGS_DIR), PACKAGE_ROOT);
});

describe('gen deletes only files it wrote before', () => {
  it('user files in cpp/ and cuda/ of a folder gen wrote survive a re-gen', () => {
    const dir = tmp();
    writeGenerated(shipped, dir);
    const kept = userFiles(dir);
    writeGenerated(shipped, dir);
    writeGenerated(mine, dir);
    const t = tree(dir);
    for (const [rel, text] of Object.entries(kept)) expect(t[rel], rel).toBe(text);
    for (const [rel, text] of mine.files) expect(t[rel], rel).toBe(text);
  });

  it("a re-gen removes a kernel it wrote before and no longer generates, and lists what it wrote", () => {
    const dir = tmp();
    writeGenerated(shipped, dir);
    writeGenerated(mine, dir);
    expect(Object.keys(tree(dir)).sort()).toEqual([...mine.files.keys()].sort());
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { generator: string; files: string[] };
    expect(manifest.generator).toBe('kvforge-codegen 4');
    expect(manifest.files).toEqual([...mine.files.keys()].filter((f) => f !== 'manifest.json').sort());
    expect(diffGenerated(mine, dir)).toEqual([]);
  });

  it('manifests of the previous formats (1: files per kernel; 2: no unit data) are read, so generated/ upgrades in place', () => {
    for (const format of [1, 2]) {
      const dir = tmp();
      writeGenerated(shipped, dir);
      const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { files?: string[]; generator: string; kernels: Record<string, { files: string[] }> };
      if (format === 1) delete m.files;
      const kernels = Object.fromEntries(Object.entries(m.kernels).map(([id, k]) => [id, { files: k.files }]));
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, generator: `kvforge-codegen ${format}`, kernels }));
      writeGenerated(mine, dir);
      expect(Object.keys(tree(dir)).sort(), `format ${format}`).toEqual([...mine.files.keys()].sort());
    }
  });

  it('a manifest edited to list ../victim, an absolute path or a non-generated name is refused; nothing is deleted', () => {
    const parent = tmp();
    const dir = path.join(parent, 'out');
    writeFileSync(path.join(parent, 'victim'), 'precious\n');
    writeGenerated(shipped, dir);
    const before = tree(parent);
    for (const entry of ['../victim', path.join(parent, 'victim'), 'cpp/../../victim', 'cpp/helpers.hpp', 'manifest.json', 42]) {
      const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { files: unknown[] };
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...m, files: [...m.files.slice(1), entry] }));
      for (const force of [false, true]) {
        const e = caught(() => writeGenerated(mine, dir, { force }));
        expect(e.code).toBe('KVF4011');
        expect(e.message).toContain(path.join(dir, 'manifest.json'));
        expect(e.message).toContain(JSON.stringify(entry));
      }
      expect(readFileSync(path.join(parent, 'victim'), 'utf8')).toBe('precious\n');
      writeFileSync(path.join(dir, 'manifest.json'), shipped.files.get('manifest.json')!);
      expect(tree(parent)).toEqual(before);
    }
  });
});

describe('gen writes into a folder it did not create only with --force', () => {
  it('a non-empty folder without a manifest: KVF4010 naming the folder and --force; nothing written', () => {
    const dir = tmp();
    const kept = userFiles(dir);
    const r = kvforge('gen', FIXTURE, '--out', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error KVF4010');
    expect(r.stderr).toContain(`${dir} is not empty and kvforge gen did not create it`);
    expect(r.stderr).toContain('--force');
    expect(tree(dir)).toEqual(kept);
  });

  it('a foreign manifest.json (not kvforge\'s, or not JSON) is the user\'s file: refused, with --force too', () => {
    for (const text of ['{ "name": "my-app", "files": ["cpp/x.cpp"] }\n', 'not json\n']) {
      for (const force of [false, true]) {
        const dir = tmp();
        writeFileSync(path.join(dir, 'manifest.json'), text);
        const e = caught(() => writeGenerated(mine, dir, { force }));
        expect(e.code).toBe('KVF4010');
        expect(e.message).toMatch(/manifest\.json (was not written by kvforge gen|is not JSON)/);
        expect(tree(dir)).toEqual({ 'manifest.json': text });
      }
    }
  });

  it("--out naming kvforge's own generated/ is refused: the shipped kernels stay", () => {
    const before = readdirSync(path.join(GENERATED_DIR, 'cpp')).sort();
    const r = kvforge('gen', FIXTURE, '--out', GENERATED_DIR);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/KVF4010.*kvforge's own generated\/ folder/);
    expect(readdirSync(path.join(GENERATED_DIR, 'cpp')).sort()).toEqual(before);
  });

  it('--force writes into it, overwrites only the files gen generates, deletes none of the user\'s, and a re-gen then needs no --force', () => {
    const dir = tmp();
    const kept = userFiles(dir);
    const r = kvforge('gen', FIXTURE, '--out', dir, '--force');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const t = tree(dir);
    for (const [rel, text] of Object.entries(kept)) expect(t[rel], rel).toBe(text);
    for (const [rel, text] of mine.files) expect(t[rel], rel).toBe(text);
    expect(kvforge('gen', FIXTURE, '--out', dir).code).toBe(0);
    expect(tree(dir)).toEqual(t);
  });

  it('an empty or missing folder needs no --force', () => {
    const parent = tmp();
    writeGenerated(mine, path.join(parent, 'new', 'deeper'));
    writeGenerated(mine, tmp());
    expect(diffGenerated(mine, path.join(parent, 'new', 'deeper'))).toEqual([]);
  });

  it('an --out that is a file is a coded error', () => {
    const file = path.join(tmp(), 'file');
    writeFileSync(file, 'x');
    expect(caught(() => writeGenerated(mine, file)).code).toBe('KVF4010');
  });
});

describe('gen follows no symbolic link out of its folder', () => {
  it('a cpp/ that links outside: KVF4011, with or without --force; the outside files are untouched', () => {
    const parent = tmp();
    const outside = path.join(parent, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'theirs.cpp'), 'int theirs;\n');
    const dir = path.join(parent, 'out');
    writeGenerated(mine, dir);
    const ownCpp = [...mine.files.keys()].filter((f) => f.startsWith('cpp/'));
    // Put a file of the name gen would delete or overwrite outside, behind the link.
    writeFileSync(path.join(outside, path.basename(ownCpp[0]!)), 'not gen\'s\n');
    rmSync(path.join(dir, 'cpp'), { recursive: true });
    symlinkSync(outside, path.join(dir, 'cpp'));
    const before = tree(outside);
    for (const set of [mine, shipped]) {
      for (const force of [false, true]) {
        const e = caught(() => writeGenerated(set, dir, { force }));
        expect(e.code).toBe('KVF4011');
        expect(e.message).toContain(`${path.join(dir, 'cpp')} is a symbolic link`);
      }
    }
    const r = kvforge('gen', FIXTURE, '--out', dir, '--force');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error KVF4011');
    expect(tree(outside)).toEqual(before);
  });

  it('a manifest entry, or the manifest itself, that is a link: KVF4011, the link target untouched', () => {
    const parent = tmp();
    const victim = path.join(parent, 'victim');
    writeFileSync(victim, 'precious\n');
    const dir = path.join(parent, 'out');
    writeGenerated(shipped, dir);
    const entry = [...shipped.files.keys()].find((f) => f.startsWith('cuda/'))!;
    rmSync(path.join(dir, entry));
    symlinkSync(victim, path.join(dir, entry));
    const e = caught(() => writeGenerated(mine, dir)); // the entry is stale: gen would delete it
    expect(e.code).toBe('KVF4011');
    expect(e.message).toContain(path.join(dir, entry));
    rmSync(path.join(dir, entry));
    rmSync(path.join(dir, 'manifest.json'));
    symlinkSync(victim, path.join(dir, 'manifest.json'));
    expect(caught(() => writeGenerated(shipped, dir, { force: true })).code).toBe('KVF4011');
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });
});

describe('a gen killed at any moment leaves no half file', () => {
  // A child writes the shipped set and the fixture's in turn, forever; it is killed after a
  // random delay, several times into the same folder. After each kill: every generated file is
  // whole (one of the two sets' texts), the manifest lists every one of them, and the next gen
  // takes over without --force and cleans up.
  it(`kill -9 during writes, 4 times (seed ${SEED})`, async () => {
    const dir = tmp();
    const delays = fc.sample(fc.integer({ min: 0, max: 60 }), { seed: SEED, numRuns: 4 });
    const whole = new Map<string, Set<string>>();
    for (const set of [shipped, mine]) for (const [rel, text] of set.files) whole.set(rel, new Set([...(whole.get(rel) ?? []), text]));
    for (const delay of delays) {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(PACKAGE_ROOT, 'specs/support/gen-loop.ts'), dir], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => resolve());
        child.on('exit', (code) => reject(new Error(`gen-loop exited (${code}) before it was ready`)));
      });
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      const t = tree(dir);
      const manifest = JSON.parse(t['manifest.json']!) as { files: string[] };
      for (const [rel, text] of Object.entries(t)) {
        if (rel.startsWith('.kvforge-tmp-')) continue; // the write in flight: never under a generated name
        if (rel !== 'manifest.json') expect(manifest.files, `${rel} (delay ${delay} ms)`).toContain(rel);
        if (rel !== 'manifest.json') expect(GENERATED_FILE.test(rel), rel).toBe(true);
        if (rel !== 'manifest.json') expect(whole.get(rel)?.has(text), `${rel} is whole (delay ${delay} ms)`).toBe(true);
      }
      expect(Object.keys(t).filter((f) => f.startsWith('.kvforge-tmp-')).length).toBeLessThanOrEqual(1);
    }
    writeGenerated(mine, dir);
    expect(Object.keys(tree(dir)).sort()).toEqual([...mine.files.keys()].sort());
  });
});
