/**
 * A tiny BERT (HF BertModel + BertForMaskedLM conventions: word + position + segment
 * embeddings and their LayerNorm, post-LN bidirectional layers, GELU, the masked-LM head
 * head { kind: lm, transform: gelu } with its tied decoder + bias, the pooler) against an
 * independent PyTorch reference (scripts/fixtures/make_torch_bert.py, std-0.25 weights,
 * test/fixtures/torch/torch_bert.*). The loss is the MLM cross-entropy over the 8 of 16
 * positions whose target is >= 0 (the others are −1: ignored, out of the mean).
 *
 * CPU: the interpreter's logits, pooled output and loss, and autodiff's gradients. GPU, both
 * kernel tunings: the forward plan's logits, pooled output and loss; one training step's loss
 * and every parameter gradient (lr = 0); and the same weights under head { kind: none }, whose
 * plan outputs the hidden states and the pooled output instead of logits.
 *
 * Tolerances are relative to the float64 reference (abs + rel·|ref|), as in
 * variants-torch.test.ts: PyTorch's own float32 run differs from float64 by 3.5e-6 on the logits
 * (|logit| ≤ 5.4) and 1.2e-6 on the gradients (|g| ≤ 1.3) (the fixture records it).
 * TORCH_TOL_REPORT=1 prints every measured error.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelTuning } from '../../compiler/codegen/wgsl/matmul.js';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { compileFile } from '../../compiler/index.js';
import { interpretGraph } from '../../compiler/ir/interpret.js';
import { gradients } from '../../compiler/passes/autodiff.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { ModelRuntime } from '../../runtime/model-runtime.js';
import { PlanRunner } from '../../runtime/plan-runner.js';
import { Trainer } from '../../runtime/train/trainer.js';
import { loadTorchFixture, TORCH_FIXTURE_DIR } from '../fixtures/torch/load.js';
import { paramInfos, trainRunner, ZERO_LR } from '../helpers/gpu-train.js';
import { expectClose, type GradsJson, report, type Tol } from '../helpers/torch-compare.js';

const NAME = 'torch_bert';
const TUNINGS = (process.env.MSPEC_VARIANT_TUNINGS ?? 'cpu,gpu').split(',') as KernelTuning[];

/** Logits |ref| ≤ 5.4, pooled and hidden |ref| ≤ 3. */
const LOGITS: Tol = { abs: 2e-5, rel: 5e-6 };
const GRADS: Tol = { abs: 5e-6, rel: 5e-5 };
const LOSS_ABS = 1e-5;
const INTERP: Tol = { abs: 5e-6, rel: 1e-6 };
const INTERP_GRADS: Tol = { abs: 1e-5, rel: 1e-4 };
const TIMEOUT = 400_000;

interface BertJson {
  segments: number[][];
  pooled: number[];
  hidden: number[];
}

const fx = loadTorchFixture(NAME);
const extra = JSON.parse(readFileSync(join(TORCH_FIXTURE_DIR, `${NAME}.expected.json`), 'utf8')) as BertJson;
const torchGrads = JSON.parse(readFileSync(join(TORCH_FIXTURE_DIR, `${NAME}.grads.json`), 'utf8')) as GradsJson;
const segments = Int32Array.from(extra.segments.flat());
const pooled = Float64Array.from(extra.pooled);
const hidden = Float64Array.from(extra.hidden);

function compileBert(path = fx.specPath) {
  const r = compileFile(path);
  expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  return r.models[0]!;
}

describe('torch_bert: CPU interpreter vs PyTorch', () => {
  const m = compileBert();
  const graph = m.graph!;
  const inputs = new Map<string, Int32Array>([
    ['tokens', fx.tokens],
    ['positions', fx.positions],
    ['segments', segments],
    ['targets', fx.targets],
  ]);

  it('checkpoint names = lowered params; the MLM head counts as head', () => {
    expect(graph.params.map((p) => `${p.name} [${p.shape.join(',')}]`).sort()).toEqual(
      [...fx.shapes].map(([n, s]) => `${n} [${s.join(',')}]`).sort(),
    );
    const head = graph.params.filter((p) => p.component === 'head').map((p) => p.name);
    expect(head.sort()).toEqual(
      [
        'lm_head.bias',
        'lm_head.transform.bias',
        'lm_head.transform.norm.bias',
        'lm_head.transform.norm.weight',
        'lm_head.transform.weight',
        'pooler.bias',
        'pooler.weight',
      ].sort(),
    );
  });

  it('logits, pooled output and the loss over the targets >= 0 match', () => {
    const values = interpretGraph(graph, { params: fx.params, inputs, B: fx.B, T: fx.T });
    const out = (name: string) => values.get(graph.outputs.find((v) => graph.values[v]!.name === name)!)!.data;
    expectClose('interpreter logits', out('head.logits'), fx.logits, INTERP);
    expectClose('interpreter pooled', out('pooler.pooled'), pooled, INTERP);
    expect(Math.abs(out('head.loss')[0]! - fx.loss)).toBeLessThanOrEqual(LOSS_ABS);
  });

  it('every gradient matches (the pooler gets zero: it does not reach the MLM loss)', () => {
    const { loss, grads } = gradients(graph, { params: fx.params, inputs, B: fx.B, T: fx.T });
    expect(Math.abs(loss - fx.loss)).toBeLessThanOrEqual(LOSS_ABS);
    for (const p of graph.params)
      expectClose(`interpreter ∂loss/∂${p.name}`, grads.get(p.name)!, torchGrads.grads[p.name]!.values, INTERP_GRADS);
  });
});

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

