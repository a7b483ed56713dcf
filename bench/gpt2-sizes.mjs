// Prefill and KV-cached decode throughput of the real-size GPT-2 specs (random weights) on this
// machine's WebGPU adapter, through the path `mspec sample` uses (the adapter's real binding
// limits, the token table and LM head bound in chunks, prefill logits for the last row only),
// beside PyTorch on the CPU (bench/gpt2_torch.py, same shapes) measured in the same run.
// Writes the section "GPT-2 sizes: prefill and decode (tokens/s)" of BENCHMARKS.md.
// Run: npm run build && node bench/gpt2-sizes.mjs [specs/gpt2-small.model ...]   (slow: minutes per model on lavapipe)
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { compileGpu } from '../dist/compiler/cli/gpu-model.js';
import { acquireDevice, bindingLimitsOf } from '../dist/runtime/device.js';
import { ModelRuntime } from '../dist/runtime/model-runtime.js';
import { writeSection } from './section.mjs';

const SPECS = process.argv.slice(2).length ? process.argv.slice(2) : ['specs/gpt2-small.model', 'specs/gpt2-medium.model'];
const DECODE = 8;
const gpu = await acquireDevice();
const limits = bindingLimitsOf(gpu.limits);
const rows = [];
for (const spec of SPECS) {
  const r = compileGpu(spec, { tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize, limits });
  if (!r.models.length) throw new Error(`${spec} did not compile: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  const { model, data } = r.models[0];
  const rt = await ModelRuntime.create(data, { gpu });
  rt.init(1);
  const T = data.context;
  const prompt = Array.from({ length: T }, (_, i) => (i * 7) % data.vocab);
  await rt.prefillPrompt(prompt.slice(0, 4)); // warm-up: the first dispatch compiles pipelines on lavapipe
  // The prefill plan always runs the whole context (T positions); one timed pass.
  let t0 = performance.now();
  await rt.prefillPrompt(prompt);
  const prefill = T / ((performance.now() - t0) / 1000);
  let logits = await rt.prefillPrompt(prompt.slice(0, 4));
  t0 = performance.now();
  for (let s = 0; s < DECODE; s++) logits = await rt.decodeStep(s === 0 ? prompt[4] : logits.indexOf(Math.max(...logits)), 4 + s);
  const decode = DECODE / ((performance.now() - t0) / 1000);
  rt.release();
  const { d_model: C, vocab } = model.spec;
  const stack = model.spec.decoder ?? model.spec.encoder;
  const layers = stack.layers.length;
  const heads = stack.layers[0].attention.heads;
  const torch = JSON.parse(
    execFileSync('/usr/bin/python3', ['bench/gpt2_torch.py', ...[layers, C, heads, vocab, T, DECODE].map(String)], { encoding: 'utf8' }),
  );
  const params = data.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  rows.push({ spec, params, T, prefill, decode, torch });
  console.log(spec, { prefill, decode, torch });
}
gpu.release();

const f = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const table = [
  '| spec | params | context | mspec prefill tok/s | PyTorch prefill tok/s | mspec decode tok/s | PyTorch decode tok/s |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.spec} | ${r.params.toLocaleString('en-US')} | ${r.T} | ${f(r.prefill)} | ${f(r.torch.prefill)} | ${f(r.decode)} | ${f(r.torch.decode)} |`,
  ),
].join('\n');
console.log(table);
await writeSection(
  'GPT-2 sizes: prefill and decode (tokens/s)',
  `Random weights, f32, B = 1, on ${gpu.adapter.summary} (maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}: the token
table and the LM head bound in chunks) beside PyTorch ${rows[0]?.torch.torch ?? ''} on the CPU (${rows[0]?.torch.threads ?? '?'} thread(s),
the same shapes, bench/gpt2_torch.py), measured in one run; ${os.cpus()[0]?.model ?? 'CPU'}, ${os.cpus().length} cores (shared); Node ${process.version};
${new Date().toISOString().slice(0, 10)}. Command: \`npm run build && node bench/gpt2-sizes.mjs ${SPECS.join(' ')}\`.
Prefill: one pass over the whole context (both compute the last row's logits only). Decode: ${DECODE} greedy KV-cached steps after a 4-token prompt.

${table}`,
);
console.log('updated BENCHMARKS.md');
