/**
 * The pooler's backward inside a real training plan: take_first and the standalone tanh group
 * (groups/take-first.ts, groups/elementwise.ts) on the GPU, both kernel tunings. mspec's own
 * graphs never send a loss through the pooler (BERT's MLM loss does not read it), so this
 * builds one that does: tokens → embedding → take_first → dense + bias → tanh → dense + bias
 * (scope `head`: the logits) → softmax cross-entropy against one class per sequence. Every
 * parameter's gradient is compared with the CPU interpreter's autodiff (itself checked against
 * PyTorch on the BERT fixture, test/runtime/bert-torch.test.ts): a wrong tanh derivative, a
 * gradient sent to the wrong position or a position left unwritten moves them by O(1).
 * |err| <= 2e-6 + 2e-5·|ref| (f32 sums over B·T = 12 rows of values < 1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelTuning } from '../../compiler/codegen/wgsl/matmul.js';
import { GraphBuilder } from '../../compiler/ir/graph.js';
import { verify } from '../../compiler/ir/verify.js';
import { gradients } from '../../compiler/passes/autodiff.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { PlanRunner } from '../../runtime/plan-runner.js';
import { random, randomInts } from '../kernels/gpu-harness.js';
import { describeWorst, worstOf } from '../helpers/torch-compare.js';
import { model, stack, tinyDecoder } from '../helpers/model-builders.js';

const B = 3,
  T = 4,
  V = 11,
  C = 8,
  K = 5; // classes of the pooled sequence
const TOL = { abs: 2e-6, rel: 2e-5 };

function pooledGraph() {
  const b = new GraphBuilder();
  const table = b.param({ name: 'embed.tokens.weight', shape: [V, C], component: 'embeddings', role: 'token' });
  b.scope = 'embed';
  const x = b.op('embedding', [table, b.input('tokens', 'i32', ['B', 'T'])], {}, 'tokens');
  b.scope = 'pooler';
  const first = b.op('take_first', [x], {});
  const w = b.param({ name: 'pooler.weight', shape: [C, C], component: 'head' });
  const bias = b.param({ name: 'pooler.bias', shape: [C], component: 'head' });
  const pooled = b.op('tanh', [b.op('linear', [first, w, bias], { bias: true, activation: null }, 'pooler')], {}, 'pooled');
  b.scope = 'head';
  const hw = b.param({ name: 'cls.weight', shape: [K, C], component: 'head' });
  const hb = b.param({ name: 'cls.bias', shape: [K], component: 'head' });
  const logits = b.op('linear', [pooled, hw, hb], { bias: true, activation: null }, 'logits');
  const loss = b.op('softmax_xent', [logits, b.input('targets', 'i32', ['B'])], {}, 'loss');
  b.output(logits);
  b.output(loss);
  return b.finish();
}

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

describe.each(['cpu', 'gpu'] as KernelTuning[])('the pooler in a training plan, tuning %s', (tuning) => {
  it('take_first and tanh backward give the interpreter’s gradients', async () => {
    const graph = pooledGraph();
    expect(verify(graph)).toEqual([]);
    const params = new Map(
      graph.params.map((p, i) => [
        p.name,
        random(
          p.shape.reduce((a, n) => a * n, 1),
          40 + i,
          -0.8,
          0.8,
        ),
      ]),
    );
    const tokens = randomInts(B * T, 7, 0, V - 1);
    const targets = Int32Array.from([2, 0, 4]);
    const want = gradients(graph, {
      params,
      inputs: new Map([
        ['tokens', tokens],
        ['targets', targets],
      ]),
      B,
      T,
    });
    // Only the sequence's first token reaches the loss: every other table row gets exactly 0.
    const dTable = want.grads.get('embed.tokens.weight')!;
    const firsts = new Set([0, 1, 2].map((s) => tokens[s * T]!));
    for (let v = 0; v < V; v++) if (!firsts.has(v)) expect(dTable.subarray(v * C, (v + 1) * C).every((g) => g === 0)).toBe(true);
    expect(Math.max(...Array.from(dTable, Math.abs))).toBeGreaterThan(1e-3);

    // The spec only names the plan; every group here reads the graph.
    const spec = model({
      name: 'pooled',
      vocab: V,
      context: T,
      d_model: C,
      decoder: stack('decoder', 0, tinyDecoder().decoder!.layers[0]!, null),
    });
    const plan = planTraining(spec, graph, { B, T, clip: 0, tuning, subgroupMinSize: gpu.subgroupMinSize });
    const kernels = plan.kernels.map((k) => k.name);
    expect(kernels).toEqual(expect.arrayContaining(['take_first', 'take_first_backward', 'activation_backward']));
    const runner = new PlanRunner(gpu, plan);
    await runner.compile();
    for (const [name, values] of params) runner.write(name, values);
    runner.write(plan.io.tokens, tokens);
    runner.write('targets', targets);
    runner.setStep(0, T);
    runner.run(0);
    const loss = (await runner.readF32(plan.io.loss!))[0]!;
    expect(Math.abs(loss - want.loss)).toBeLessThan(1e-5);
    for (const p of plan.train!.params) {
      const w = worstOf(await runner.readF32(p.grad, p.offset, p.numel), want.grads.get(p.name)!, TOL);
      expect(w.excess, describeWorst(`∂loss/∂${p.name}`, w)).toBeLessThanOrEqual(1);
    }
  });
});
