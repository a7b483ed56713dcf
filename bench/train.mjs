// Training throughput (tokens/s): mspec's training step vs the same GPT written in TensorFlow.js
// (WebGPU backend), on the same adapter (Dawn through npm `webgpu`), in one run. Prints a
// table and writes the section "Training (tokens/s)" of BENCHMARKS.md (other sections are kept).
//
//   npm run build && node bench/train.mjs
//   ROUNDS=2 STEPS=10 WARMUP=2 node bench/train.mjs      (defaults: 3 rounds of 8 steps, 2 warm-up steps)
//
// Model: char vocab 65, 4 layers, 4 heads, d_model 128, context 64, pre-LN GPT with learned
// positions, biases, GELU (tanh) MLP 4x, tied head; batch 32 x 64 tokens; lr 3e-3.
// mspec: its compiled training plan (forward, backward, global-norm clipping at 1, fused AdamW
// with weight decay 0.1) through the Trainer, one step kept in flight like `mspec train`.
// tfjs 4.22: tfjs-core ops on the webgpu backend (bench/tfjs-gpt.mjs), tf.train.adam (tfjs has
// no AdamW and no clipping, so it does a little less work per step), one step in flight too,
// each step's loss read back with data(). Both start from mspec's initial weights, and their
// first losses on the same batch must agree (a check that both compute the same model).
// Rounds are interleaved (mspec, tfjs, mspec, tfjs, ...) and each side keeps its best round:
// a shared machine's speed drifts, so only interleaved best-of-N numbers compare.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { create } from 'webgpu';
import { compileFile } from '../dist/compiler/index.js';
import { initParams, initRules } from '../dist/compiler/ir/interpret.js';
import { planModel } from '../dist/compiler/schedule/plan.js';
import { planTraining } from '../dist/compiler/schedule/train-plan.js';
import { acquireDevice } from '../dist/runtime/device.js';
import { Trainer } from '../dist/runtime/train/trainer.js';
import { createTfjsGpt, importTfjsCore } from './tfjs-gpt.mjs';
import { writeSection } from './section.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
// 3 rounds x 8 steps = 24 timed steps per side; a tfjs step takes seconds on a 2-core CPU adapter,
// and the run should stay within a few minutes.
const STEPS = Number(process.env.STEPS ?? 8); // timed steps per round and side
const WARMUP = Number(process.env.WARMUP ?? 2);
const VOCAB = 65,
  LAYERS = 4,
  HEADS = 4,
  D = 128,
  T = 64,
  B = 32,
  LR = 3e-3,
  SEED = 1;
