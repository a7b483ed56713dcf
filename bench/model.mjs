// Forward (prefill) and KV-cached decode throughput of the tiny specs on this machine's
// WebGPU adapter, through the same path `mspec sample` uses. Writes the section
// "Model forward and decode (tokens/s)" of BENCHMARKS.md.
// Run: npm run build && node bench/model.mjs
import os from 'node:os';
import { compileGpu } from '../dist/compiler/cli/gpu-model.js';
import { acquireDevice } from '../dist/runtime/device.js';
import { ModelRuntime } from '../dist/runtime/model-runtime.js';
import { writeSection } from './section.mjs';

const SPECS = ['specs/char-gpt.model', 'specs/tiny-llama.model'];
const gpu = await acquireDevice();
const rows = [];
for (const spec of SPECS) {
  const r = compileGpu(spec, { tuning: gpu.adapterClass, subgroupMinSize: gpu.subgroupMinSize });
  if (!r.models.length) throw new Error(`${spec} did not compile: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  const { data } = r.models[0];
  const rt = await ModelRuntime.create(data, { gpu });
  rt.init(1);
  const T = data.context;
  const prompt = Array.from({ length: T }, (_, i) => (i * 7) % data.vocab);
  await rt.logits(prompt); // warm up: first dispatch compiles pipelines on lavapipe
  const reps = 10;
  let t0 = performance.now();
  for (let i = 0; i < reps; i++) await rt.logits(prompt);
  const fwd = (reps * T) / ((performance.now() - t0) / 1000);
  const n = Math.min(64, T - 8);
  for await (const _ of rt.generate(prompt.slice(0, 4), { maxTokens: 4, temperature: 0 })) void _;
  t0 = performance.now();
  let made = 0;
  for await (const _ of rt.generate(prompt.slice(0, 4), { maxTokens: n, temperature: 0 })) made++;
  const dec = made / ((performance.now() - t0) / 1000);
  const params = data.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  rows.push({ spec, name: data.name, params, T, fwd, dec, made });
  rt.release();
}
gpu.release();

const table = [
  '| spec | params | context | forward tokens/s (prefill, B=1) | decode tokens/s (KV cache) |',
  '|---|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.spec} | ${r.params.toLocaleString('en-US')} | ${r.T} | ${r.fwd.toFixed(0)} | ${r.dec.toFixed(0)} |`),
].join('\n');
console.log(table);
await writeSection(
  'Model forward and decode (tokens/s)',
  `Untrained weights (seed 1), f32, on ${gpu.adapter.summary}; ${os.cpus()[0]?.model ?? 'CPU'}, ${os.cpus().length} cores; Node ${process.version}; ${new Date().toISOString().slice(0, 10)}.
Command: \`npm run build && node bench/model.mjs\`. Forward: a full-context prefill pass with the logits of every
position read back, 10 passes after a warm-up. Decode: greedy generation of ${rows[0]?.made ?? 0} tokens after a 4-token prompt,
one command buffer and one logits read-back per token (the read-back round trip dominates at this size).

${table}`,
);
console.log('updated BENCHMARKS.md');
