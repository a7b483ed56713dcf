/**
 * Fuzz seeds: a new one every run unless FUZZ_SEED is set, and a failure names the seed so
 * the exact failing cases can be replayed (`FUZZ_SEED=… npx vitest run test/fuzz`).
 */
export function fuzzSeed(): number {
  const env = process.env.FUZZ_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isSafeInteger(n)) throw new Error(`FUZZ_SEED must be an integer, found '${env}'`);
    return n;
  }
  return Date.now() % 2 ** 31;
}

/** Runs `f`; if it throws, the error says which seed to replay. */
export function withSeed<T>(seed: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const err = e as Error;
    err.message = `fuzz failure with seed ${seed}; replay it with FUZZ_SEED=${seed} npx vitest run test/fuzz\n${err.message}`;
    process.stderr.write(`fuzz: failing seed ${seed} (FUZZ_SEED=${seed} to replay)\n`);
    throw err;
  }
}
