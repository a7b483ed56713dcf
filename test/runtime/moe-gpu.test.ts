/**
 * Mixture-of-experts models through the whole GPU path (the `moe` group: routing, counting
 * sort, grouped expert matmuls, combine, load-balancing loss).
 *
 * Against PyTorch (scripts/fixtures/make_torch_moe.py: HF MixtralSparseMoeBlock in float64;
 * torch_moe: 4 experts top-2 renormalised; torch_moe_shared: + router bias, a shared expert
 * and the aux loss; torch_moe_alt: MoE on alternate layers, gates not renormalised, aux loss),
 * for both kernel tunings: prefill logits, KV-cached decode against the prefill and PyTorch,
 * and one training step's cross-entropy, summed aux loss, expert counts (from PyTorch's
 * choices) and every parameter gradient of xent + Σ aux. Tolerances as variants-torch.test.ts
 * (PyTorch's own float32 forward drifts ≤ 6.8e-6 on these logits, the fixtures record it).
 *
 * Against the CPU interpreter:
 *  - logits of the prefill plan, and the KV-cached decode (N = 1 token routed per step)
 *    against the prefill;
 *  - one training step (lr = 0, so the gradient buffers hold ∂loss/∂θ): the cross-entropy,
 *    the summed auxiliary loss (io.aux), each layer's expert counts (io.expertCounts) and
 *    every parameter's gradient (loss = xent + Σ aux), with both kernel tunings;
 *  - a second identical step gives bit-identical gradients (no float atomics anywhere).
 * Three tiny models: Mixtral-style (SwiGLU experts, 4 experts top-2, renormalized, aux loss),
 * the same with a shared expert, a router bias and no aux loss, and GELU experts with biases,
 * top-1, gates not renormalized. Weights are drawn at a realistic scale (matrices N(0, 0.25²))
 * so no path is negligible. Tolerances as gpu-positions.test.ts: logits ≤ 1e-4, gradients
 * ≤ 2e-5 abs or 1e-3 rel, losses 1e-5 relative.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { compileFile } from '../../compiler/index.js';
import type { KernelTuning } from '../../compiler/codegen/wgsl/matmul.js';
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
import { readFileSync } from 'node:fs';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { loadTorchFixture, TORCH_FIXTURE_DIR } from '../fixtures/torch/load.js';
import { gradChecker, maxAbsDiff, paramInfos, randomWeights, trainRunner, ZERO_LR } from '../helpers/gpu-train.js';
import { expectGradsClose, expectPrefillAndDecode, type GradsJson, report, type Tol } from '../helpers/torch-compare.js';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

const VARIANTS = {
  mixtral: 'activation: swiglu, hidden: 48, experts: 4, top_k: 2, renormalize: true, aux_loss: 0.1',
  shared: 'activation: swiglu, hidden: 48, experts: 4, top_k: 2, renormalize: true, aux_loss: 0, shared_experts: 1, router_bias: true',
  gelu_bias: 'activation: gelu, hidden: 40, bias: true, experts: 3, top_k: 1, renormalize: false, aux_loss: 0.05',
} as const;
type Variant = keyof typeof VARIANTS;

const spec = (v: Variant) =>
  [
    `model moe_${v} {`,
    '  vocab = 64, context = 16, d_model = 32, layers = 2, bias = false',
    '  embedding { positions: rope, tied: false }',
    `  block { norm: rmsnorm(eps: 1e-6), attention { heads: 4, kv_heads: 2 }, mlp { ${VARIANTS[v]} } }`,
    '  final_norm = rmsnorm(eps: 1e-6)',
    '}',
  ].join('\n');

function compiled(v: Variant, tuning: KernelTuning) {
  const r = compileGpu(`moe_${v}.model`, {
    tuning,
    subgroupMinSize: gpu.subgroupMinSize,
    host: { readFile: () => spec(v), charVocab: () => 64 },
  });
  expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  return r.models[0]!;
}

const opOutput = (graph: Graph, op: string) => graph.nodes.filter((n) => n.op === op).map((n) => n.output);

describe.each(Object.keys(VARIANTS) as Variant[])('MoE %s on the GPU', (variant) => {
  it('prefill logits match the interpreter; KV-cached decode matches the prefill', async () => {
    const { model, data } = compiled(variant, gpu.adapterClass);
    const graph = model.graph!;
    const rt = await ModelRuntime.create(data, { gpu });
    try {
      const params = randomWeights(graph, 5);
      const shapes = new Map(graph.params.map((p) => [p.name, p.shape]));
      rt.setWeights({ tensors: new Map([...params].map(([n, v]) => [n, f32Tensor(shapes.get(n)!, v)])), metadata: {} }, variant);
      const T = 12;
      const tokens = Array.from({ length: T }, (_, i) => (i * 37 + 5) % data.vocab);
      const got = await rt.logits(tokens);
      const values = interpretGraph(graph, {
        params,
        inputs: new Map([
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
    } finally {
      rt.release();
    }
  }, 300_000);

  const tunings: KernelTuning[] = variant === 'mixtral' ? ['cpu', 'gpu'] : ['cpu'];
  it.each(tunings)(
    'one training step, tuning %s: losses, expert counts and every gradient match; a rerun is bit-identical',
    async (tuning) => {
      const { model } = compiled(variant, tuning);
      const graph = model.graph!;
      const B = 2;
      const T = 8;
      const rng = makeRng(11);
      const params = randomWeights(graph, 11);
      const tokens = Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * 64));
      const targets = Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * 64));
      targets[5] = -1; // one ignored position
      const data = {
        params,
        inputs: new Map([
          ['tokens', tokens],
          ['positions', Int32Array.from({ length: T }, (_, i) => i)],
          ['targets', targets],
        ]),
        B,
        T,
      };
      const cpu = gradients(graph, data);
      const values = interpretGraph(graph, data);
      const xent = values.get(opOutput(graph, 'softmax_xent')[0]!)!.data[0]!;
      const auxIds = opOutput(graph, 'moe_aux_loss');
      const aux = auxIds.reduce((s, v) => s + values.get(v)!.data[0]!, 0);
      expect(auxIds.length > 0).toBe(variant !== 'shared');
      if (auxIds.length > 0) expect(Math.abs(cpu.loss - xent - aux)).toBeLessThan(1e-6);

      const opts = { B, T, tuning, subgroupMinSize: gpu.subgroupMinSize };
      const train = planTraining(model.spec, graph, { ...opts, clip: 0 });
      expect(train.io.expertCounts).toHaveLength(2);
      expect(train.io.aux !== undefined).toBe(auxIds.length > 0);
      const trainer = await Trainer.create(gpu, paramInfos(graph), {
        train,
        eval: planModel(model.spec, graph, { mode: 'forward', ...opts }),
      });
      const runner = trainRunner(trainer);
      try {
        trainer.init(0);
        trainer.setState(params);
        const step = async () => {
          const res = await trainer.submitStep(1, tokens, targets, 0, ZERO_LR);
          expect(res.nonfinite).toBe(false);
          const grads = new Map<string, Float32Array>();
          for (const p of trainer.plans.train.train!.params) grads.set(p.name, await runner.readF32(p.grad, p.offset, p.numel));
          return { loss: res.loss, grads };
        };
        const first = await step();
        expect(Math.abs(first.loss - xent)).toBeLessThan(1e-5 * Math.max(1, xent));
        if (train.io.aux) expect(Math.abs((await runner.readF32(train.io.aux))[0]! - aux)).toBeLessThan(1e-6 + 1e-5 * aux);
        // Expert load: slots per expert, from the interpreter's top-k choice.
        const chosen = opOutput(graph, 'moe_select');
        for (const [l, name] of train.io.expertCounts!.entries()) {
          const idx = values.get(chosen[l]!)!.data;
          const E = train.buffers.find((b) => b.name === name)!.shape[0]!;
          const want = Array.from({ length: E }, (_, e) => idx.filter((x) => x === e).length);
          expect(Array.from(new Uint32Array((await runner.readF32(name)).buffer, 0, E))).toEqual(want);
        }
        const grads = gradChecker();
        for (const [name, got] of first.grads) grads.check(name, got, cpu.grads.get(name)!);
        grads.expectNone();
        const second = await step();
        expect(second.loss).toBe(first.loss);
        for (const [name, g] of first.grads)
          expect(Buffer.compare(Buffer.from(second.grads.get(name)!.buffer), Buffer.from(g.buffer)), name).toBe(0);
      } finally {
        trainer.release();
      }
    },
    600_000,
  );
});

const LOGITS: Tol = { abs: 2e-5, rel: 5e-6 };
const DECODE: Tol = { abs: 2e-5, rel: 5e-6 };
const GRADS: Tol = { abs: 5e-6, rel: 5e-5 };
const LOSS_ABS = 1e-5;

interface MoeExpected {
  xent: number;
  moe_layers: { scope: string; experts_chosen: number[]; aux_loss: number | null }[];
}

const FIXTURES = ['torch_moe', 'torch_moe_shared', 'torch_moe_alt'] as const;
const TORCH_TUNINGS = (process.env.MSPEC_VARIANT_TUNINGS ?? 'cpu,gpu').split(',') as KernelTuning[];

describe.each(FIXTURES.flatMap((f) => TORCH_TUNINGS.map((t) => [f, t] as const)))(
  '%s on the GPU, tuning %s, vs PyTorch',
  (name, tuning) => {
    const fx = loadTorchFixture(name);
    const expected = JSON.parse(readFileSync(`${TORCH_FIXTURE_DIR}/${name}.expected.json`, 'utf8')) as MoeExpected;

    it('prefill logits match PyTorch; KV-cached decode matches prefill and PyTorch', async () => {
      const c = compileGpu(fx.specPath, { tuning, subgroupMinSize: gpu.subgroupMinSize });
      expect(c.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
      const rt = await ModelRuntime.create(c.models[0]!.data, { gpu });
      try {
        rt.setWeights(readSafetensors(fx.safetensorsPath), name);
        await expectPrefillAndDecode(rt, fx, `${name}/${tuning}`, { logits: LOGITS, decode: DECODE });
      } finally {
        rt.release();
      }
    }, 400_000);

    it('one training step: xent, aux loss, expert counts and every gradient match PyTorch', async () => {
      const torch = JSON.parse(readFileSync(`${TORCH_FIXTURE_DIR}/${name}.grads.json`, 'utf8')) as GradsJson;
      const m = compileFile(fx.specPath).models[0]!;
      const graph = m.graph!;
      const train = planTraining(m.spec, graph, { B: fx.B, T: fx.T, tuning, subgroupMinSize: gpu.subgroupMinSize, clip: 0 });
      expect(train.io.expertCounts).toEqual(expected.moe_layers.map((l) => `${l.scope}.expert_counts`));
      const trainer = await Trainer.create(gpu, paramInfos(graph), { train, eval: train });
      const runner = trainRunner(trainer);
      try {
        trainer.init(0);
        trainer.setState(fx.params);
        const res = await trainer.submitStep(1, fx.tokens, fx.targets, 0, ZERO_LR);
        expect(res.nonfinite).toBe(false);
        report(`${name}/${tuning} xent ${res.loss} vs ${expected.xent}`);
        expect(Math.abs(res.loss - expected.xent)).toBeLessThanOrEqual(LOSS_ABS);
        const auxWant = expected.moe_layers.reduce((s, l) => s + (l.aux_loss ?? 0), 0);
        if (auxWant > 0) expect(Math.abs((await runner.readF32(train.io.aux!))[0]! - auxWant)).toBeLessThanOrEqual(LOSS_ABS);
        else expect(train.io.aux).toBeUndefined();
        for (const l of expected.moe_layers) {
          const counts = new Uint32Array((await runner.readF32(`${l.scope}.expert_counts`)).buffer);
          const E = train.buffers.find((b) => b.name === `${l.scope}.expert_counts`)!.shape[0]!;
          const want = Array.from({ length: E }, (_, e) => l.experts_chosen.filter((x) => x === e).length);
          expect(Array.from(counts.subarray(0, E)), l.scope).toEqual(want);
        }
        expect(train.train!.params.map((p) => p.name).sort()).toEqual(Object.keys(torch.grads).sort());
        await expectGradsClose(
          `${name}/${tuning}`,
          train.train!.params,
          (b, at, n) => runner.readF32(b, at, n),
          (n) => torch.grads[n]!.values,
          GRADS,
        );
      } finally {
        trainer.release();
      }
    }, 600_000);
  },
);
