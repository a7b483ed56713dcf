/**
 * The T5-style encoder–decoder on the GPU against PyTorch (scripts/fixtures/make_torch_t5.py:
 * relative bias per stack, bidirectional buckets in the encoder and causal ones in the decoder,
 * RMSNorm, ReLU, unscaled attention, cross-attention over S = 9 source rows for T = 7 target
 * rows, tied head, two ignored targets), for both kernel tunings:
 *   - the forward plan's logits and loss;
 *   - generation's path (ModelRuntime): the encode plan run once per source (padded to the
 *     context with the start id 0, as training pads), then the decoder's prefill and its
 *     KV-cached decode over the kept cross-attention K/V, against the CPU interpreter on the
 *     same padded source (the interpreter itself is checked against PyTorch in
 *     test/ir/t5-torch.test.ts);
 *   - one training step (lr = 0): the loss and every parameter gradient, the relative-bias
 *     tables included.
 *
 * Tolerances are relative to the float64 reference (abs + rel·|ref|), as in
 * variants-torch.test.ts. PyTorch's own float32 run differs from float64 by 7.5e-6 on the
 * logits (|logit| ≤ 4.9) and 1.5e-5 on gradients (|g| ≤ 8.2: a bias table sums over every
 * query–key pair of its stack). TORCH_TOL_REPORT=1 prints every measured error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelTuning } from '../../compiler/codegen/wgsl/matmul.js';
import { compileGpu } from '../../compiler/cli/gpu-model.js';
import { compileFile } from '../../compiler/index.js';
import { interpretGraph } from '../../compiler/ir/interpret.js';
import { planModel } from '../../compiler/schedule/plan.js';
import { planTraining } from '../../compiler/schedule/train-plan.js';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { ModelRuntime } from '../../runtime/model-runtime.js';
import { PlanRunner } from '../../runtime/plan-runner.js';
import { Trainer } from '../../runtime/train/trainer.js';
import { paramInfos, trainRunner, ZERO_LR } from '../helpers/gpu-train.js';
import { expectClose, expectGradsClose, report, type Tol } from '../helpers/torch-compare.js';
import { loadT5Fixture } from '../helpers/torch-t5.js';

const TUNINGS = (process.env.MSPEC_VARIANT_TUNINGS ?? 'cpu,gpu').split(',') as KernelTuning[];
const LOGITS: Tol = { abs: 3e-5, rel: 5e-6 };
/** GPU vs the interpreter on the same padded source: two f32 computations. */
const VS_INTERP: Tol = { abs: 3e-5, rel: 5e-6 };
const GRADS: Tol = { abs: 2e-5, rel: 5e-5 };
const LOSS_ABS = 1e-5;
const TIMEOUT = 600_000;

const fx = loadT5Fixture();
const compiled = () => {
  const r = compileFile(fx.specPath);
  expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  return r.models[0]!;
};

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await acquireDevice();
});
afterAll(() => gpu?.release());

