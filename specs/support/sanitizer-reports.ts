/**
 * Global setup of the sanitized flavour (vitest.asan.config.ts): an empty folder for sanitizer
 * reports before the run; after it, any report there fails the run and is printed. (A report also
 * ends the process that made it, so the test that ran it fails too; this catches the ones in
 * processes a spec started and only looked at the exit status of.)
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { REPORTS } from '../../vitest.asan.config.ts';

export function setup(): void {
  rmSync(REPORTS, { recursive: true, force: true });
  mkdirSync(REPORTS, { recursive: true });
}

export function teardown(): void {
  const files = readdirSync(REPORTS);
  const text = files.map((f) => `--- ${f}\n${readFileSync(path.join(REPORTS, f), 'utf8')}`).join('\n');
  rmSync(REPORTS, { recursive: true, force: true });
  if (files.length > 0) throw new Error(`${files.length} sanitizer report(s):\n${text}`);
  console.log('sanitizers: no reports');
}
