// One training step of GPT-2 small (random weights, mspec's init) on this machine's WebGPU
// adapter, planned within the adapter's real binding limits (the token table, tied LM head,
// logits, their gradients and the AdamW state bound in chunks), beside PyTorch on the CPU
// (bench/gpt2_train_torch.py) on the same weights and the same batch, in the same run: the
// loss and gradient norm must agree. Writes the section "GPT-2 small: one training step" of
// BENCHMARKS.md.
// Run: npm run build && node bench/gpt2-train-step.mjs [--batch B] [--seq T] [SPEC]   (slow: minutes on lavapipe)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileFile } from '../dist/compiler/index.js';
import { initRules } from '../dist/compiler/ir/interpret.js';
import { planModel } from '../dist/compiler/schedule/plan.js';
import { planTraining } from '../dist/compiler/schedule/train-plan.js';
import { f32Tensor, writeSafetensors } from '../dist/runtime/checkpoint/safetensors.js';
import { acquireDevice, bindingLimitsOf } from '../dist/runtime/device.js';
import { makeRng } from '../dist/runtime/random.js';
import { Trainer } from '../dist/runtime/train/trainer.js';
import { writeSection } from './section.mjs';

const { values, positionals } = parseArgs({ options: { batch: { type: 'string' }, seq: { type: 'string' } }, allowPositionals: true });
const specPath = positionals[0] ?? 'specs/gpt2-small.model';
const m = compileFile(specPath).models[0];
if (!m?.graph) throw new Error(`${specPath} did not compile`);
const B = Number(values.batch ?? 1);
const T = Number(values.seq ?? m.spec.context);
const heads = m.spec.decoder.layers[0].attention.heads;

const gpu = await acquireDevice();
const limits = bindingLimitsOf(gpu.limits);
const popts = {
  B,
  T,
  tuning: gpu.adapterClass,
  subgroupMinSize: gpu.subgroupMinSize,
  maxBinding: limits.maxStorageBufferBindingSize,
  bindAlign: limits.minStorageBufferOffsetAlignment,
};
const rules = initRules(m.graph);
const params = m.graph.params.map((p) => ({ name: p.name, shape: p.shape, decay: p.decay, init: rules.get(p.name) }));
const train = planTraining(m.spec, m.graph, { ...popts, clip: 1.0 });
const chunkedSteps = train.steps.filter((s) => s.kind === 'kernel' && s.ranges).length;
const trainer = await Trainer.create(gpu, params, { train, eval: planModel(m.spec, m.graph, { mode: 'forward', ...popts }) });
trainer.init(1337);

// A batch of random token ids; the targets are the next ids.
const rng = makeRng(7);
const ids = Array.from({ length: B * (T + 1) }, () => Math.floor(rng.uniform() * m.spec.vocab_raw));
const inputs = new Int32Array(B * T);
const targets = new Int32Array(B * T);
for (let b = 0; b < B; b++)
  for (let t = 0; t < T; t++) {
    inputs[b * T + t] = ids[b * (T + 1) + t];
    targets[b * T + t] = ids[b * (T + 1) + t + 1];
  }

const tmp = mkdtempSync(join(os.tmpdir(), 'mspec-gpt2-step-'));
try {
  const weights = await trainer.state(false);
  writeSafetensors(join(tmp, 'w.safetensors'), {
    tensors: new Map([...weights].map(([n, v]) => [n, f32Tensor(params.find((p) => p.name === n).shape, v)])),
    metadata: {},
  });
  writeFileSync(join(tmp, 'batch.json'), JSON.stringify({ B, T, inputs: [...inputs], targets: [...targets] }));

  // lr = 0: the step leaves the weights alone, so the loss and gradient norm are those of these weights.
  const zero = { lr: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 };
  let t0 = performance.now();
  const first = await trainer.submitStep(1, inputs, targets, 0, zero); // compiles the pipelines on lavapipe
  const firstSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const step = await trainer.submitStep(2, inputs, targets, 0, zero);
  const seconds = (performance.now() - t0) / 1000;
  trainer.release();
  gpu.release();
  const torch = JSON.parse(
    execFileSync('/usr/bin/python3', ['bench/gpt2_train_torch.py', join(tmp, 'w.safetensors'), join(tmp, 'batch.json'), String(heads)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    }),
  );
  const rel = (a, b) => Math.abs(a - b) / Math.abs(b);
  const result = { spec: specPath, B, T, first, firstSeconds, step, seconds, torch, chunkedSteps };
  console.log(JSON.stringify(result));
  const tok = (s) => ((B * T) / s).toFixed(0);
  await writeSection(
    'GPT-2 small: one training step',
    `\`node bench/gpt2-train-step.mjs ${specPath}\` — ${os.cpus().length} cores, ${gpu.adapter.summary}; PyTorch ${torch.torch} (${torch.threads} threads) on the CPU, same weights (mspec's init, seed 1337) and batch (B = ${B}, T = ${T}, random ids), in the same run. lr = 0, so both steps see the same weights. mspec plans within the adapter's binding limit (${limits.maxStorageBufferBindingSize} bytes): ${chunkedSteps} dispatches bind the token table, tied head, logits or optimizer state in chunks.

| | loss | gradient norm | step time | tokens/s |
|---|---|---|---|---|
| mspec (WebGPU, lavapipe), first step (pipelines compile) | ${first.loss.toFixed(6)} | ${first.gradNorm.toFixed(5)} | ${firstSeconds.toFixed(1)} s | ${tok(firstSeconds)} |
| mspec (WebGPU, lavapipe), second step | ${step.loss.toFixed(6)} | ${step.gradNorm.toFixed(5)} | ${seconds.toFixed(1)} s | ${tok(seconds)} |
| PyTorch (CPU, float32, forward + backward) | ${torch.loss.toFixed(6)} | ${torch.grad_norm.toFixed(5)} | ${torch.seconds.toFixed(1)} s | ${tok(torch.seconds)} |

Loss differs from PyTorch's by ${(100 * rel(step.loss, torch.loss)).toExponential(1)}%, the gradient norm by ${(100 * rel(step.gradNorm, torch.grad_norm)).toExponential(1)}%.`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