describe.each(TUNINGS)('torch_t5 on the GPU, tuning %s', (tuning) => {
  it(
    'forward plan (S = 9 ≠ T = 7): logits and loss match PyTorch',
    async () => {
      const m = compiled();
      const plan = planModel(m.spec, m.graph!, {
        mode: 'forward',
        B: fx.B,
        T: fx.T,
        S: fx.S,
        tuning,
        subgroupMinSize: gpu.subgroupMinSize,
      });
      expect(plan.io.src).toBe('src_tokens');
      const runner = new PlanRunner(gpu, plan);
      await runner.compile();
      for (const [name, values] of fx.params) runner.write(name, values);
      runner.write(plan.io.src!, fx.srcTokens);
      runner.write(plan.io.tokens, fx.tokens);
      runner.write(plan.io.targets!, fx.targets);
      // kv_len must cover the encoder's S = 9 rows as well as T = 7 (kernels read min(kv_len, rows)).
      runner.setStep(0, plan.context);
      runner.run(0);
      expectClose(`${tuning} logits`, await runner.readF32(plan.io.logits), fx.logits, LOGITS);
      const loss = (await runner.readF32(plan.io.loss!))[0]!;
      expect(Math.abs(loss - fx.loss)).toBeLessThanOrEqual(LOSS_ABS);
    },
    TIMEOUT,
  );

  it(
    'encode once, then prefill and KV-cached decode over the kept cross K/V match the interpreter',
    async () => {
      const c = compileGpu(fx.specPath, { tuning, subgroupMinSize: gpu.subgroupMinSize });
      expect(c.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
      const data = c.models[0]!.data;
      expect(data.plans.encode?.mode).toBe('encode');
      // The decoder plans compute nothing of the encoder: it runs once per source.
      expect(data.plans.decode.steps.some((s) => s.kind === 'kernel' && s.scope.startsWith('encoder.'))).toBe(false);
      const rt = await ModelRuntime.create(data, { gpu });
      try {
        rt.setWeights(readSafetensors(fx.safetensorsPath), 'torch_t5');
        expect(rt.seq2seq).toBe(true);
        const { S, T, vocab: V } = fx;
        const ctx = data.context;
        const graph = compiled().graph!;
        for (let b = 0; b < fx.B; b++) {
          const src = Array.from(fx.srcTokens.subarray(b * S, (b + 1) * S));
          const tokens = Array.from(fx.tokens.subarray(b * T, (b + 1) * T));
          // The reference: the interpreter on the source padded to the context with the start id 0.
          const padded = new Int32Array(ctx);
          padded.set(src);
          const values = interpretGraph(graph, {
            params: fx.params,
            inputs: new Map([
              ['src_tokens', padded],
              ['tokens', Int32Array.from(tokens)],
              ['targets', new Int32Array(T).fill(-1)],
            ]),
            B: 1,
            T,
            S: ctx,
          });
          const want = values.get(graph.outputs.find((v) => graph.values[v]!.name.endsWith('logits'))!)!.data;
          expect(tokens[0]).toBe(rt.seq2seqIds.start);
          const full = await rt.seq2seqLogits(src, tokens.slice(1));
          expectClose(`${tuning} prefill b=${b}`, full, want, VS_INTERP);
          // Decode from the start token, one target token at a time (the source is not encoded again).
          rt.encodeSource(src);
          const steps = new Float32Array(T * V);
          steps.set(await rt.prefillPrompt([tokens[0]!]), 0);
          for (let p = 1; p < T; p++) steps.set(await rt.decodeStep(tokens[p]!, p), p * V);
          expectClose(`${tuning} decode b=${b}`, steps, want, VS_INTERP);
        }
        const states = await rt.encoderStates([1, 2, 3]);
        expect(states.length).toBe(ctx * fx.shapes.get('encoder.norm.weight')![0]!);
        expect(() => rt.encodeSource(new Array(ctx + 1).fill(1))).toThrow(
          `the source has ${ctx + 1} tokens but the encoder's context is ${ctx}`,
        );
      } finally {
        rt.release();
      }
    },
    TIMEOUT,
  );

  it(
    'one training step: loss and every gradient match PyTorch',
    async () => {
      const m = compiled();
      const graph = m.graph!;
      const train = planTraining(m.spec, graph, { B: fx.B, T: fx.T, S: fx.S, tuning, subgroupMinSize: gpu.subgroupMinSize, clip: 0 });
      const trainer = await Trainer.create(gpu, paramInfos(graph), { train, eval: train });
      try {
        trainer.init(0);
        trainer.setState(fx.params);
        const batch = { inputs: fx.tokens, targets: fx.targets, sources: fx.srcTokens };
        const res = await trainer.submitAccumulated(1, [batch], 0, ZERO_LR);
        expect(res.nonfinite).toBe(false);
        report(`${tuning} training loss ${res.loss} vs ${fx.loss}`);
        expect(Math.abs(res.loss - fx.loss)).toBeLessThanOrEqual(LOSS_ABS);
        expect(train.train!.params.map((p) => p.name).sort()).toEqual([...fx.grads.keys()].sort());
        const runner = trainRunner(trainer);
        await expectGradsClose(
          tuning,
          train.train!.params,
          (b, at, n) => runner.readF32(b, at, n),
          (n) => fx.grads.get(n)!,
          GRADS,
        );
      } finally {
        trainer.release();
      }
    },
    TIMEOUT,
  );
});
