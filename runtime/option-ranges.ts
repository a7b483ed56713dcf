/**
 * Numeric command-line options with a stated range: one row per option (integer or real,
 * bounds, what they mean), shared by `mspec` (compiler/cli/ranges.ts turns rows into yargs
 * options) and the trainer `mspec build` generates, so `--steps 0` or `--batch abc` is the same
 * usage error, naming the option, the range and what was given, wherever it is typed.
 */
export interface OptionRange {
  readonly int: boolean;
  readonly min: number;
  readonly max: number;
  /** The lower bound itself is excluded: (min, max]. */
  readonly minOpen?: boolean;
  readonly describe: string;
  readonly default?: number;
}

const P = (n: number) => 2 ** n;

/** Shared rows: several commands take the same knob with the same meaning. */
export const RANGES = {
  batch: { int: true, min: 1, max: P(16), describe: 'sequences per batch' },
  seq: { int: true, min: 1, max: P(24), describe: 'sequence length (at most the model context)' },
  seed: { int: true, min: 0, max: P(32) - 1, describe: 'random seed' },
  steps: { int: true, min: 1, max: P(32), describe: 'optimizer steps' },
  every: { int: true, min: 1, max: P(32), describe: 'steps' },
  // The same range as the train section's eval { batches } (semantics/schema.ts).
  evalBatches: { int: true, min: 1, max: 64 * 1024, describe: 'validation batches per evaluation' },
  checkpointEvery: { int: true, min: 0, max: P(32), describe: 'checkpoint every N steps (0 = only at the end; always on Ctrl-C)' },
  maxTokens: { int: true, min: 1, max: P(20), describe: 'tokens to generate' },
  sampleTokens: { int: true, min: 0, max: P(20), describe: 'tokens to sample at the end (0 = none)' },
  temperature: { int: false, min: 0, max: 100, describe: 'softmax temperature (0 = greedy)' },
  topK: { int: true, min: 0, max: P(24), describe: 'keep the k most likely tokens (0 = all)' },
  lookahead: { int: true, min: 1, max: 16, describe: 'draft tokens the target verifies per pass (speculative decoding, --draft)' },
  chunk: { int: true, min: 1, max: 1024, describe: 'decode steps per submission and read-back (default adaptive, 8 doubling to 64)' },
  topP: {
    int: false,
    min: 0,
    max: 1,
    minOpen: true,
    describe: 'nucleus sampling: keep the smallest set of tokens whose probability reaches p',
  },
} as const satisfies Record<string, OptionRange>;

const show = (n: number) =>
  Number.isInteger(n) && n >= 1024 && Number.isInteger(Math.log2(n))
    ? `2^${Math.log2(n)}`
    : Number.isInteger(n + 1) && n > 1024 && Number.isInteger(Math.log2(n + 1))
      ? `2^${Math.log2(n + 1)}-1`
      : String(n);

export function rangeText(r: OptionRange): string {
  return `${r.minOpen ? '(' : '['}${show(r.min)}, ${show(r.max)}]`;
}

function wrong(name: string, r: OptionRange, found: string): Error {
  return new Error(`--${name} must be ${r.int ? 'an integer' : 'a number'} in ${rangeText(r)}, found ${found}`);
}

/** Checks one value; returns it, or throws the usage error yargs reports. */
export function checkRange(name: string, r: OptionRange, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new Error(`--${name} is given ${v.length} times; give it once`);
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw wrong(name, r, typeof v === 'string' ? `'${v}'` : 'no number');
  if (r.int && !Number.isInteger(n)) throw wrong(name, r, String(n));
  if (n > r.max || n < r.min || (r.minOpen && n === r.min)) throw wrong(name, r, String(n));
  return n;
}
