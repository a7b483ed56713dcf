/**
 * `mspec train SPEC [--data … --tokenizer … --steps … --out DIR]` and `mspec train --resume DIR`.
 *
 * A run folder holds: config.json (the spec sources and the options, so --resume needs
 * nothing else), last.safetensors (weights; its metadata carries the spec), optimizer.safetensors
 * (AdamW moments), state.json (steps done and the data position), metrics.jsonl and loss.svg.
 * Every file is written atomically, state.json last, so an interrupted save keeps the previous
 * checkpoint whole. Batches depend only on (seed, step), the kernels are deterministic and the
 * optimizer state is saved exactly, so a resumed run continues the uninterrupted loss curve.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { compileForGpu, type SpecSources } from '../codegen/compile-model.js';
import { planModel } from '../passes/plan.js';
import { planTraining } from '../passes/train-plan.js';
import { compileFile, type CompiledModel } from '../index.js';
import type { ModelSpec, TrainSpec } from '../semantics/model.js';
import { allLayers } from '../semantics/model.js';
import { acquireDevice, GpuUnavailableError, type GpuContext } from '../../runtime/device.js';
import { CheckpointError, f32Tensor, readSafetensors, writeFileAtomic, writeSafetensors, asF32, type STTensor } from '../../runtime/checkpoint/safetensors.js';
import { ModelRuntime } from '../../runtime/model-runtime.js';
import { BatchSampler, evalBatches } from '../../runtime/data/batches.js';
import { prepareDataset } from '../../runtime/data/dataset.js';
import { DataError } from '../../runtime/data/source.js';
import { learningRate } from '../../runtime/train/schedule.js';
import { Trainer, type StepResult } from '../../runtime/train/trainer.js';
import { lossChartSvg } from '../../runtime/train/chart.js';
import { TokenizerError } from '../../runtime/tokenizers/index.js';
import { memoryHost } from './gpu-model.js';
import { printDiagnostics, splitTarget } from './output.js';
import { checkTrainSupport } from '../codegen/train-support.js';

export interface TrainArgs {
  target?: string | undefined;
  resume?: string | undefined;
  init?: string | undefined;
  out?: string | undefined;
  data?: string | undefined;
  tokenizer?: 'byte' | 'char' | 'gpt2' | undefined;
  steps?: number | undefined;
  batch?: number | undefined;
  seed?: number | undefined;
  evalEvery?: number | undefined;
  checkpointEvery?: number | undefined;
  prompt?: string | undefined;
  sampleTokens: number;
}

interface RunConfig {
  readonly sources: SpecSources;
  readonly model: string;
  readonly overrides: Omit<TrainArgs, 'target' | 'resume' | 'out' | 'init'>;
}

interface RunState {
  readonly step: number;
  readonly sampler: { seed: number; step: number };
  readonly elapsed_s: number;
}

class TrainError extends Error {}

export async function runTrain(args: TrainArgs): Promise<number> {
  try {
    return await train(args);
  } catch (e) {
    if (e instanceof TrainError || e instanceof DataError || e instanceof CheckpointError || e instanceof TokenizerError || e instanceof GpuUnavailableError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function train(args: TrainArgs): Promise<number> {
  // ── what to train ──
  let config: RunConfig;
  let dir: string;
  let resumeState: RunState | undefined;
  if (args.resume) {
    dir = args.resume;
    const cfgPath = join(dir, 'config.json');
    if (!existsSync(cfgPath)) throw new TrainError(`'${dir}' is not a run folder (no config.json); start a run with mspec train SPEC --out ${dir}`);
    config = JSON.parse(readFileSync(cfgPath, 'utf8')) as RunConfig;
    const statePath = join(dir, 'state.json');
    if (!existsSync(statePath)) throw new TrainError(`'${dir}' has no checkpoint yet (no state.json); start it again without --resume`);
    resumeState = JSON.parse(readFileSync(statePath, 'utf8')) as RunState;
    if (args.steps !== undefined && args.steps !== config.overrides.steps) {
      // Extending (or shortening) a run: the schedule is recomputed for the new length from here on.
      if (args.steps < resumeState.step) throw new TrainError(`the run in '${dir}' is already at step ${resumeState.step}; --steps must be at least that`);
      config = { ...config, overrides: { ...config.overrides, steps: args.steps } };
      writeFileAtomic(cfgPath, JSON.stringify(config, null, 2) + '\n');
    }
  } else {
    if (!args.target) throw new TrainError('name a spec to train (mspec train my.model) or a run to resume (mspec train --resume runs/exp1)');
    const { file, model } = splitTarget(args.target);
    const r = compileFile(file, { model, analyze: false });
    printDiagnostics(r.diagnostics, r.sources);
    if (r.diagnostics.some((d) => d.severity === 'error')) return 1;
    if (r.models.length !== 1) throw new TrainError(`${file} defines ${r.models.length} models; pick one with ${file}#${r.models[0]?.spec.name ?? 'name'}`);
    const { target: _t, resume: _r, out: _o, init: _i, ...overrides } = args;
    config = { sources: { entry: file, files: Object.fromEntries([...r.sources].map(([k, v]) => [k, v.text])) }, model: r.models[0]!.spec.name, overrides };
    dir = args.out ?? join('runs', config.model);
  }
  const compiled = compileFile(config.sources.entry, { model: config.model, host: memoryHost(config.sources.files) });
  printDiagnostics(compiled.diagnostics, compiled.sources);
  const m = compiled.models[0];
  if (!m?.ok || !m.graph) return 1;
  const spec = m.spec;
  const recipe = effectiveRecipe(spec, config.overrides);
  const support = checkTrainSupport(spec, recipe);
  if (support.hasErrors) {
    printDiagnostics(support.all, compiled.sources);
    return 1;
  }

  // ── data ──
  const data = prepareDataset({ data: recipe.data, tokenizer: recipe.tokenizer, specDir: dirname(config.sources.entry), valFraction: recipe.val_fraction });
  if (data.tokenizer.vocab > spec.vocab) {
    throw new TrainError(`the ${recipe.tokenizer} tokenizer of '${recipe.data}' has ${data.tokenizer.vocab} tokens but model ${spec.name} has vocab ${spec.vocab}; set vocab = tokenizer.vocab (or at least ${data.tokenizer.vocab}) in the spec`);
  }
  const B = recipe.batch;
  const T = recipe.seq_len;

  // ── device and plans ──
  const gpu = await acquireDevice();
  let trainer: Trainer | undefined;
  try {
    const sg = gpu.subgroupMinSize;
    const plans = {
      train: planTraining(spec, m.graph, { B, T, clip: recipe.clip, tuning: gpu.adapterClass, subgroupMinSize: sg }),
      eval: planModel(spec, m.graph, { mode: 'forward', B, T, tuning: gpu.adapterClass, subgroupMinSize: sg }),
    };
    const gpuModel = compileForGpu(spec, m.graph, config.sources, { tuning: gpu.adapterClass, subgroupMinSize: sg, tokenizer: data.tokenizer.toJSON() });
    if (!gpuModel.data) {
      printDiagnostics(gpuModel.diagnostics, compiled.sources);
      return 1;
    }
    trainer = await Trainer.create(gpu, gpuModel.data.params, plans);
    mkdirSync(dir, { recursive: true });
    const metricsPath = join(dir, 'metrics.jsonl');
    let start = 0;
    let elapsedBefore = 0;
    const metrics: Record<string, number>[] = [];
    if (resumeState) {
      trainer.setState(loadTensors(join(dir, 'last.safetensors')));
      trainer.setState(loadTensors(join(dir, 'optimizer.safetensors')));
      start = resumeState.step;
      elapsedBefore = resumeState.elapsed_s;
      if (existsSync(metricsPath)) {
        for (const line of readFileSync(metricsPath, 'utf8').split('\n')) {
          if (!line.trim()) continue;
          const rec = JSON.parse(line) as Record<string, number>;
          if (rec.step! <= start) metrics.push(rec);
        }
      }
      process.stderr.write(`resuming ${spec.name} from ${dir} at step ${start}/${recipe.steps}\n`);
    } else {
      writeFileAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
      if (args.init) {
        const file = readSafetensors(args.init);
        const probe = await ModelRuntime.create(gpuModel.data, { gpu });
        try {
          probe.setWeights(file, `--init checkpoint '${args.init}'`); // validates names and shapes with exact messages
        } finally {
          probe.release();
        }
        trainer.init(recipe.seed);
        trainer.setState(new Map([...file.tensors].map(([k, t]) => [k, asF32(t, k)])));
      } else trainer.init(recipe.seed);
    }
    writeFileAtomic(metricsPath, metrics.map((r) => JSON.stringify(r)).join('\n') + (metrics.length ? '\n' : ''));

    const sampler = resumeState ? BatchSampler.restore(data.train, { batch: B, seqLen: T, seed: recipe.seed, split: 'training split' }, resumeState.sampler) : new BatchSampler(data.train, { batch: B, seqLen: T, seed: recipe.seed, split: 'training split' });
    const valBatches = evalBatches(data.val, { batch: B, seqLen: T, count: recipe.eval.batches, split: 'validation split' });
    const o = recipe.optimizer;
    const optim = { lr: o.lr, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weight_decay };
    const sched = { lr: o.lr, warmup: recipe.schedule.warmup, min_lr: recipe.schedule.min_lr, kind: recipe.schedule.kind, steps: recipe.steps };

    const save = async (step: number, elapsed: number) => {
      const state = await trainer!.state(true);
      const weights = new Map<string, STTensor>();
      const moments = new Map<string, STTensor>();
      for (const p of gpuModel.data!.params) {
        weights.set(p.name, f32Tensor(p.shape, state.get(p.name)!));
        moments.set(`m:${p.name}`, f32Tensor(p.shape, state.get(`m:${p.name}`)!));
        moments.set(`v:${p.name}`, f32Tensor(p.shape, state.get(`v:${p.name}`)!));
      }
      const meta = { ...runtimeMetadata(gpuModel.data!), 'mspec.step': String(step) };
      writeSafetensors(join(dir, 'last.safetensors'), { tensors: weights, metadata: meta });
      writeSafetensors(join(dir, 'optimizer.safetensors'), { tensors: moments, metadata: { 'mspec.step': String(step) } });
      // Batches are a pure function of (seed, step): the data position is the steps done (the
      // sampler itself may already have drawn the batch of the step in flight).
      const st: RunState = { step, sampler: { seed: sampler.state.seed, step }, elapsed_s: elapsed };
      writeFileAtomic(join(dir, 'state.json'), JSON.stringify(st, null, 2) + '\n');
    };
    const chart = () => {
      const trainPts = metrics.filter((r) => r.loss !== undefined).map((r) => [r.step!, r.loss!] as const);
      const valPts = metrics.filter((r) => r.val_loss !== undefined).map((r) => [r.step!, r.val_loss!] as const);
      writeFileAtomic(join(dir, 'loss.svg'), lossChartSvg(`${spec.name}: ${recipe.tokenizer} tokens, batch ${B} × ${T}`, [
        { name: 'train loss', color: '#1f77b4', points: trainPts },
        { name: 'validation loss', color: '#d62728', points: valPts },
      ]));
    };

    // ── the loop ──
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      process.stderr.write('\ninterrupted: finishing the current step and saving a checkpoint (Ctrl-C again to quit without saving)\n');
    };
    process.on('SIGINT', onSigint);
    const tty = Boolean(process.stdout.isTTY);
    const bar = tty ? new SingleBar({ format: 'step {value}/{total} |{bar}| loss {loss} | {tps} tok/s | lr {lr} | ETA {eta_formatted}', hideCursor: true, etaBuffer: 20 }) : null;
    bar?.start(recipe.steps, start, { loss: '—', tps: '—', lr: '—' });
    const logEvery = Math.max(1, Math.floor(recipe.steps / 50));
    const t0 = Date.now();
    let lastGood = start;
    let inflight: Promise<StepResult> | null = null;
    let inflightLr = 0;
    let stepsTimed = 0;
    let nanAt: number | null = null;
    const finish = async (res: StepResult, lr: number) => {
      if (res.nonfinite) {
        nanAt = res.step;
        return;
      }
      stepsTimed++;
      const elapsed = (Date.now() - t0) / 1000;
      const tps = (stepsTimed * B * T) / Math.max(elapsed, 1e-9);
      const rec: Record<string, number> = { step: res.step, loss: res.loss, lr, grad_norm: res.gradNorm, tokens_per_s: Math.round(tps) };
      if (recipe.eval.every > 0 && (res.step % recipe.eval.every === 0 || res.step === recipe.steps)) {
        const val = await trainer!.evaluate(valBatches);
        rec.val_loss = val;
        rec.val_ppl = Math.exp(val);
        const msg = `step ${res.step}: validation loss ${val.toFixed(4)}, perplexity ${Math.exp(val).toFixed(2)}`;
        if (bar) bar.update(res.step, {}), process.stdout.write(`\n${msg}\n`);
        else process.stdout.write(`${msg}\n`);
      }
      metrics.push(rec);
      writeFileAtomic(metricsPath, metrics.map((r) => JSON.stringify(r)).join('\n') + '\n');
      if (bar) bar.update(res.step, { loss: res.loss.toFixed(4), tps: Math.round(tps), lr: lr.toExponential(2) });
      else if (res.step % logEvery === 0 || res.step === recipe.steps) process.stdout.write(`step ${res.step}/${recipe.steps} loss ${res.loss.toFixed(4)} lr ${lr.toExponential(2)} ${Math.round(tps)} tok/s\n`);
      if (recipe.checkpoint_every > 0 && res.step % recipe.checkpoint_every === 0) {
        await save(res.step, elapsedBefore + elapsed);
        lastGood = res.step;
      }
    };
    for (let step = start + 1; step <= recipe.steps && !interrupted && nanAt === null; step++) {
      const batch = sampler.next();
      const lr = learningRate(step - 1, sched);
      const next = trainer.submitStep(step, batch.inputs, batch.targets, lr, optim);
      if (inflight) await finish(await inflight, inflightLr);
      inflight = next;
      inflightLr = lr;
    }
    if (inflight) {
      if (nanAt === null) await finish(await inflight, inflightLr);
      else await inflight.catch(() => undefined); // let the step already queued drain before the device goes
    }
    bar?.stop();
    process.off('SIGINT', onSigint);
    if (nanAt !== null) {
      const where = lastGood > 0 || resumeState ? `the last good checkpoint is ${join(dir, 'last.safetensors')} (step ${lastGood})` : 'no checkpoint was saved before it';
      process.stderr.write(`error: the loss or the gradients became NaN/Inf at step ${nanAt}; training stopped and ${where}. Lower the learning rate (or raise warmup / clip) and resume or restart.\n`);
      chart();
      return 1;
    }
    const done = metrics.length ? metrics[metrics.length - 1]!.step! : start;
    await save(done, elapsedBefore + (Date.now() - t0) / 1000);
    chart();
    if (interrupted) {
      process.stderr.write(`saved ${join(dir, 'last.safetensors')} at step ${done}; continue with: mspec train --resume ${dir}\n`);
      return 130;
    }
    process.stdout.write(`saved ${join(dir, 'last.safetensors')} (step ${done}); metrics in ${metricsPath}, loss curve in ${join(dir, 'loss.svg')}\n`);

    // ── a sample from the trained model ──
    if (args.sampleTokens > 0) {
      const rt = await ModelRuntime.create(gpuModel.data, { gpu });
      try {
        rt.load(join(dir, 'last.safetensors'));
        const tok = rt.tokenizer!;
        const prompt = args.prompt ?? tok.decode(Array.from(data.val.subarray(0, 16)));
        process.stdout.write(`\nsample (temperature 0.8, seed ${recipe.seed}):\n${prompt}`);
        const out: number[] = [];
        let printed = '';
        for await (const id of rt.generate(tok.encode(prompt), { maxTokens: Math.min(args.sampleTokens, spec.context - tok.encode(prompt).length), temperature: 0.8, topK: 40, seed: recipe.seed })) {
          out.push(id);
          const text = tok.decode(out);
          const complete = text.endsWith('\uFFFD') ? text.slice(0, text.lastIndexOf('\uFFFD')) : text;
          if (complete.length > printed.length) {
            process.stdout.write(complete.slice(printed.length));
            printed = complete;
          }
        }
        process.stdout.write('\n');
      } finally {
        rt.release();
      }
    }
    return 0;
  } finally {
    trainer?.release();
    gpu.release();
  }
}

function runtimeMetadata(data: { name: string; mspecVersion: string; spec: { path: string; source: string; hash: string }; tokenizer: unknown }): Record<string, string> {
  return {
    format: 'pt',
    'mspec.version': data.mspecVersion,
    'mspec.model': data.name,
    'mspec.spec': data.spec.source,
    'mspec.spec_path': data.spec.path,
    'mspec.spec_sha256': data.spec.hash,
    ...(data.tokenizer ? { 'mspec.tokenizer': JSON.stringify(data.tokenizer) } : {}),
  };
}

function loadTensors(path: string): Map<string, Float32Array> {
  const f = readSafetensors(path);
  return new Map([...f.tensors].map(([k, t]) => [k, asF32(t, k)]));
}

export type Recipe = TrainSpec;

/** The spec's train section (or defaults) with the command-line overrides applied. */
function effectiveRecipe(spec: ModelSpec, o: RunConfig['overrides']): Recipe {
  const base: TrainSpec = spec.train ?? {
    data: 'moby-dick',
    tokenizer: 'char',
    objective: 'causal_lm',
    batch: 32,
    seq_len: spec.context,
    steps: 1000,
    tokens: 1000 * 32 * spec.context,
    accumulation: 1,
    optimizer: { kind: 'adamw', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01 },
    schedule: { kind: 'cosine', warmup: 0, min_lr: 1e-4 },
    clip: 1,
    eval: { every: 100, batches: 10 },
    checkpoint_every: 0,
    seed: 1337,
    dtype: 'f32',
    val_fraction: 0.1,
    mask_prob: 0.15,
  };
  const steps = o.steps ?? base.steps;
  return {
    ...base,
    ...(o.data ? { data: o.data } : {}),
    ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
    ...(o.batch ? { batch: o.batch } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    steps,
    schedule: { ...base.schedule, warmup: Math.min(base.schedule.warmup, Math.max(0, steps - 1)) },
    eval: { ...base.eval, every: o.evalEvery ?? (o.steps !== undefined ? Math.max(1, Math.floor(steps / 10)) : base.eval.every) },
    checkpoint_every: o.checkpointEvery ?? base.checkpoint_every,
  };
}

export { allLayers };
export type { CompiledModel, GpuContext };
