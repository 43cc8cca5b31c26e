/**
 * Small timing helpers for `kvforge bench`: a median and a side-by-side runner that interleaves the
 * cases being compared, so that drift (thermal, frequency, other load) hits all of them alike.
 *
 * @module
 */

/** Median of `xs` (mean of the two middle values for an even count); NaN for an empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One contender for {@link interleave}. */
export interface InterleaveCase {
  /** Key of this case's samples in the result; must be unique. */
  name: string;
  /** One timed repetition. */
  run: () => Promise<void> | void;
}

/** Options for {@link interleave}. */
export interface InterleaveOptions {
  /** Untimed rounds first (each case once per round, same interleaving). */
  warmup: number;
  /** Timed rounds: every case contributes one sample per round. */
  reps: number;
  /**
   * Keep adding timed rounds past `reps` until every case has spent at least this many ms in timed
   * runs (bounded by `maxReps`). Default 0.
   */
  minMs?: number;
  /** Upper bound on timed rounds when `minMs` asks for more. Default `max(reps, 10_000)`. */
  maxReps?: number;
}


/**
 * Runs `cases` side by side, rep by rep: each round runs every case once, the starting case rotating
 * from round to round so that no case always runs first (or right after the same neighbour).
 * Returns per-case samples, in ms, keyed by name, in the order they were taken.
 */
export async function interleave(
  cases: readonly InterleaveCase[],
  opts: InterleaveOptions,
): Promise<Map<string, number[]>> {
  const names = new Set(cases.map((c) => c.name));
  if (names.size !== cases.length) throw new Error('interleave: case names must be unique');
  const { warmup, reps } = opts;
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`interleave: warmup must be an integer >= 0, got ${warmup}`);
  if (!Number.isInteger(reps) || reps < 1) throw new RangeError(`interleave: reps must be an integer >= 1, got ${reps}`);
  const minMs = opts.minMs ?? 0;
  const maxReps = Math.max(reps, opts.maxReps ?? 10_000);

  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const spent = new Map<string, number>(cases.map((c) => [c.name, 0]));
  const n = cases.length;
  if (n === 0) return samples;

  for (let round = 0; round < warmup; round++) {
    for (let j = 0; j < n; j++) await cases[(round + j) % n].run();
  }
  for (let round = 0; ; round++) {
    const enough = round >= reps && [...spent.values()].every((t) => t >= minMs);
    if (enough || round >= maxReps) break;
    for (let j = 0; j < n; j++) {
      const c = cases[(round + j) % n];
      const t0 = process.hrtime.bigint();
      await c.run();
      const dt = Number(process.hrtime.bigint() - t0) / 1e6;
      samples.get(c.name)!.push(dt);
      spent.set(c.name, spent.get(c.name)! + dt);
    }
  }
  return samples;
}
