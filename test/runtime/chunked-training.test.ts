/**
 * Training with tensors larger than one storage binding (GPT-2 small's token table, LM head
 * and logits on a 128 MiB-binding adapter), shrunk: tiny models planned against a binding
 * limit of 8 KiB bind the token table, the head, the chunk-major logits, their gradients and
 * the optimizer state in chunks. Every gradient of a step, the losses and gradient norms of
 * three AdamW steps after it (clipping on) and an evaluation must agree with the same plans bound whole.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { makeRng } from '../../runtime/random.js';
import { Trainer } from '../../runtime/train/trainer.js';
import { gradChecker, maxAbsDiff, paramInfos, randomWeights, trainRunner, ZERO_LR } from '../helpers/gpu-train.js';

let gpu: GpuContext;
const tmp = mkdtempSync(join(tmpdir(), 'mspec-chunked-train-'));
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => {
  gpu?.release();
  rmSync(tmp, { recursive: true, force: true });
});

const spec = (name: string, tied: boolean, padded: boolean) => `model ${name} {
  vocab = 300${padded ? '\n  vocab_multiple = 64' : ''}
  context = 8
  d_model = 16
  layers = 1
  bias = true
  embedding { positions: learned, tied: ${tied} }
  block {
    norm: layernorm(eps: 1e-5)
    placement: pre
    attention { heads: 2, causal }
    mlp { activation: gelu_tanh, hidden: 4 * d_model }
  }
  final_norm = layernorm(eps: 1e-5)
}
`;

const B = 2;
const T = 8;
const SMALL = 8192;

describe.each([
  ['tied', true, false],
  ['untied', false, false],
  ['tied, vocab padded to 320', true, true],
] as const)('%s: token table, LM head, logits and AdamW state bound in chunks', (_label, tied, padded) => {
  it('gradients, AdamW steps and an evaluation match the same plans bound whole', async () => {
    const file = join(tmp, `${tied ? 'tied' : 'untied'}${padded ? '_padded' : ''}.model`);
    writeFileSync(file, spec('chunky', tied, padded));
    const m = compileFile(file).models[0]!;
    const graph = m.graph!;
    const make = async (maxBinding?: number) => {
      const o = { B, T, tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize, ...(maxBinding ? { maxBinding } : {}) };
      const t = await Trainer.create(gpu, paramInfos(graph), {
        train: planTraining(m.spec, graph, { ...o, clip: 0.5 }),
        eval: planModel(m.spec, graph, { mode: 'forward', ...o }),
      });
      t.init(0);
      t.setState(randomWeights(graph, 3));
      return t;
    };
    const whole = await make();
    const split = await make(SMALL);
    try {
      const plan = split.plans.train;
      // Nothing bound over the limit; the head ran in vocabulary chunks.
      const bytes = new Map(plan.buffers.map((b) => [b.name, b.bytes]));
      for (const s of plan.steps)
        if (s.kind === 'kernel')
          for (const [binding, name] of Object.entries(s.bind))
            if (bytes.get(name)! > SMALL && !name.startsWith('step') && !name.startsWith('optim'))
              expect(s.ranges?.[binding], `${plan.kernels[s.kernel]!.name} binds ${name} whole`).toBeDefined();
      expect(plan.io.logitChunks?.length).toBeGreaterThan(1);
      expect(split.plans.eval.io.logitChunks?.length).toBeGreaterThan(1);
      expect(whole.plans.train.io.logitChunks).toBeUndefined();

      const rng = makeRng(11);
      const batch = () => {
        const tokens = Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * 300));
        const targets = Int32Array.from({ length: B * T }, (_, i) => (i % 5 === 4 ? -1 : Math.floor(rng.uniform() * 300)));
        return { inputs: tokens, targets };
      };
      // Step 1 at lr = 0: every gradient buffer holds ∂loss/∂θ; they must agree elementwise.
      const b1 = batch();
      const [a1, c1] = [
        await whole.submitStep(1, b1.inputs, b1.targets, 0, ZERO_LR),
        await split.submitStep(1, b1.inputs, b1.targets, 0, ZERO_LR),
      ];
      expect(Math.abs(a1.loss - c1.loss), `loss ${a1.loss} vs ${c1.loss}`).toBeLessThan(2e-6 * a1.loss);
      const grads = gradChecker();
      const gradOf = new Map(split.plans.train.train!.params.map((p) => [p.name, p]));
      for (const p of whole.plans.train.train!.params) {
        const q = gradOf.get(p.name)!;
        grads.check(
          p.name,
          await trainRunner(split).readF32(q.grad, q.offset, q.numel),
          await trainRunner(whole).readF32(p.grad, p.offset, p.numel),
        );
      }
      grads.expectNone();
      // Then real AdamW steps with the clip active: the chunked update must move the weights alike.
      // (Weights are not compared elementwise: a parameter whose true gradient is 0, such as the
      // key bias, gets ±lr from AdamW on rounding noise alone.)
      const o = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
      for (let step = 2; step <= 4; step++) {
        const b = batch();
        const a = await whole.submitStep(step, b.inputs, b.targets, o.lr, o);
        const c = await split.submitStep(step, b.inputs, b.targets, o.lr, o);
        expect(c.nonfinite).toBe(false);
        expect(Math.abs(a.loss - c.loss), `step ${step} loss ${a.loss} vs ${c.loss}`).toBeLessThan(1e-5 * Math.abs(a.loss));
        expect(Math.abs(a.gradNorm - c.gradNorm)).toBeLessThan(1e-4 * a.gradNorm);
        expect(a.gradNorm).toBeGreaterThan(0.5); // the clip is active
      }
      const table = tied ? 'embed.tokens.weight' : 'lm_head.weight';
      const [wa, wb] = [await whole.state(false), await split.state(false)];
      expect(maxAbsDiff(wa.get(table)!, wb.get(table)!)).toBeLessThan(1e-3);
      const held = [batch(), batch()];
      const [ea, eb] = [await whole.evaluate(held), await split.evaluate(held)];
      expect(Math.abs(ea.loss - eb.loss)).toBeLessThan(2e-6 * ea.loss);
      expect(eb.accuracy).toBe(ea.accuracy);
    } finally {
      whole.release();
      split.release();
    }
  }, 120_000);
});
