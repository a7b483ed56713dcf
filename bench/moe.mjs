// Mixture of experts vs dense, measured in one run on this adapter: specs/tiny-mixtral.model
// (4 experts, top-2) against a dense model with the same ACTIVE parameters per token
// (bench/moe/dense-active.model) and one with the same TOTAL parameters
// (bench/moe/dense-total.model), all with the same recipe, data and seed. Trains each with
// `mspec train`, then writes the validation losses at every evaluation, the training speed,
// the routing balance and a chart of the curves into the BENCHMARKS.md section
// "Mixture of experts vs dense (tiny-mixtral on Moby-Dick)".
// Run: npm run build && node bench/moe.mjs [--steps N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lossChartSvg } from '../dist/runtime/train/chart.js';
import { writeSection } from './section.mjs';

const at = process.argv.indexOf('--steps');
const steps = at > 0 ? Number(process.argv[at + 1]) : 300;
if (!Number.isInteger(steps) || steps < 1 || steps > 100000) throw new Error('--steps must be an integer in [1, 100000]');

const runs = [
  { name: 'MoE: 4 experts, top-2', spec: 'specs/tiny-mixtral.model', color: '#1f77b4' },
  { name: 'dense, same active', spec: 'bench/moe/dense-active.model', color: '#ff7f0e' },
  { name: 'dense, same total', spec: 'bench/moe/dense-total.model', color: '#2ca02c' },
];
const root = mkdtempSync(join(tmpdir(), 'mspec-moe-bench-'));
const cli = 'dist/compiler/cli/main.js';
for (const r of runs) {
  r.params = JSON.parse(execFileSync('node', [cli, 'info', r.spec, '--json'], { encoding: 'utf8' }));
  r.out = join(root, r.spec.replace(/\W+/g, '_'));
  const t0 = Date.now();
  execFileSync('node', [cli, 'train', r.spec, '--steps', String(steps), '--out', r.out, '--sample-tokens', '0'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  r.wall = (Date.now() - t0) / 1000;
  r.metrics = readFileSync(join(r.out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const speeds = r.metrics
    .filter((m) => m.step > 5 && m.tokens_per_s)
    .map((m) => m.tokens_per_s)
    .sort((a, b) => a - b);
  r.speed = speeds[Math.floor(speeds.length / 2)];
  r.val = r.metrics.filter((m) => m.val_loss !== undefined).map((m) => [m.step, m.val_loss]);
  console.log(`${r.name}: final val ${r.val.at(-1)?.[1]} at ${r.speed} tokens/s (${r.wall.toFixed(0)} s)`);
}

const count = (r, k) => r.params.params[k];
const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '?');
const evalSteps = runs[0].val.map(([s]) => s).filter((s) => runs.every((r) => r.val.some(([t]) => t === s)));
const valAt = (r, s) => r.val.find(([t]) => t === s)[1].toFixed(4);
const table = [
  `| step | ${runs.map((r) => r.name).join(' | ')} |`,
  `|---:|${runs.map(() => '---:').join('|')}|`,
  ...evalSteps.map((s) => `| ${s} | ${runs.map((r) => valAt(r, s)).join(' | ')} |`),
].join('\n');
const sizes = runs
  .map((r) => `| ${r.name} | \`${r.spec}\` | ${fmt(count(r, 'total'))} | ${fmt(count(r, 'active'))} | ${fmt(r.speed)} |`)
  .join('\n');
const last = runs[0].metrics.filter((m) => m.expert_load).at(-1);
const load = last
  ? `Routing at step ${last.step} (fraction of routed slots per expert, per MoE layer; even = ${(1 / last.expert_load[0].length).toFixed(2)}): ` +
    last.expert_load.map((l, i) => `layer ${i}: ${l.map((x) => x.toFixed(2)).join('/')}`).join('; ') +
    '.'
  : '';
writeFileSync(
  'bench/reference/moe-curves.svg',
  lossChartSvg(
    'tiny-mixtral (MoE) vs dense baselines on Moby-Dick: validation loss',
    runs.map((r) => ({ name: r.name, color: r.color, points: r.val })),
  ),
);
await writeSection(
  'Mixture of experts vs dense (tiny-mixtral on Moby-Dick)',
  `\`npm run build && node bench/moe.mjs --steps ${steps}\`: three models trained in one run with \`mspec train\` on the same
adapter, data (Moby-Dick, byte tokens), seed and recipe (batch 16 × 64 tokens, AdamW 3e-3, cosine, ${steps} steps).
The MoE is specs/tiny-mixtral.model (4 layers, d_model 64, GQA, RoPE, SwiGLU experts of width 128, top-2 of 4,
renormalised, aux loss 0.02); the dense baselines have one SwiGLU MLP as wide as the two experts a token uses (same
active parameters) or as all four (same total parameters). Speed is the median training tokens/s of the run.
Curves: [bench/reference/moe-curves.svg](bench/reference/moe-curves.svg).

| model | spec | parameters | active per token | train tokens/s |
|---|---|---:|---:|---:|
${sizes}

Validation loss:

${table}

${load}`,
);
