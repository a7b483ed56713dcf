// Forward (prefill) and KV-cached decode throughput of the tiny specs on this machine's
// WebGPU adapter, through the same path `mspec sample` uses. Writes the section
// "Model forward and decode (tokens/s)" of BENCHMARKS.md.
// Run: npm run build && node bench/model.mjs
import { execFileSync } from 'node:child_process';
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
  // Decode rates on a shared CPU adapter vary run to run: the best of 5 generations per path.
  const rate = async (opts) => {
    let best = 0;
    let made = 0;
    for (let rep = 0; rep < 5; rep++) {
      const t = performance.now();
      made = 0;
      for await (const _ of rt.generate(prompt.slice(0, 4), { maxTokens: n, temperature: 0, ...opts })) made++;
      best = Math.max(best, made / ((performance.now() - t) / 1000));
    }
    return { best, made };
  };
  const { best: dec, made } = await rate({});
  // The host-sampling path (one logits read-back per token), as before issue 13.
  const { best: decHost } = await rate({ sampleOn: 'host' });
  const torch = torchDecode(r.models[0].model.spec, data, n);
  const params = data.params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  rows.push({ spec, name: data.name, params, T, fwd, dec, decHost, torch, made });
  rt.release();
}
gpu.release();

/** PyTorch 1.13 (/usr/bin/python3) greedy decode with a KV cache of the same shape, random weights, one thread. */
function torchDecode(spec, data, steps) {
  const shape = (name) => data.params.find((x) => x.name === name)?.shape;
  const C = shape('embed.tokens.weight')[1];
  const layers = new Set(data.params.map((p) => p.name.match(/^layers\.(\d+)\./)?.[1]).filter(Boolean)).size;
  const a = spec.decoder.layers[0].attention;
  const hidden = shape('layers.0.mlp.gate.weight')?.[0];
  const script = hidden
    ? ['bench/llama_torch.py', layers, C, a.heads, a.kv_heads, hidden, data.vocab, data.context, steps]
    : ['bench/gpt2_torch.py', layers, C, a.heads, data.vocab, data.context, steps];
  try {
    const out = execFileSync('/usr/bin/python3', script.map(String), { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').at(-1));
  } catch (e) {
    console.error(`PyTorch reference failed: ${e.message}`);
    return null;
  }
}

const table = [
  '| spec | params | context | forward tokens/s (prefill, B=1) | decode tokens/s (device sampling, chunked) | decode tokens/s (host sampling) | PyTorch decode tokens/s (KV cache) |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.spec} | ${r.params.toLocaleString('en-US')} | ${r.T} | ${r.fwd.toFixed(0)} | ${r.dec.toFixed(0)} | ${r.decHost.toFixed(0)} | ${r.torch ? r.torch.decode.toFixed(0) : 'n/a'} |`,
  ),
].join('\n');
console.log(table);
await writeSection(
  'Model forward and decode (tokens/s)',
  `Untrained weights (seed 1), f32, on ${gpu.adapter.summary}; ${os.cpus()[0]?.model ?? 'CPU'}, ${os.cpus().length} cores; Node ${process.version}; ${new Date().toISOString().slice(0, 10)}.
Command: \`npm run build && node bench/model.mjs\`. Forward: a full-context prefill pass with the logits of every
position read back, 10 passes after a warm-up. Decode: greedy generation of ${rows[0]?.made ?? 0} tokens after a 4-token prompt (the prompt's prefill included), best of 5;
device sampling chooses each token in a kernel that feeds the next step (chunks of 8 doubling to 64 steps per
submission, one read-back of ids per chunk); host sampling reads each row of logits back. PyTorch: the same shapes
(random weights) with a hand-written KV cache, greedy, torch's default threads (bench/gpt2_torch.py, bench/llama_torch.py,
/usr/bin/python3, torch ${rows[0]?.torch?.torch ?? '?'}, ${rows[0]?.torch?.threads ?? '?'} threads), measured in the same run.

${table}`,
);
console.log('updated BENCHMARKS.md');
