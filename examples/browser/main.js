/**
 * The page: the model folder `mspec build` wrote (out/tiny_browser/, imported like any ES
 * module and bundled by vite) running on navigator.gpu. It loads a safetensors checkpoint over
 * HTTP, samples with the options of `mspec sample`, and trains with the GPU trainer of the
 * same runtime (runtime/browser.ts), drawing the loss as it goes. `window.mspec` exposes the
 * same operations to scripts (the headless test in test/browser/ drives the page through it).
 */
import { CONFIG, TinyBrowser } from './out/tiny_browser/model.js';
import { Trainer, learningRate, lossChartSvg } from './out/tiny_browser/runtime/browser.js';

const $ = (id) => document.getElementById(id);
const setStatus = (text) => ($('status').textContent = text);

async function fetchOk(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`fetching ${url}: HTTP ${r.status}`);
  return r;
}

/** A deterministic 32-bit generator for the batches (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

async function main() {
  const model = await TinyBrowser.create();
  const gpu = model.runtime.gpu;
  model.loadBytes(new Uint8Array(await (await fetchOk('./checkpoint.safetensors')).arrayBuffer()), 'checkpoint.safetensors');
  const bundle = await (await fetchOk('./train-plan.json')).json();
  const corpus = model.encode(await (await fetchOk('./corpus.txt')).text());
  const { recipe, plans } = bundle;
  const B = plans.train.B;
  const T = plans.train.T;
  const opt = recipe.optimizer;
  const optim = { lr: opt.lr, beta1: opt.betas[0], beta2: opt.betas[1], eps: opt.eps, weightDecay: opt.weight_decay };

  /** B random windows of T + 1 tokens: inputs and next-token targets. */
  const batch = (next) => {
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const at = Math.floor(next() * (corpus.length - T - 1));
      for (let t = 0; t < T; t++) {
        inputs[b * T + t] = corpus[at + t];
        targets[b * T + t] = corpus[at + t + 1];
      }
    }
    return { inputs, targets };
  };

  let trainer = null;
  let step = 0;
  const losses = [];
  const nextBatch = rng(recipe.seed);
  /** The trainer starts from the model's current weights (with fresh AdamW moments) the first time. */
  const ensureTrainer = async () => {
    if (trainer) return trainer;
    trainer = await Trainer.create(gpu, bundle.model.params, plans, recipe.seed);
    trainer.init(recipe.seed); // zero moments
    trainer.setState(await model.runtime.getWeights());
    return trainer;
  };
  const drawChart = () => {
    $('chart').innerHTML = lossChartSvg(`${bundle.model.name}: train loss, batch ${B} × ${T} bytes`, [
      { name: 'train loss', color: '#1f77b4', points: losses.map((l, i) => [i + 1, l]) },
    ]);
  };

  /** Trains `steps` optimizer steps (on `fixed`, one batch, when given; else fresh random windows); returns their losses. */
  const train = async (steps, onStep = () => {}, fixed = null) => {
    const tr = await ensureTrainer();
    const out = [];
    const sched = {
      lr: opt.lr,
      warmup: recipe.schedule.warmup,
      min_lr: recipe.schedule.min_lr,
      kind: recipe.schedule.kind,
      steps: recipe.steps,
    };
    for (let i = 0; i < steps; i++) {
      step++;
      const { inputs, targets } = fixed ?? batch(nextBatch);
      const r = await tr.submitStep(step, inputs, targets, learningRate(Math.min(step - 1, recipe.steps), sched), optim);
      if (r.nonfinite) throw new Error(`step ${step}: the loss or a gradient is not finite`);
      out.push(r.loss);
      losses.push(r.loss);
      onStep(r);
    }
    // Sampling continues from the trained weights.
    model.runtime.writeWeights(await tr.state(false));
    return out;
  };

  const sampleOptions = () => ({
    maxTokens: Number($('max-tokens').value),
    temperature: Number($('temperature').value),
    topK: Number($('top-k').value),
    topP: Number($('top-p').value),
    seed: Number($('seed').value),
  });
  const sample = async (prompt, opts, onPiece = () => {}) => {
    let text = '';
    for await (const piece of model.generateText(prompt, opts)) {
      text += piece;
      onPiece(piece);
    }
    return text;
  };

  $('sample').onclick = async () => {
    $('sample').disabled = true;
    $('output').textContent = $('prompt').value;
    try {
      await sample($('prompt').value, sampleOptions(), (piece) => ($('output').textContent += piece));
    } catch (e) {
      $('output').textContent += `\n[error: ${e.message}]`;
    } finally {
      $('sample').disabled = false;
    }
  };
  $('train').onclick = async () => {
    $('train').disabled = true;
    const t0 = performance.now();
    try {
      await train(Number($('steps').value), (r) => {
        $('train-status').textContent =
          `step ${r.step}: loss ${r.loss.toFixed(4)} (${((performance.now() - t0) / r.step / 1000).toFixed(2)} s/step)`;
        drawChart();
      });
    } catch (e) {
      $('train-status').textContent = `error: ${e.message}`;
    } finally {
      $('train').disabled = false;
    }
  };

  window.mspec = {
    config: CONFIG,
    adapter: gpu.adapter,
    /** Logits of every position of `prompt` (row-major, tokens × vocab), as plain numbers. */
    logits: async (prompt) => {
      const ids = model.encode(prompt);
      return { ids, logits: Array.from(await model.forward(ids)) };
    },
    sample,
    /** `steps` steps on one fixed batch (seeded), so successive losses are comparable. */
    trainFixed: async (steps, seed = 1) => train(steps, () => drawChart(), batch(rng(seed))),
    train: (steps) => train(steps, () => drawChart()),
  };
  const a = gpu.adapter;
  setStatus(
    `ready: ${bundle.model.name} (${CONFIG.layers} layers, d_model ${CONFIG.d_model}, ${TinyBrowser.parameterCount} parameters) on ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'WebGPU'}`,
  );
  $('sample').disabled = false;
  $('train').disabled = false;
}

window.mspecReady = main().catch((e) => {
  setStatus(`error: ${e.message}`);
  throw e;
});
