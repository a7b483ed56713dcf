/**
 * The GPU training step against PyTorch: for the tiny GPT-2 and Llama fixtures, the loss and
 * every parameter gradient the training plan computes on the real adapter agree with the
 * gradients PyTorch computed for the same weights and batch (test/fixtures/torch/*.grads.json).
 * lr = 0, so AdamW leaves the weights alone and the gradient buffers hold ∂loss/∂θ.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { Trainer } from '../../runtime/train/trainer.js';
import { loadTorchFixture, TORCH_FIXTURES, TORCH_FIXTURE_DIR } from '../fixtures/torch/load.js';
import { gradChecker, paramInfos, trainRunner, ZERO_LR } from '../helpers/gpu-train.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

describe.each(TORCH_FIXTURES)('%s: one GPU training step', (name) => {
  it('loss and every gradient agree with PyTorch (≤ 2e-5 abs or 1e-3 rel)', async () => {
    const fx = loadTorchFixture(name);
    const torch = JSON.parse(readFileSync(`${TORCH_FIXTURE_DIR}/${name}.grads.json`, 'utf8')) as {
      loss: number;
      grads: Record<string, { shape: number[]; values: number[] }>;
    };
    const m = compileFile(fx.specPath).models[0]!;
    const graph = m.graph!;
    const opts = { B: fx.B, T: fx.T, tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize };
    const trainer = await Trainer.create(gpu, paramInfos(graph), {
      train: planTraining(m.spec, graph, { ...opts, clip: 0 }),
      eval: planModel(m.spec, graph, { mode: 'forward', ...opts }),
    });
    try {
      trainer.init(0);
      trainer.setState(fx.params);
      const res = await trainer.submitStep(1, fx.tokens, fx.targets, 0, ZERO_LR);
      expect(res.nonfinite).toBe(false);
      expect(Math.abs(res.loss - torch.loss)).toBeLessThan(1e-5);
      const grads = gradChecker();
      for (const p of trainer.plans.train.train!.params) {
        const want = torch.grads[p.name]!;
        expect(want, `PyTorch has no gradient for ${p.name}`).toBeDefined();
        grads.check(p.name, await trainRunner(trainer).readF32(p.grad, p.offset, p.numel), want.values);
      }
      grads.expectNone();
    } finally {
      trainer.release();
    }
  }, 120_000);
});

describe('gradient accumulation', () => {
  it('two micro-batches of 1 give the same AdamW step as one batch of 2 (clipping active)', async () => {
    const fx = loadTorchFixture('torch_llama');
    const m = compileFile(fx.specPath).models[0]!;
    const graph = m.graph!;
    const params = paramInfos(graph);
    const base = { T: fx.T, tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize };
    const make = async (B: number, accumulation: number) => {
      const t = await Trainer.create(gpu, params, {
        train: planTraining(m.spec, graph, { ...base, B, clip: 0.5, accumulation }),
        eval: planModel(m.spec, graph, { mode: 'forward', ...base, B }),
      });
      t.init(0);
      t.setState(fx.params);
      return t;
    };
    const o = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const whole = await make(2, 1);
    const split = await make(1, 2);
    try {
      const rows = (a: Int32Array, b: number) => a.slice(b * fx.T, (b + 1) * fx.T);
      const r1 = await whole.submitStep(1, fx.tokens, fx.targets, o.lr, o);
      const r2 = await split.submitAccumulated(
        1,
        [0, 1].map((b) => ({ inputs: rows(fx.tokens, b), targets: rows(fx.targets, b) })),
        o.lr,
        o,
      );
      expect(Math.abs(r1.loss - r2.loss)).toBeLessThan(1e-6);
      expect(Math.abs(r1.gradNorm - r2.gradNorm)).toBeLessThan(1e-5 * r1.gradNorm);
      expect(r1.gradNorm).toBeGreaterThan(0.5); // the clip is active
      // Weights must match; the accumulated run keeps moments of the SUMMED gradient (m·2, v·4).
      const [a, b] = [await whole.state(true), await split.state(true)];
      for (const [name, va] of a) {
        const vb = b.get(name)!;
        const f = name.startsWith('m:') ? 0.5 : name.startsWith('v:') ? 0.25 : 1;
        let worst = 0;
        let size = 0;
        for (let i = 0; i < va.length; i++) {
          worst = Math.max(worst, Math.abs(va[i]! - f * vb[i]!));
          size = Math.max(size, Math.abs(va[i]!));
        }
        expect(worst, name).toBeLessThan(2e-6 + 1e-5 * size);
      }
    } finally {
      whole.release();
      split.release();
    }
  }, 120_000);
});
