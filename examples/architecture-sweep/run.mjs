// An architecture sweep from one base spec: what each variant changes (`mspec diff --json`),
// what it costs (`mspec info --json`) and how it trains (a short run of each on the same data,
// seed and steps), side by side. Also draws each diff (`mspec diff --svg`) into out/.
//   npm run build && node examples/architecture-sweep/run.mjs      (STEPS=… for a shorter run)
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envInt, lastValLoss, mobyDick, mspec, mspecJson, table } from '../lib/mspec.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.env.EXAMPLE_OUT ?? join(here, 'out');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const spec = join(here, 'sweep.model');
const steps = envInt('STEPS', 40);
const variants = ['base', 'gqa', 'mqa', 'moe', 'alibi'];

const rows = [['model', 'changes (diff --json)', 'params', 'Δ params', 'train FLOPs/token', 'KV cache B/token', 'val loss']];
for (const v of variants) {
  const info = mspecJson(['info', `${spec}#${v}`]);
  let changes = '—';
  let delta = '';
  if (v !== 'base') {
    // Exit 1 means "the models differ", which is the point here.
    const d = mspecJson(['diff', `${spec}#base`, `${spec}#${v}`, '--svg', join(out, `base-vs-${v}.svg`)], { ok: [1] });
    // Knobs the base has first (a MoE brings five new knobs; experts and top_k say most).
    const rank = (k) => (k.a !== null ? 0 : /top_k/.test(k.path) ? 1 : 2);
    const knobs = [...d.knobs].sort((x, y) => rank(x) - rank(y));
    changes = knobs
      .slice(0, 2)
      .map((k) => `${k.path.replace(/^block\.|^embedding\./, '')}: ${short(k.a)} → ${short(k.b)}`)
      .join(', ');
    if (knobs.length > 2) changes += ` (+${knobs.length - 2} more)`;
    delta = signed(d.costs.params_total.delta);
  }
  const run = join(out, v);
  mspec([
    'train',
    `${spec}#${v}`,
    '--data',
    mobyDick('chapter_1'),
    '--tokenizer',
    'byte',
    '--steps',
    String(steps),
    '--batch',
    '8',
    '--seed',
    '1',
    '--eval-every',
    String(steps),
    '--eval-batches',
    '4',
    '--sample-tokens',
    '0',
    '--out',
    run,
  ]);
  rows.push([
    v,
    changes,
    info.params.total.toLocaleString('en-US'),
    delta,
    info.flops_per_token.train.toLocaleString('en-US'),
    info.kv_cache_bytes_per_token.f16,
    lastValLoss(run).toFixed(4),
  ]);
}
console.log(`${steps} steps each on Moby-Dick chapter 1, batch 8 × 64 bytes, seed 1\n`);
console.log(table(rows, 2));

function short(v) {
  return v === null || v === undefined ? 'none' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}
function signed(n) {
  return n === 0 ? '0' : `${n > 0 ? '+' : '−'}${Math.abs(n).toLocaleString('en-US')}`;
}
