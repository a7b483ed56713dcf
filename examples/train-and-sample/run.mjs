// Train a tiny spec for a few steps, then sample from the checkpoint twice: through the runtime
// API (mspec/runtime's ModelRuntime on the built plan) and through the module `mspec build`
// generates (model.js). Same plan, same weights, same seed: the same text.
//   npm run build && node examples/train-and-sample/run.mjs        (STEPS=… for a shorter run)
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ModelRuntime } from 'mspec/runtime';
import { envInt, lastValLoss, metrics, mobyDick, mspec } from '../lib/mspec.mjs';

const here = dirname(fileURLToPath(import.meta.url));
// Inside the repository, so the generated module finds the `webgpu` package in node_modules/.
const out = process.env.EXAMPLE_OUT ?? join(here, 'out');
rmSync(out, { recursive: true, force: true });
const spec = join(here, 'tiny.model');
const steps = envInt('STEPS', 60);
const prompt = 'Call me ';
const sampling = { maxTokens: envInt('TOKENS', 48), temperature: 0.8, topK: 40, seed: 1 };

// 1. Train (the CLI drives the runtime's training loop: data, AdamW, eval, checkpoint).
const run = join(out, 'run');
mspec([
  'train',
  spec,
  '--data',
  mobyDick('chapter_1'),
  '--steps',
  String(steps),
  '--eval-every',
  String(steps),
  '--out',
  run,
  '--sample-tokens',
  '0',
]);
const m = metrics(run);
console.log(
  `trained ${steps} steps: loss ${m[0].loss.toFixed(3)} → ${m.at(-1).loss.toFixed(3)}, validation ${lastValLoss(run).toFixed(3)}`,
);
const ckpt = join(run, 'last.safetensors');

// 2. Build: WGSL kernels, plan.json and the typed module model.js.
mspec(['build', spec, '-o', join(out, 'build')]);
const folder = join(out, 'build', 'tiny_gpt');

async function collect(stream) {
  let text = '';
  for await (const piece of stream) text += piece;
  return text;
}

// 3a. The runtime API: a ModelRuntime from the plan, the checkpoint's weights, streamed text.
const rt = await ModelRuntime.create(JSON.parse(readFileSync(join(folder, 'plan.json'), 'utf8')));
rt.load(ckpt);
const viaRuntime = await collect(rt.generateText(prompt, sampling));
rt.release();
console.log(`runtime API:      ${JSON.stringify(prompt + viaRuntime)}`);

// 3b. The generated module: the class `mspec build` wrote for this spec.
const mod = await import(pathToFileURL(join(folder, 'model.js')).href);
const model = await mod.TinyGpt.create();
model.load(ckpt);
const viaModule = await collect(model.generateText(prompt, sampling));
model.release();
console.log(`generated module: ${JSON.stringify(prompt + viaModule)}`);
console.log(viaRuntime === viaModule ? 'same text from both: yes' : 'the two samples differ');
if (viaRuntime !== viaModule) process.exitCode = 1;
