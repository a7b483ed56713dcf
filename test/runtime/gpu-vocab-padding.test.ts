/**
 * A vocabulary padded to vocab_multiple (61 tokens padded to 64): the padding ids' logits are
 * made huge on purpose (lm_head.bias = 1e30 there) and must change nothing. Checked on the CPU
 * interpreter (loss = a float64 cross-entropy over the 61 real columns of its own logits;
 * autodiff gives the padding rows of the head a zero gradient) and on the GPU: the training
 * step's loss and every gradient equal the interpreter's, greedy/top-k/top-p sampling never
 * draws a padding id, and streaming evaluation scores the real tokens only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import type { Graph } from '../../compiler/ir/graph.js';
import { interpretGraph } from '../../compiler/ir/interpret.js';
import { gradients } from '../../compiler/passes/autodiff.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import { f32Tensor, type STFile } from '../../runtime/checkpoint/safetensors.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { WindowEvaluator } from '../../runtime/eval/perplexity.js';
import { scoringWindows } from '../../runtime/eval/windows.js';
import { ModelRuntime } from '../../runtime/model-runtime.js';
import { makeRng } from '../../runtime/random.js';
import { sampleToken } from '../../runtime/sample.js';
import { Trainer } from '../../runtime/train/trainer.js';
import { gradChecker, paramInfos, randomWeights, trainRunner, ZERO_LR } from '../helpers/gpu-train.js';

const REAL = 61;
const PADDED = 64;
const HUGE = 1e30;
const SPEC = [
  'model padded {',
  `  vocab = ${REAL}, vocab_multiple = ${PADDED / 2}, context = 16, d_model = 32, layers = 2`,
  '  embedding { tied: false }',
  '  block { attention { heads: 4 }, mlp { hidden: 64 } }',
  '  head { bias: true }',
  '}',
].join('\n');

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

function compiled() {
  const r = compileGpu('padded.model', {
    tuning: gpu.adapterClass,
    subgroupMinSize: gpu.subgroupMinSize,
    host: { readFile: () => SPEC, charVocab: () => REAL },
  });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.models[0]!;
}

/** Realistic random weights (matrices N(0, 0.25²)), the head's padding biases set to 1e30. */
function weights(graph: Graph, seed: number): Map<string, Float32Array> {
  const out = randomWeights(graph, seed);
  out.get('lm_head.bias')!.fill(HUGE, REAL);
  return out;
}

function inputs(graph: Graph, tokens: Int32Array, targets: Int32Array, T: number): Map<string, Int32Array> {
  const all: [string, Int32Array][] = [
    ['tokens', tokens],
    ['positions', Int32Array.from({ length: T }, (_, i) => i)],
    ['targets', targets],
  ];
  return new Map(all.filter(([n]) => graph.inputs.some((v) => graph.values[v]!.name === n)));
}

/** −log softmax(z[0..REAL))[t] in float64, for every row of logits (rows, PADDED). */
function nllRows(z: Float32Array, targets: Int32Array): number[] {
  return Array.from(targets, (t, r) => {
    if (t < 0) return 0;
    let m = -Infinity;
    for (let c = 0; c < REAL; c++) m = Math.max(m, z[r * PADDED + c]!);
    let s = 0;
    for (let c = 0; c < REAL; c++) s += Math.exp(z[r * PADDED + c]! - m);
    return m + Math.log(s) - z[r * PADDED + t]!;
  });
}

const logitsOf = (graph: Graph, values: Map<number, { data: Float32Array | Int32Array }>) =>
  values.get(graph.outputs.find((v) => graph.values[v]!.name.endsWith('logits'))!)!.data as Float32Array;

