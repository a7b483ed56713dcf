// Masked-LM training of specs/tiny-bert.model: mspec (WebGPU) against its PyTorch twin
// (scripts/reference/train_mlm.py), which starts from mspec's initial weights and replays
// mspec's batches and masks exactly. Writes the BENCHMARKS.md section
// "Masked-LM training vs PyTorch (tiny-bert on Moby-Dick)".
// Run:
//   npm run build
//   node bench/compare-mlm.mjs init /tmp/tiny-bert-init.safetensors
//   node dist/compiler/cli/main.js train specs/tiny-bert.model --out RUN
//   /usr/bin/python3 scripts/reference/train_mlm.py --init /tmp/tiny-bert-init.safetensors
//   node bench/compare-mlm.mjs RUN
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileGpu } from '../dist/compiler/cli/gpu-model.js';
import { f32Tensor, writeSafetensors } from '../dist/runtime/checkpoint/safetensors.js';
import { initialValues } from '../dist/runtime/init.js';
import { lossChartSvg } from '../dist/runtime/train/chart.js';
import { writeSection } from './section.mjs';

const SPEC = 'specs/tiny-bert.model';

if (process.argv[2] === 'init') {
  // The weights `mspec train` starts from: the spec's init rule for its train seed.
  const out = process.argv[3];
  if (!out) throw new Error('usage: node bench/compare-mlm.mjs init FILE.safetensors');
  const r = compileGpu(SPEC, { tuning: 'cpu', subgroupMinSize: 0 });
  const m = r.models[0];
  if (!m) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  const seed = m.model.spec.train.seed;
  const tensors = new Map(m.data.params.map((p) => [p.name, f32Tensor(p.shape, initialValues(p, seed))]));
  writeSafetensors(out, { tensors, metadata: { format: 'pt', 'mspec.model': m.data.name, seed: String(seed) } });
  console.log(`wrote ${tensors.size} initial tensors of ${m.data.name} (seed ${seed}) to ${out}`);
  process.exit(0);
}

const runDir = process.argv[2];
if (!runDir) throw new Error('usage: node bench/compare-mlm.mjs RUN_DIR  (or: init FILE)');
const lines = (p) =>
  readFileSync(p, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
copyFileSync(join(runDir, 'metrics.jsonl'), 'bench/reference/tiny-bert-mspec.jsonl');
const ours = lines('bench/reference/tiny-bert-mspec.jsonl');
const torch = lines('bench/reference/tiny-bert-torch.jsonl');
const evals = (rs) => new Map(rs.filter((r) => r.val_loss !== undefined).map((r) => [r.step, r]));
const oursVal = evals(ours);
const torchVal = evals(torch);
const steps = [...torchVal.keys()].filter((s) => oursVal.has(s)).sort((a, b) => a - b);
if (!steps.length) throw new Error('no common evaluation steps');
const last = steps[steps.length - 1];
const pct = (a, b) => `${(100 * (a / b - 1)).toFixed(2)}%`;
const rows = steps.map((s) => {
  const o = oursVal.get(s);
  const t = torchVal.get(s);
  return `| ${s} | ${o.val_loss.toFixed(4)} | ${t.val_loss.toFixed(4)} | ${pct(o.val_loss, t.val_loss)} | ${(100 * o.val_acc).toFixed(1)}% | ${(100 * t.val_acc).toFixed(1)}% |`;
});
const first = (rs) => rs.find((r) => r.step === 1 && r.loss !== undefined)?.loss;
const final = oursVal.get(last).val_loss / torchVal.get(last).val_loss - 1;
writeFileSync(
  'bench/reference/tiny-bert-curves.svg',
  lossChartSvg('tiny-bert masked LM on Moby-Dick: mspec (WebGPU) vs PyTorch', [
    { name: 'mspec train', color: '#1f77b4', points: ours.filter((r) => r.loss !== undefined).map((r) => [r.step, r.loss]) },
    { name: 'PyTorch train', color: '#ff7f0e', points: torch.filter((r) => r.loss !== undefined).map((r) => [r.step, r.loss]) },
    { name: 'mspec val', color: '#2ca02c', points: [...oursVal].map(([s, r]) => [s, r.val_loss]) },
    { name: 'PyTorch val', color: '#d62728', points: [...torchVal].map(([s, r]) => [s, r.val_loss]) },
  ]),
);
const summary = torch.find((r) => r.final_val_loss !== undefined);
await writeSection(
  'Masked-LM training vs PyTorch (tiny-bert on Moby-Dick)',
  `BERT-style masked LM (issue 10): specs/tiny-bert.model, a 2-layer post-LN encoder (d_model 64, 4 heads, context 64,
GELU MLP 256, LayerNorm on the embeddings, BERT's MLM head: dense + GELU + LayerNorm, tied projection + bias), char-level
Moby-Dick with [MASK] as the last id (84), mask_prob 0.15 (round(0.15·64) = 10 positions per window: 80% [MASK], 10%
random, 10% kept), batch 32, AdamW lr 2e-3 (betas 0.9/0.98, weight decay 0.01 on matrices), linear schedule with 40
warmup steps to 1e-4, clip 1.0, ${last} steps. Losses are masked-token cross-entropies; accuracy is the share of
masked positions whose argmax is the original character (taken on the GPU in mspec).
mspec: \`mspec train ${SPEC} --out RUN\` on the WebGPU adapter (lavapipe). PyTorch ${summary?.torch ?? ''}:
\`/usr/bin/python3 scripts/reference/train_mlm.py --init INIT\`, starting from mspec's initial weights
(\`node bench/compare-mlm.mjs init INIT\`) and replaying mspec's training windows, masks and validation windows exactly
(its RNGs are ported), so the runs differ only by floating-point rounding. First-step training loss: mspec
${first(ours)?.toFixed(6)}, PyTorch ${first(torch)?.toFixed(6)}. Then \`node bench/compare-mlm.mjs RUN\`.
Curves: [bench/reference/tiny-bert-curves.svg](bench/reference/tiny-bert-curves.svg).

| step | mspec val loss | PyTorch val loss | difference | mspec val accuracy | PyTorch val accuracy |
|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

Final masked-token validation loss: mspec ${oursVal.get(last).val_loss.toFixed(4)} vs PyTorch ${torchVal.get(last).val_loss.toFixed(4)} (${(100 * final).toFixed(2)}%; the target is within 3%).`,
);
console.log(`final: mspec ${oursVal.get(last).val_loss} torch ${torchVal.get(last).val_loss} (${(100 * final).toFixed(2)}%)`);