const OPTIM = { lr: LR, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
const load0 = os.loadavg();

const SPEC = `// bench/train.mjs: a small character-level GPT
model bench_gpt {
  vocab = ${VOCAB}
  context = ${T}
  d_model = ${D}
  layers = ${LAYERS}
  bias = true
  embedding { positions: learned, tied: true }
  block {
    norm: layernorm(eps: 1e-5)
    placement: pre
    attention { heads: ${HEADS}, causal }
    mlp { activation: gelu_tanh, hidden: 4 * d_model }
  }
  final_norm = layernorm(eps: 1e-5)
}
`;

// Random token batches (deterministic), inputs and targets independent: the throughput does
// not depend on the data.
let rngState = 12345;
const nextId = () => ((rngState = (Math.imul(rngState, 1664525) + 1013904223) >>> 0) >>> 8) % VOCAB;
const BATCHES = Array.from({ length: 8 }, () => ({
  inputs: Int32Array.from({ length: B * T }, nextId),
  targets: Int32Array.from({ length: B * T }, nextId),
}));
const batch = (k) => BATCHES[k % BATCHES.length];

// --- mspec -------------------------------------------------------------------------------
const dir = mkdtempSync(join(os.tmpdir(), 'mspec-bench-train-'));
const specPath = join(dir, 'bench_gpt.model');
writeFileSync(specPath, SPEC);
const compiled = compileFile(specPath);
rmSync(dir, { recursive: true, force: true });
const m = compiled.models[0];
if (!m?.ok || !m.graph) throw new Error(`the benchmark spec did not compile: ${compiled.diagnostics.map((d) => d.message).join('; ')}`);
const { spec, graph } = m;
const gpu = await acquireDevice();
const popts = { B, T, tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize };
const rules = initRules(graph);
const params = graph.params.map((p) => ({ name: p.name, shape: p.shape, decay: p.decay, init: rules.get(p.name) }));
const nParams = params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
const trainer = await Trainer.create(gpu, params, {
  train: planTraining(spec, graph, { ...popts, clip: 1, maxStorageBuffers: gpu.limits.maxStorageBuffersPerShaderStage }),
  eval: planModel(spec, graph, { ...popts, mode: 'forward' }),
});
trainer.init(SEED);
let mspecT = 0; // AdamW step counter (bias corrections)
const mspecLosses = [];
/** Runs n steps with one in flight; returns ms per step. */
async function runMspec(n) {
  const t0 = performance.now();
  let inflight = null;
  for (let i = 0; i < n; i++) {
    const t = ++mspecT;
    const b = batch(t - 1);
    const next = trainer.submitStep(t, b.inputs, b.targets, LR, OPTIM);
    if (inflight) mspecLosses.push(check(await inflight, 'mspec'));
    inflight = next;
  }
  if (inflight) mspecLosses.push(check(await inflight, 'mspec'));
  return (performance.now() - t0) / n;
}
function check(res, who) {
  const loss = typeof res === 'number' ? res : res.loss;
  if (!Number.isFinite(loss) || res.nonfinite) throw new Error(`${who}: non-finite loss or gradients at a step`);
  return loss;
}

// --- TensorFlow.js -----------------------------------------------------------------------
// tfjs-backend-webgpu looks for navigator.gpu (Node 20 has no navigator; Node 21+ has one
// without gpu), so give it a Dawn instance of its own before importing it.
Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true, writable: true });
const tf = await importTfjsCore(); // with its gradients (see there)
await import('@tensorflow/tfjs-backend-webgpu');
if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not start its WebGPU backend');
const init = initParams(graph, SEED); // the values trainer.init(SEED) wrote
const tfModel = createTfjsGpt(tf, {
  vocab: VOCAB,
  T,
  d: D,
  layers: LAYERS,
  heads: HEADS,
  eps: 1e-5,
  lr: LR,
  beta1: OPTIM.beta1,
  beta2: OPTIM.beta2,
  adamEps: OPTIM.eps,
  init,
  shapes: new Map(graph.params.map((p) => [p.name, p.shape])),
});
let tfjsT = 0;
const tfjsLosses = [];
async function runTfjs(n) {
  const t0 = performance.now();
  let inflight = null;
  const finish = async (l) => {
    const v = (await l.data())[0];
    l.dispose();
    tfjsLosses.push(check(v, 'tfjs'));
  };
  for (let i = 0; i < n; i++) {
    const b = batch(tfjsT++);
    const next = tfModel.step(b.inputs, b.targets, B);
    if (inflight) await finish(inflight);
    inflight = next;
  }
  if (inflight) await finish(inflight);
  return (performance.now() - t0) / n;
}

// --- run ---------------------------------------------------------------------------------
// Same weights, same first batch: the first losses must agree.
await runMspec(1);
await runTfjs(1);
const [l0m, l0t] = [mspecLosses[0], tfjsLosses[0]];
console.log(
  `first-step loss on the same batch: mspec ${l0m.toFixed(5)}, tfjs ${l0t.toFixed(5)} (ln ${VOCAB} = ${Math.log(VOCAB).toFixed(5)})`,
);
if (Math.abs(l0m - l0t) > 2e-3) throw new Error(`the two models disagree on the first loss: ${l0m} vs ${l0t}`);
// Warm-up (pipeline compilation, tfjs's shader cache, buffer pools).
const warm = { mspec: await runMspec(WARMUP), tfjs: await runTfjs(WARMUP) };
console.log(
  `warm-up: mspec ${warm.mspec.toFixed(0)} ms/step, tfjs ${warm.tfjs.toFixed(0)} ms/step; load average ${load0.map((x) => x.toFixed(2)).join(' ')}`,
);
const tensors0 = tf.memory().numTensors;
const best = { mspec: Infinity, tfjs: Infinity };
const perRound = [];
for (let r = 0; r < ROUNDS; r++) {
  const a = await runMspec(STEPS);
  const b = await runTfjs(STEPS);
  best.mspec = Math.min(best.mspec, a);
  best.tfjs = Math.min(best.tfjs, b);
  perRound.push([a, b]);
  const tps = (ms) => ((B * T) / (ms / 1000)).toFixed(0);
  console.log(
    `round ${r + 1}: mspec ${a.toFixed(0)} ms/step (${tps(a)} tokens/s), tfjs ${b.toFixed(0)} ms/step (${tps(b)} tokens/s); load ${os.loadavg()[0].toFixed(2)}`,
  );
}
if (tf.memory().numTensors > tensors0 + 2) console.warn(`warning: tfjs tensors grew from ${tensors0} to ${tf.memory().numTensors}`);
const load1 = os.loadavg();

