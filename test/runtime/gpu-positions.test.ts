/**
 * Absolute sinusoidal positions and no positions (NoPE) through the whole GPU path, against the
 * CPU interpreter: logits at a seeded init, the KV-cached decode (positions from the Step
 * offset) against the one-pass prefill, and one training step's loss and every parameter
 * gradient against the interpreter's autodiff (lr = 0, so the gradient buffers hold ∂loss/∂θ).
 * Weights for the gradient check are drawn at a realistic scale (matrices N(0, 0.25²)) so no
 * path is negligible; tolerances as in gpu-train.test.ts: ≤ 2e-5 abs or 1e-3 rel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import type { Graph } from '../../compiler/ir/graph.js';
import { initParams, interpretGraph } from '../../compiler/ir/interpret.js';
import { gradients } from '../../compiler/passes/autodiff.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { ModelRuntime } from '../../runtime/model-runtime.js';
import { makeRng } from '../../runtime/random.js';
import { Trainer } from '../../runtime/train/trainer.js';
import { gradChecker, maxAbsDiff, paramInfos, randomWeights, trainRunner, ZERO_LR } from '../helpers/gpu-train.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

const spec = (positions: string) =>
  [
    `model pos_${positions} {`,
    '  vocab = 64, context = 16, d_model = 32, layers = 2',
    `  embedding { positions: ${positions}, tied: false }`,
    '  block { attention { heads: 4 }, mlp { hidden: 64 } }',
    '}',
  ].join('\n');

function compiled(positions: string) {
  const file = `pos_${positions}.model`;
  const r = compileGpu(file, {
    tuning: gpu.adapterClass,
    subgroupMinSize: gpu.subgroupMinSize,
    host: { readFile: () => spec(positions), charVocab: () => 64 },
  });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.models[0]!;
}

/** The graph's inputs that exist, by name (a NoPE graph has no positions input). */
function inputsOf(graph: Graph, all: [string, Int32Array][]): Map<string, Int32Array> {
  return new Map(all.filter(([n]) => graph.inputs.some((v) => graph.values[v]!.name === n)));
}

describe.each(['sinusoidal', 'none'])('positions: %s on the GPU', (positions) => {
  it('builds; logits at init match the interpreter; decode gives the prefill logits', async () => {
    const { model, data } = compiled(positions);
    const graph = model.graph!;
    const rt = await ModelRuntime.create(data, { gpu });
    try {
      rt.init(7);
      const T = 12;
      const tokens = Array.from({ length: T }, (_, i) => (i * 37 + 5) % data.vocab);
      const got = await rt.logits(tokens);
      const values = interpretGraph(graph, {
        params: initParams(graph, 7),
        inputs: inputsOf(graph, [
          ['tokens', Int32Array.from(tokens)],
          ['positions', Int32Array.from({ length: T }, (_, i) => i)],
          ['targets', new Int32Array(T).fill(-1)],
        ]),
        B: 1,
        T,
      });
      const logitsId = graph.outputs.find((v) => graph.values[v]!.name.endsWith('logits'))!;
      expect(maxAbsDiff(got, values.get(logitsId)!.data)).toBeLessThan(1e-4);

      const V = data.vocab;
      await rt.prefillPrompt(tokens.slice(0, 3));
      for (let p = 3; p < T; p++) {
        const step = await rt.decodeStep(tokens[p]!, p);
        expect(maxAbsDiff(step, got.subarray(p * V, (p + 1) * V))).toBeLessThan(1e-4);
      }
      // It samples: a seeded draw is reproducible.
      const take = async () => {
        const out: number[] = [];
        for await (const t of rt.generate([1, 2, 3], { maxTokens: 8, seed: 3, temperature: 0.8, topK: 10 })) out.push(t);
        return out;
      };
      const a = await take();
      expect(a).toHaveLength(8);
      expect(await take()).toEqual(a);
    } finally {
      rt.release();
    }
  }, 120_000);

  it('one training step: loss and every gradient agree with the interpreter (≤ 2e-5 abs or 1e-3 rel)', async () => {
    const { model } = compiled(positions);
    const graph = model.graph!;
    const B = 2;
    const T = 8;
    const rng = makeRng(11);
    const params = randomWeights(graph, rng); // then the batch, from the same generator
    const tokens = Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * 64));
    const targets = Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * 64));
    targets[5] = -1; // one ignored position
    const cpu = gradients(graph, {
      params,
      inputs: inputsOf(graph, [
        ['tokens', tokens],
        ['positions', Int32Array.from({ length: T }, (_, i) => i)],
        ['targets', targets],
      ]),
      B,
      T,
    });
    const opts = { B, T, tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize };
    const trainer = await Trainer.create(gpu, paramInfos(graph), {
      train: planTraining(model.spec, graph, { ...opts, clip: 0 }),
      eval: planModel(model.spec, graph, { mode: 'forward', ...opts }),
    });
    try {
      trainer.init(0);
      trainer.setState(params);
      const res = await trainer.submitStep(1, tokens, targets, 0, ZERO_LR);
      expect(res.nonfinite).toBe(false);
      expect(Math.abs(res.loss - cpu.loss)).toBeLessThan(1e-5 * Math.max(1, cpu.loss));
      const grads = gradChecker();
      for (const p of trainer.plans.train.train!.params)
        grads.check(p.name, await trainRunner(trainer).readF32(p.grad, p.offset, p.numel), cpu.grads.get(p.name)!);
      grads.expectNone();
    } finally {
      trainer.release();
    }
  }, 120_000);
});
