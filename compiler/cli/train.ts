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
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compileForGpu, type SpecSources } from '../codegen/compile-model.js';
import { planModel } from '../passes/plan.js';
import { planTraining } from '../passes/train-plan.js';
import { compileFile, type CompiledModel } from '../index.js';
import type { ModelSpec, TrainSpec } from '../semantics/model.js';
import { allLayers } from '../semantics/model.js';
import { acquireDevice, GpuUnavailableError, type GpuContext } from '../../runtime/device.js';
import { CheckpointError, writeFileAtomic } from '../../runtime/checkpoint/safetensors.js';
import { prepareDataset } from '../../runtime/data/dataset.js';
import { DataError } from '../../runtime/data/source.js';
import { runTraining, type RunState } from '../../runtime/train/run.js';
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
  try {
    const sg = gpu.subgroupMinSize;
    const plans = {
      train: planTraining(spec, m.graph, { B, T, clip: recipe.clip, accumulation: recipe.accumulation, tuning: gpu.adapterClass, subgroupMinSize: sg }),
      eval: planModel(spec, m.graph, { mode: 'forward', B, T, tuning: gpu.adapterClass, subgroupMinSize: sg }),
    };
    const gpuModel = compileForGpu(spec, m.graph, config.sources, { tuning: gpu.adapterClass, subgroupMinSize: sg, tokenizer: data.tokenizer.toJSON() });
    if (!gpuModel.data) {
      printDiagnostics(gpuModel.diagnostics, compiled.sources);
      return 1;
    }
    return await runTraining({ gpu, model: gpuModel.data, plans, recipe, dataset: data, dir, config, ...(resumeState ? { resume: resumeState } : {}), ...(args.init ? { init: args.init } : {}), ...(args.prompt !== undefined ? { prompt: args.prompt } : {}), sampleTokens: args.sampleTokens });
  } finally {
    gpu.release();
  }
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