// PyTorch on the CPU, the same model and recipe, measured now (bench/train_torch.py; Debian's torch at /usr/bin/python3).
let torchRun = null;
try {
  const args = [VOCAB, LAYERS, HEADS, D, T, B, LR, ROUNDS, STEPS, WARMUP].map(String);
  torchRun = JSON.parse(
    execFileSync('/usr/bin/python3', ['bench/train_torch.py', ...args], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .at(-1),
  );
} catch (e) {
  console.error(`PyTorch reference failed (${e.message}); its row is left out`);
}
const tokS = (ms) => (B * T) / (ms / 1000);
const ours = tokS(best.mspec),
  theirs = tokS(best.tfjs);
const lastM = mspecLosses.at(-1),
  lastT = tfjsLosses.at(-1);
const table = [
  '| implementation | ms / step | tokens/s |',
  '|---|---:|---:|',
  `| mspec (compiled training plan, AdamW + clipping) | ${best.mspec.toFixed(0)} | ${ours.toFixed(0)} |`,
  `| tfjs-webgpu 4.22 (core ops, tf.train.adam) | ${best.tfjs.toFixed(0)} | ${theirs.toFixed(0)} |`,
  ...(torchRun
    ? [
        `| PyTorch ${torchRun.torch} on the CPU (${torchRun.threads} threads, AdamW + clipping) | ${torchRun.ms_per_step.toFixed(0)} | ${tokS(torchRun.ms_per_step).toFixed(0)} |`,
      ]
    : []),
  `| **mspec / tfjs** | | **${(ours / theirs).toFixed(2)}×** |`,
  ...(torchRun ? [`| **mspec / PyTorch (CPU)** | | **${(ours / tokS(torchRun.ms_per_step)).toFixed(2)}×** |`] : []),
].join('\n');
const fmtLoad = (l) => l.map((x) => x.toFixed(2)).join(', ');
console.log(`adapter: ${gpu.adapter.summary}`);
console.log(table);
console.log(`load average (1, 5, 15 min): ${fmtLoad(load0)} at start, ${fmtLoad(load1)} at end`);

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
await writeSection(
  'Training (tokens/s)',
  `
A character-level GPT: vocab ${VOCAB}, ${LAYERS} layers, ${HEADS} heads, d_model ${D}, context ${T}, pre-LayerNorm, learned
positions, biases, GELU (tanh) MLP 4×, tied head (${nParams.toLocaleString('en-US')} parameters); batch ${B} × ${T} = ${B * T} tokens per step,
random tokens, lr ${LR}. f32 on ${gpu.adapter.summary}; ${cpu}, ${os.cpus().length} cores; Node ${process.version}; ${new Date().toISOString().slice(0, 10)}.
Command: \`npm run build && node bench/train.mjs\`.

- mspec: its compiled training plan through the Trainer (one command buffer per step: forward, backward,
  global-norm clipping at 1, fused AdamW with weight decay 0.1), the next step queued before the previous
  step's loss is read back, as \`mspec train\` does.
- TensorFlow.js 4.22 (\`@tensorflow/tfjs-backend-webgpu\`, same adapter, same process): the same model written with
  tfjs-core ops (bench/tfjs-gpt.mjs) and \`tf.train.adam(${LR}, 0.9, 0.95, 1e-8).minimize\`; tfjs has no AdamW and
  no clipping, so it does slightly less work per step. One step in flight too; every loss read back.
- Both start from the same weights; their first-step losses on the same batch agree (${l0m.toFixed(4)} vs ${l0t.toFixed(4)}).
- ${WARMUP} warm-up steps each, then ${ROUNDS} interleaved rounds of ${STEPS} steps per side; each keeps its best round.
  Load average (1 min) ${load0[0].toFixed(2)} at the start and ${load1[0].toFixed(2)} at the end (another process may share the 2 cores).

${table}

Rounds (ms/step, mspec / tfjs): ${perRound.map(([a, b]) => `${a.toFixed(0)} / ${b.toFixed(0)}`).join('; ')}.
Losses after the last step: mspec ${lastM.toFixed(3)}, tfjs ${lastT.toFixed(3)} (random tokens: both settle near ln ${VOCAB} ≈ ${Math.log(VOCAB).toFixed(2)}).

- PyTorch: the same model and recipe in eager PyTorch on the CPU (bench/train_torch.py, its own random init and
  tokens, torch's default threads and Debian's BLAS), ${WARMUP} warm-up steps and the best of ${ROUNDS} rounds of ${STEPS}, run
  after the WebGPU rounds in the same invocation${torchRun ? '' : ' — not available on this machine (no /usr/bin/python3 with torch), so its row is missing'}.
`,
);
console.log('updated BENCHMARKS.md');

trainer.release();
tfModel.dispose();
gpu.release();
process.exit(0); // tfjs keeps its device (and Dawn instance) referenced
