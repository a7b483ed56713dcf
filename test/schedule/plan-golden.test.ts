/**
 * Golden plans: the inference (forward, prefill, decode) and training plans of small specs,
 * rendered as text (compiler/schedule/explain.ts) and compared with test/golden/plans/. No
 * GPU is needed. A change to fusion or scheduling shows up here as a readable diff; when it is
 * intended, regenerate with UPDATE_GOLDEN=1 and review the diff.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { explainPlanFull } from '../../compiler/schedule/explain.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SPECS = [
  'test/fixtures/torch/torch_gpt.model',
  'test/fixtures/torch/torch_llama.model',
  'test/runtime/variants/alibi-parallel.model',
  'test/runtime/variants/postnorm-window.model',
  'test/runtime/variants/geglu-rmsnorm.model',
  'test/runtime/variants/moe-mixtral.model',
  'test/fixtures/torch/torch_bert.model',
];
// The golden fixes the tuning and subgroup size so the text does not depend on the machine;
// the gpu tuning differs only inside kernels, so one spec covers it.
const TUNINGS = [
  { tuning: 'cpu', subgroupMinSize: 8, specs: SPECS },
  { tuning: 'gpu', subgroupMinSize: 0, specs: SPECS.slice(1, 2) },
] as const;

function render(file: string, t: (typeof TUNINGS)[number]): string {
  const r = compileFile(join(ROOT, file));
  const m = r.models[0]!;
  if (!m.ok || !m.graph) throw new Error(`${file} does not compile: ${r.diagnostics.map((d) => d.code).join(', ')}`);
  const o = { tuning: t.tuning, subgroupMinSize: t.subgroupMinSize };
  const plans = [
    planModel(m.spec, m.graph, { ...o, mode: 'prefill' }),
    planModel(m.spec, m.graph, { ...o, mode: 'decode' }),
    planTraining(m.spec, m.graph, { ...o, B: 2, T: 8, clip: 1, accumulation: 2 }),
  ];
  return plans.map(explainPlanFull).join('\n');
}

describe('plan goldens', () => {
  for (const t of TUNINGS) {
    for (const file of t.specs) {
      it(`${basename(file)} (${t.tuning} tuning)`, () => {
        const text = render(file, t);
        const dir = join(ROOT, 'test', 'golden', 'plans');
        const golden = join(dir, `${basename(file, '.model')}.${t.tuning}.txt`);
        if (process.env.UPDATE_GOLDEN || !existsSync(golden)) {
          mkdirSync(dir, { recursive: true });
          writeFileSync(golden, text);
        }
        expect(text).toBe(readFileSync(golden, 'utf8'));
      });
    }
  }
});