describe.each(TUNINGS)('torch_bert on the GPU, tuning %s', (tuning) => {
  it(
    'forward plan: logits, pooled output and loss match PyTorch',
    async () => {
      const m = compileBert();
      const plan = planModel(m.spec, m.graph!, { mode: 'forward', B: fx.B, T: fx.T, tuning, subgroupMinSize: gpu.subgroupMinSize });
      expect(plan.io.segments).toBe('segments');
      const runner = new PlanRunner(gpu, plan);
      await runner.compile();
      for (const [name, values] of fx.params) runner.write(name, values);
      runner.write(plan.io.tokens, fx.tokens);
      runner.write(plan.io.segments!, segments);
      runner.write(plan.io.targets!, fx.targets);
      runner.setStep(0, fx.T);
      runner.run(0);
      expectClose(`${tuning} logits`, await runner.readF32(plan.io.logits), fx.logits, LOGITS);
      expectClose(`${tuning} pooled`, await runner.readF32(plan.io.pooled!), pooled, LOGITS);
      const loss = (await runner.readF32(plan.io.loss!))[0]!;
      report(`${tuning} loss ${loss} vs ${fx.loss}`);
      expect(Math.abs(loss - fx.loss)).toBeLessThanOrEqual(LOSS_ABS);
    },
    TIMEOUT,
  );

  it(
    'head { kind: none }: the plan outputs the hidden states and the pooled output, no logits',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'mspec-bert-'));
      try {
        const spec = readFileSync(fx.specPath, 'utf8').replace(
          'head { kind: lm, bias: true, transform: gelu, pooler: true }',
          'head { kind: none, pooler: true }',
        );
        expect(spec).toContain('kind: none');
        writeFileSync(join(dir, 'bert_none.model'), spec);
        const m = compileBert(join(dir, 'bert_none.model'));
        const plan = planModel(m.spec, m.graph!, { mode: 'forward', B: fx.B, T: fx.T, tuning, subgroupMinSize: gpu.subgroupMinSize });
        expect([plan.io.logits, plan.io.loss, plan.io.targets]).toEqual(['', null, null]);
        const runner = new PlanRunner(gpu, plan);
        await runner.compile();
        for (const p of m.graph!.params) runner.write(p.name, fx.params.get(p.name)!);
        runner.write(plan.io.tokens, fx.tokens);
        runner.write(plan.io.segments!, segments);
        runner.setStep(0, fx.T);
        runner.run(0);
        expectClose(`${tuning} hidden (head none)`, await runner.readF32(plan.io.hidden!), hidden, LOGITS);
        expectClose(`${tuning} pooled (head none)`, await runner.readF32(plan.io.pooled!), pooled, LOGITS);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    TIMEOUT,
  );

  it(
    "ModelRuntime.encoderForward (the built module's forward): one sequence at a time, the context's padding never attended",
    async () => {
      const c = compileGpu(fx.specPath, { tuning, subgroupMinSize: gpu.subgroupMinSize });
      expect(c.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
      const rt = await ModelRuntime.create(c.models[0]!.data, { gpu });
      try {
        rt.setWeights(readSafetensors(fx.safetensorsPath), NAME);
        const { T, vocab: V } = fx;
        const C = pooled.length / fx.B;
        for (let b = 0; b < fx.B; b++) {
          const row = <A extends Int32Array>(a: A) => Array.from(a.subarray(b * T, (b + 1) * T));
          // T = 8 tokens in a context of 16: keys past the 8th would change every output.
          const out = await rt.encoderForward(row(fx.tokens), row(segments));
          expect(out.hidden).toBeUndefined();
          expectClose(`${tuning} runtime logits b=${b}`, out.logits!, fx.logits.subarray(b * T * V, (b + 1) * T * V), LOGITS);
          expectClose(`${tuning} runtime pooled b=${b}`, out.pooled!, pooled.subarray(b * C, (b + 1) * C), LOGITS);
        }
        await expect(rt.encoderForward([1, 2], [0])).rejects.toThrow('1 segment ids for 2 tokens');
      } finally {
        rt.release();
      }
    },
    TIMEOUT,
  );

  it(
    'one training step: loss and every gradient match PyTorch',
    async () => {
      const m = compileBert();
      const graph = m.graph!;
      const train = planTraining(m.spec, graph, { B: fx.B, T: fx.T, tuning, subgroupMinSize: gpu.subgroupMinSize, clip: 0 });
      expect(train.io.segments).toBe('segments');
      const trainer = await Trainer.create(gpu, paramInfos(graph), { train, eval: train });
      try {
        trainer.init(0);
        trainer.setState(fx.params);
        // The trainer writes tokens and targets each step; the segment ids stay where this put them.
        const runner = trainRunner(trainer);
        runner.write(train.io.segments!, segments);
        const res = await trainer.submitStep(1, fx.tokens, fx.targets, 0, ZERO_LR);
        expect(res.nonfinite).toBe(false);
        report(`${tuning} training loss ${res.loss} vs ${torchGrads.loss}`);
        expect(Math.abs(res.loss - torchGrads.loss)).toBeLessThanOrEqual(LOSS_ABS);
        // The pooler does not reach the MLM loss: frozen, with a gradient of zeros, as PyTorch's.
        expect(train.train!.params.map((p) => p.name).sort()).toEqual(Object.keys(torchGrads.grads).sort());
        for (const p of train.train!.params)
          expectClose(
            `${tuning} ∂loss/∂${p.name}`,
            await runner.readF32(p.grad, p.offset, p.numel),
            torchGrads.grads[p.name]!.values,
            GRADS,
          );
      } finally {
        trainer.release();
      }
    },
    TIMEOUT,
  );
});
