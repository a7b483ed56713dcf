// A scaling-law sketch: one spec at several widths, each trained for the same compute (steps
// chosen so steps × tokens/step × train FLOPs/token from `mspec info` is one budget), with the
// validation loss against FLOPs on an SVG chart and, as the reference, where Chinchilla's
// ~20 tokens per parameter (`info`'s compute_optimal) would put each size's budget.
//   npm run build && node examples/scaling-law/run.mjs
//   SIZES=w32,w48 BUDGET_STEPS=4 node examples/scaling-law/run.mjs     (the quick version the test runs)
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envInt, metrics, mobyDick, mspec, mspecJson, table } from '../lib/mspec.mjs';
import { chart } from './chart.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.env.EXAMPLE_OUT ?? join(here, 'out');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const spec = join(here, 'sizes.model');
const sizes = (process.env.SIZES ?? 'w32,w48,w64,w96').split(',');
const batch = 8;
const seq = 64;
const tokensPerStep = batch * seq;

const infos = sizes.map((s) => ({ name: s, info: mspecJson(['info', `${spec}#${s}`]) }));
// The budget: BUDGET_STEPS steps of the largest model.
const largest = Math.max(...infos.map((x) => x.info.flops_per_token.train));
const budget = envInt('BUDGET_STEPS', 40) * tokensPerStep * largest;

const runs = [];
for (const { name, info } of infos) {
  const perStep = tokensPerStep * info.flops_per_token.train;
  const steps = Math.max(1, Math.round(budget / perStep));
  const every = Math.max(1, Math.floor(steps / 4));
  const dir = join(out, name);
  mspec([
    'train',
    `${spec}#${name}`,
    '--data',
    mobyDick('chapter_1'),
    '--tokenizer',
    'byte',
    '--batch',
    String(batch),
    '--steps',
    String(steps),
    '--seed',
    '1',
    '--eval-every',
    String(every),
    '--eval-batches',
    '4',
    '--sample-tokens',
    '0',
    '--out',
    dir,
  ]);
  const points = metrics(dir)
    .filter((m) => m.val_loss !== undefined)
    .map((m) => ({ flops: m.step * perStep, loss: m.val_loss }));
  runs.push({ name, params: info.params.total, steps, tokens: steps * tokensPerStep, points, optimal: info.compute_optimal });
}

const fmt = (x) => x.toExponential(2);
console.log(`budget ${fmt(budget)} training FLOPs each (${tokensPerStep} tokens per step)\n`);
console.log(
  table([
    ['size', 'params', 'steps', 'tokens/param', 'val loss', 'Chinchilla budget (20 tok/param)'],
    ...runs.map((r) => [
      r.name,
      r.params.toLocaleString('en-US'),
      r.steps,
      (r.tokens / r.params).toFixed(2),
      r.points.at(-1).loss.toFixed(4),
      fmt(r.optimal.flops),
    ]),
  ]),
);
// Chinchilla's pick for this budget: the size whose compute-optimal budget is nearest (in log).
const pick = runs.reduce((a, b) => (Math.abs(Math.log(b.optimal.flops / budget)) < Math.abs(Math.log(a.optimal.flops / budget)) ? b : a));
const best = runs.reduce((a, b) => (b.points.at(-1).loss < a.points.at(-1).loss ? b : a));
console.log(`\nlowest validation loss: ${best.name}; the 20-tokens-per-parameter rule picks ${pick.name} for this budget`);
writeFileSync(join(out, 'loss-vs-flops.svg'), chart(runs, budget));
console.log(`chart: ${join(out, 'loss-vs-flops.svg')}`);
