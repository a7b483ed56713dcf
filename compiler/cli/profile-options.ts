/**
 * `mspec profile`'s numeric options (ranges.ts rows), apart from the command so that main.ts
 * can show them in --help without loading the compiler.
 */
import type { OptionRange } from './ranges.js';

/** --train without a train section: a batch small enough to profile quickly on a CPU adapter. */
export const DEFAULT_PROFILE_BATCH = 8;

export const PROFILE_RANGES = {
  // Every reported time is a median over the runs; a few suffice, thousands only take long.
  runs: { int: true, min: 1, max: 1000, describe: 'timed runs of each plan (times are their medians)', default: 5 },
  // The first runs compile pipelines on a software adapter and fill caches.
  warmup: { int: true, min: 0, max: 100, describe: 'untimed runs of each plan first', default: 2 },
} as const satisfies Record<string, OptionRange>;