describe('vocab_multiple: padding ids never win a sample and never enter the loss', () => {
  const B = 2;
  const T = 8;
  const rng = makeRng(5);
  const tokens = Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * REAL));
  const targets = Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * REAL));
  targets[3] = -1;

  it('the spec pads 61 to 64; the IR loss knows the real vocabulary', () => {
    const { model } = compiled();
    expect([model.spec.vocab, model.spec.vocab_raw]).toEqual([PADDED, REAL]);
    const xent = model.graph!.nodes.find((n) => n.op === 'softmax_xent')!;
    expect(xent.attrs).toEqual({ classes: REAL });
  });

  it('interpreter and GPU training step: loss over the real columns, identical gradients, zero for padding rows', async () => {
    const { model } = compiled();
    const graph = model.graph!;
    const params = weights(graph, 1);
    const data = { params, inputs: inputs(graph, tokens, targets, T), B, T };
    const z = logitsOf(graph, interpretGraph(graph, data));
    expect(z[REAL]).toBe(Math.fround(HUGE)); // the padding logits really are huge
    const rows = nllRows(z, targets);
    const want = rows.reduce((a, b) => a + b, 0) / (B * T - 1);
    const cpu = gradients(graph, data);
    expect(Math.abs(cpu.loss - want)).toBeLessThan(1e-5 * want);
    for (const name of ['lm_head.weight', 'lm_head.bias']) {
      const g = cpu.grads.get(name)!;
      const width = g.length / PADDED;
      expect(g.subarray(REAL * width).every((v) => v === 0)).toBe(true);
      expect(g.subarray(0, REAL * width).some((v) => v !== 0)).toBe(true);
    }

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
      expect(Math.abs(res.loss - want)).toBeLessThan(1e-5 * want);
      const grads = gradChecker();
      for (const p of trainer.plans.train.train!.params) {
        const w = cpu.grads.get(p.name)!;
        const got = await trainRunner(trainer).readF32(p.grad, p.offset, p.numel);
        grads.check(p.name, got, w);
        if (p.name.startsWith('lm_head.')) {
          const width = w.length / PADDED;
          expect(Array.from(got.subarray(REAL * width)).every((v) => v === 0)).toBe(true);
        }
      }
      grads.expectNone();
    } finally {
      trainer.release();
    }
  }, 120_000);

  it('the GPU samples real ids only (greedy, top-k, top-p) and evaluation scores the real tokens', async () => {
    const { model, data } = compiled();
    const graph = model.graph!;
    const params = weights(graph, 2);
    const file: STFile = {
      tensors: new Map(graph.params.map((p) => [p.name, f32Tensor(p.shape as number[], params.get(p.name)!)])),
      metadata: {},
    };
    const rt = await ModelRuntime.create(data, { gpu });
    try {
      rt.setWeights(file, 'test weights');
      const row = await rt.prefillPrompt([1, 2, 3]);
      expect(row.length).toBe(PADDED);
      expect(row[REAL]).toBe(Math.fround(HUGE)); // without the limit every draw would be a padding id
      for (const o of [{ temperature: 0 }, { temperature: 1, topK: 5 }, { temperature: 1.5, topP: 0.9 }, { temperature: 1 }]) {
        const got: number[] = [];
        for await (const t of rt.generate([1, 2, 3], { maxTokens: 10, seed: 4, ...o })) got.push(t);
        expect(got).toHaveLength(10);
        expect(
          got.every((t) => t >= 0 && t < REAL),
          `${JSON.stringify(o)}: ${got}`,
        ).toBe(true);
      }
    } finally {
      rt.release();
    }

    // Streaming evaluation of one window of T tokens against the float64 NLL of the interpreter's logits.
    const stream = Int32Array.from({ length: T + 1 }, (_, i) => (i * 17 + 3) % REAL);
    const z = logitsOf(
      graph,
      interpretGraph(graph, { params, inputs: inputs(graph, stream.subarray(0, T), stream.subarray(1), T), B: 1, T }),
    );
    const want = nllRows(z, stream.subarray(1)).reduce((a, b) => a + b, 0);
    const plan = planModel(model.spec, graph, { mode: 'forward', B: 1, T, tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize });
    expect(plan.vocabRaw).toBe(REAL);
    const ev = await WindowEvaluator.create(gpu, plan, data.params);
    try {
      ev.setWeights(file, 'test weights');
      const got = await ev.score(stream, scoringWindows(stream.length, T, T));
      expect(got.tokens).toBe(T);
      expect(Math.abs(got.nll - want)).toBeLessThan(1e-5 * want);
      // A padding id is no token: scoring it is refused, not silently given loss 0.
      await expect(ev.score(Int32Array.of(1, REAL), scoringWindows(2, T, T))).rejects.toThrow(/outside the vocabulary of 61/);
    } finally {
      ev.release();
    }
  }, 120_000);
});

describe('sampleToken limited to the real vocabulary', () => {
  it('never returns a padding id, whatever its logit; refuses a bad limit', () => {
    const logits = Float32Array.of(0.5, 2, 1, 1e30, Infinity);
    const rng = makeRng(1);
    for (const o of [{ temperature: 0 }, { temperature: 1 }, { temperature: 1, topK: 2 }, { temperature: 1, topP: 0.5 }])
      for (let i = 0; i < 50; i++) expect(sampleToken(logits, o, rng, 3)).toBeLessThan(3);
    expect(sampleToken(logits, { temperature: 0 }, rng, 3)).toBe(1);
    expect(sampleToken(logits, { temperature: 0 }, rng)).toBe(4); // no limit: the whole row
    expect(() => sampleToken(logits, {}, rng, 6)).toThrow(/classes must be an integer in \[1, 5\]/);
  });
});
