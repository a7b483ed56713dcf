// Compares mspec's WebGPU training run of specs/char-gpt.model with the PyTorch reference of
// the same recipe (scripts/reference/train_char_gpt.py): validation loss at every evaluation,
// the final ratio, and both curves in one SVG. Writes the BENCHMARKS.md section
// "Training vs PyTorch (char-gpt on Moby-Dick)".
// Run: node bench/compare-torch.mjs RUN_DIR   (RUN_DIR from `mspec train specs/char-gpt.model --out RUN_DIR`)
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lossChartSvg } from '../dist/runtime/train/chart.js';
import { writeSection } from './section.mjs';

const runDir = process.argv[2];
if (!runDir) throw new Error('usage: node bench/compare-torch.mjs RUN_DIR');
const lines = (p) =>
  readFileSync(p, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
copyFileSync(join(runDir, 'metrics.jsonl'), 'bench/reference/char-gpt-mspec.jsonl');
const ours = lines('bench/reference/char-gpt-mspec.jsonl');
const torch = lines('bench/reference/char-gpt-torch.jsonl');
const oursVal = new Map(ours.filter((r) => r.val_loss !== undefined).map((r) => [r.step, r.val_loss]));
const torchVal = new Map(torch.filter((r) => r.val_loss !== undefined).map((r) => [r.step, r.val_loss]));
const steps = [...torchVal.keys()].filter((s) => oursVal.has(s)).sort((a, b) => a - b);
if (!steps.length) throw new Error('no common evaluation steps');
const last = steps[steps.length - 1];
const rows = steps.map(
  (s) =>
    `| ${s} | ${oursVal.get(s).toFixed(4)} | ${torchVal.get(s).toFixed(4)} | ${(100 * (oursVal.get(s) / torchVal.get(s) - 1)).toFixed(2)}% |`,
);
const final = oursVal.get(last) / torchVal.get(last) - 1;
const svg = lossChartSvg('char-gpt on Moby-Dick: mspec (WebGPU) vs PyTorch', [
  { name: 'mspec train', color: '#1f77b4', points: ours.filter((r) => r.loss !== undefined).map((r) => [r.step, r.loss]) },
  { name: 'PyTorch train', color: '#ff7f0e', points: torch.filter((r) => r.loss !== undefined).map((r) => [r.step, r.loss]) },
  { name: 'mspec val', color: '#2ca02c', points: [...oursVal] },
  { name: 'PyTorch val', color: '#d62728', points: [...torchVal] },
]);
writeFileSync('bench/reference/char-gpt-curves.svg', svg);
const summary = torch.find((r) => r.final_val_loss !== undefined);
await writeSection(
  'Training vs PyTorch (char-gpt on Moby-Dick)',
  `The recipe of the training issue: pre-LN GPT, learned positions, GELU (tanh) MLP 4×, tied head, 4 layers, d_model 128,
4 heads, context 64, batch 32, AdamW lr 3e-3 (betas 0.9/0.95, weight decay 0.1 on matrices), 50 warmup steps, cosine to
3e-4, clip 1.0, ${last} steps; Moby-Dick split 90/10 by position, character vocabulary of the whole text (83).
mspec: \`mspec train specs/char-gpt.model --out RUN\` on the WebGPU adapter (lavapipe). PyTorch ${summary?.torch ?? ''}:
\`/usr/bin/python3 scripts/reference/train_char_gpt.py\` (same initialisation rule, same schedule and validation windows;
different random numbers). Then \`node bench/compare-torch.mjs RUN\`. Curves: [bench/reference/char-gpt-curves.svg](bench/reference/char-gpt-curves.svg).

| step | mspec val loss | PyTorch val loss | difference |
|---:|---:|---:|---:|
${rows.join('\n')}

Final validation loss: mspec ${oursVal.get(last).toFixed(4)} vs PyTorch ${torchVal.get(last).toFixed(4)} (${(100 * final).toFixed(2)}%; the target is within 3%).`,
);
console.log(`final: mspec ${oursVal.get(last)} torch ${torchVal.get(last)} (${(100 * final).toFixed(2)}%)`);
