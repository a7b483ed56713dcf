/**
 * logit_scale (the logits are multiplied by it; T5 with a tied head: 1/√d_model, Cohere 0.0625):
 * the IR scales the LM head's input (a `scale` node, lowered only when the knob is ≠ 1), which
 * on the interpreter gives exactly the logits of the same model without the knob times the f32
 * factor, up to the rounding of one multiply per element. On the GPU (groups/scale.ts, both
 * kernel tunings): one training step's loss and every gradient equal the interpreter's (the
 * tied table's gradient sums the head's scaled contribution and the embedding's), and the
 * runtime's prefill and KV-cached decode logits equal the interpreter's. `mspec info` shows the
 * knob and `mspec diff` compares it.
 * Tolerances: logits 2e-5 abs + 2e-5 rel (f32 sums over d_model 32 of |values| ≤ 3); gradients
 * as gradChecker (max(2e-5, 1e-3·|want|)).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelTuning } from '../../compiler/codegen/wgsl/matmul.js';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { describeArchitecture } from '../../compiler/cli/info.js';
import { diffKnobs } from '../../compiler/passes/diff.js';
import type { Graph } from '../../compiler/ir/graph.js';
import { interpretGraph } from '../../compiler/ir/interpret.js';
import { gradients } from '../../compiler/passes/autodiff.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import { f32Tensor } from '../../runtime/checkpoint/safetensors.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { ModelRuntime } from '../../runtime/model-runtime.js';
import { makeRng } from '../../runtime/random.js';
import { Trainer } from '../../runtime/train/trainer.js';
import { gradChecker, paramInfos, randomWeights, trainRunner, ZERO_LR } from '../helpers/gpu-train.js';
import { describeWorst, type Tol, worstOf } from '../helpers/torch-compare.js';

const V = 40;
const B = 2;
const T = 8;
const LOGITS: Tol = { abs: 2e-5, rel: 2e-5 };

const spec = (scale: string | null, tied: boolean) =>
  [
    'model scaled {',
    '  vocab = 40, context = 16, d_model = 32, layers = 2, bias = false',
    `  embedding { positions: rope, tied: ${tied} }`,
    '  block { norm: rmsnorm, attention { heads: 4 }, mlp { activation: swiglu, hidden: 48 } }',
    ...(scale ? [`  logit_scale = ${scale}`] : []),
    '}',
  ].join('\n');

const CASES: [string, string, boolean, number][] = [
  ['tied, 1 / sqrt(d_model) (T5)', '1 / sqrt(d_model)', true, 1 / Math.sqrt(32)],
  ['untied, 0.0625 (Cohere)', '0.0625', false, 0.0625],
];

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

function compiled(text: string, tuning: KernelTuning = 'cpu') {
  const r = compileGpu('scaled.model', {
    tuning,
    subgroupMinSize: gpu.subgroupMinSize,
    host: { readFile: () => text, charVocab: () => V },
  });
  expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  return r.models[0]!;
}

function inputs(graph: Graph, tokens: Int32Array, targets: Int32Array, T: number): Map<string, Int32Array> {
  const all: [string, Int32Array][] = [
    ['tokens', tokens],
    ['positions', Int32Array.from({ length: T }, (_, i) => i)],
    ['targets', targets],
  ];
  return new Map(all.filter(([n]) => graph.inputs.some((v) => graph.values[v]!.name === n)));
}

const logitsOf = (graph: Graph, values: Map<number, { data: Float32Array | Int32Array }>) =>
  values.get(graph.outputs.find((v) => graph.values[v]!.name.endsWith('logits'))!)!.data as Float32Array;

const rng = makeRng(11);
const tokens = Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * V));
const targets = Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * V));

describe('logit_scale in info and diff', () => {
  it('info shows it beside the architecture; diff compares it by value', () => {
    const scaled = compiled(spec('1 / sqrt(d_model)', true)).model.spec;
    const plain = compiled(spec(null, true)).model.spec;
    expect(describeArchitecture(scaled)).toMatch(/ · logits × 0\.176777$/);
    expect(describeArchitecture(plain)).not.toMatch(/logits ×/);
    expect(diffKnobs(plain, scaled).map((k) => [k.path, k.group, k.a, k.b])).toEqual([['logit_scale', 'head', 1, 32 ** -0.5]]);
    // 0.125 written as an expression or as a number is the same model.
    expect(diffKnobs(compiled(spec('1 / 8', true)).model.spec, compiled(spec('0.125', true)).model.spec)).toEqual([]);
  });
});

describe.each(CASES)('logit_scale, %s', (_name, text, tied, factor) => {
  it('the interpreter: a scale node before the head, logits = factor × the unscaled model’s', () => {
    const { model } = compiled(spec(text, tied));
    const plain = compiled(spec(null, tied)).model;
    const graph = model.graph!;
    expect(model.spec.head.logit_scale).toBeCloseTo(factor, 15);
    const scale = graph.nodes.filter((n) => n.op === 'scale');
    expect(scale.map((n) => [n.scope, n.attrs])).toEqual([['head', { factor: model.spec.head.logit_scale }]]);
    expect(plain.graph!.nodes.some((n) => n.op === 'scale')).toBe(false);
    // The same parameters, so the same weights serve both.
    expect(graph.params.map((p) => p.name)).toEqual(plain.graph!.params.map((p) => p.name));
    const params = randomWeights(graph, 3);
    const data = { params, inputs: inputs(graph, tokens, targets, T), B, T };
    const z = logitsOf(graph, interpretGraph(graph, data));
    const z0 = logitsOf(plain.graph!, interpretGraph(plain.graph!, data));
    const w = worstOf(
      z,
      Array.from(z0, (v) => v * Math.fround(factor)),
      { abs: 1e-6, rel: 1e-6 },
    );
    expect(w.excess, describeWorst('scaled logits', w)).toBeLessThanOrEqual(1);
  });

  it.each(['cpu', 'gpu'] as KernelTuning[])(
    'tuning %s: GPU training step (loss, every gradient) and runtime logits equal the interpreter',
    async (tuning) => {
      const { model, data: built } = compiled(spec(text, tied), tuning);
      const graph = model.graph!;
      const params = randomWeights(graph, 5);
      const data = { params, inputs: inputs(graph, tokens, targets, T), B, T };
      const cpu = gradients(graph, data);
      const opts = { B, T, tuning, subgroupMinSize: gpu.subgroupMinSize };
      const train = planTraining(model.spec, graph, { ...opts, clip: 0 });
      expect(train.kernels.map((k) => k.name)).toContain('scale');
      const trainer = await Trainer.create(gpu, paramInfos(graph), {
        train,
        eval: planModel(model.spec, graph, { mode: 'forward', ...opts }),
      });
      try {
        trainer.init(0);
        trainer.setState(params);
        const res = await trainer.submitStep(1, tokens, targets, 0, ZERO_LR);
        expect(res.nonfinite).toBe(false);
        expect(Math.abs(res.loss - cpu.loss)).toBeLessThan(1e-5 * cpu.loss);
        const grads = gradChecker();
        for (const p of trainer.plans.train.train!.params)
          grads.check(p.name, await trainRunner(trainer).readF32(p.grad, p.offset, p.numel), cpu.grads.get(p.name)!);
        grads.expectNone();
      } finally {
        trainer.release();
      }

      // Generation's path: prefill of a whole row, then KV-cached decode, against the interpreter.
      const row = Array.from(tokens.subarray(0, T));
      const want = logitsOf(
        graph,
        interpretGraph(graph, { params, inputs: inputs(graph, Int32Array.from(row), new Int32Array(T), T), B: 1, T }),
      );
      const rt = await ModelRuntime.create(built, { gpu });
      try {
        rt.setWeights(
          { tensors: new Map(graph.params.map((p) => [p.name, f32Tensor(p.shape as number[], params.get(p.name)!)])), metadata: {} },
          'random weights',
        );
        const all = await rt.logits(row);
        const w = worstOf(all, want, LOGITS);
        expect(w.excess, describeWorst(`${tuning} prefill logits`, w)).toBeLessThanOrEqual(1);
        const steps = new Float32Array(T * V);
        steps.set(await rt.prefillPrompt([row[0]!]), 0);
        for (let p = 1; p < T; p++) steps.set(await rt.decodeStep(row[p]!, p), p * V);
        const d = worstOf(steps, want, LOGITS);
        expect(d.excess, describeWorst(`${tuning} decode logits`, d)).toBeLessThanOrEqual(1);
      } finally {
        rt.release();
      }
    },
    120_000,
  );
});
