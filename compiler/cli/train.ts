/**
 * `mspec train SPEC [--data … --tokenizer … --steps … --out DIR]` and `mspec train --resume DIR`.
 *
 * A run folder holds: config.json (the spec sources, the options, the schedule length and the
 * tokenizer, so --resume needs nothing else) and the checkpoint files of runtime/train/run.ts.
 * Batches depend only on (seed, step), the kernels are deterministic and the optimizer state is
 * saved exactly, so a resumed run continues the uninterrupted loss curve.
 *
 * `vocab = tokenizer.vocab` follows the data actually trained on: the spec is compiled once to
 * read its recipe, the data is tokenised, and the spec is compiled again with that tokenizer's
 * vocabulary. With --init, a char or byte tokenizer is the checkpoint's own (its metadata
 * `mspec.tokenizer`), since the embedding rows belong to its ids.
 */
import { isUserError } from '../../runtime/user-error.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compileForGpu, unboundable, type SpecSources } from '../schedule/compile-model.js';
import { planModel } from '../schedule/plan.js';
import { planTraining } from '../schedule/train-plan.js';
import { DispatchLimitError } from '../codegen/wgsl/matmul.js';
import { diagnostic } from '../diagnostics/diagnostic.js';
import { bindingLimitsOf } from '../../runtime/gpu/limits.js';
import { compileFile, type CompiledModel } from '../index.js';
import type { ModelSpec, TrainSpec } from '../semantics/model.js';
import { allLayers } from '../semantics/model.js';
import { acquireDevice, type GpuContext } from '../../runtime/device.js';
import { readSafetensorsMetadata, writeFileAtomic } from '../../runtime/checkpoint/safetensors.js';
import { commandLineData } from '../../runtime/data/data-arg.js';
import { prepareDataset } from '../../runtime/data/dataset.js';
import { preparePairs } from '../../runtime/data/pairs-dataset.js';
import { runTraining } from '../../runtime/train/run.js';
import { heldRun, readRunState, STATE_FILE, type RunState } from '../../runtime/train/checkpoint.js';
import { MASK_TOKEN, MLM_SPECIALS, type TokenizerData } from '../../runtime/tokenizers/index.js';
import { parseTokenizerData } from '../../runtime/tokenizers/load.js';
import type { Host } from '../semantics/resolve.js';
import { memoryHost } from './checkpoint-spec.js';
import { nodeHost } from '../semantics/node-host.js';
import { printDiagnostics, splitTarget } from './output.js';
import { checkTrainSupport } from '../codegen/train-support.js';
import type { LicenseInfo } from '../semantics/licenses.js';
import { licenseMetadata, runLicense } from './train-license.js';

export interface TrainArgs {
  target?: string | undefined;
  resume?: string | undefined;
  init?: string | undefined;
  out?: string | undefined;
  /** Start over in an --out folder that already holds a run (without it, that is an error: work is never replaced silently). */
  overwrite?: boolean | undefined;
  data?: string | undefined;
  tokenizer?: 'byte' | 'char' | 'gpt2' | undefined;
  steps?: number | undefined;
  batch?: number | undefined;
  seed?: number | undefined;
  evalEvery?: number | undefined;
  /** Validation batches per evaluation (default: the train section's, else 10). */
  evalBatches?: number | undefined;
  checkpointEvery?: number | undefined;
  prompt?: string | undefined;
  sampleTokens: number;
}

interface RunConfig {
  readonly sources: SpecSources;
  readonly model: string;
  readonly overrides: Omit<TrainArgs, 'target' | 'resume' | 'out' | 'init' | 'overwrite'>;
  /** The learning-rate schedule's length, fixed when the run started (absent in older runs). */
  readonly schedule_steps?: number;
  /** The tokenizer the run trains with (absent in older runs: rebuilt from the data). */
  readonly tokenizer?: TokenizerData;
  /** The license the weights are bound by, fixed when the run started (train-license.ts; absent in older runs). */
  readonly license?: LicenseInfo | null;
}

/** What `tokenizer.vocab` resolves to while the data is not read yet (only the recipe is used). */
const VOCAB_PLACEHOLDER = 256;

class TrainError extends Error {}

/** The plans, or the dispatch limit a batch too large for one dispatch runs into (reported as MS4002). */
function plansOrLimit<P>(make: () => P): P | DispatchLimitError {
  try {
    return make();
  } catch (e) {
    if (e instanceof DispatchLimitError) return e;
    throw e;
  }
}

export async function runTrain(args: TrainArgs): Promise<number> {
  try {
    return await train(args);
  } catch (e) {
    if (e instanceof TrainError || isUserError(e)) {
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
  let replace = false; // --overwrite over a held run: cleared when the new run is accepted (runTraining)
  let resumeState: RunState | undefined;
  let startSteps: number | undefined; // --steps when the run started (undefined: the spec's)
  if (args.resume) {
    dir = args.resume;
    const cfgPath = join(dir, 'config.json');
    if (!existsSync(cfgPath))
      throw new TrainError(`'${dir}' is not a run folder (no config.json); start a run with mspec train SPEC --out ${dir}`);
    config = readConfig(cfgPath);
    const saved = readRunState(dir);
    if (!saved) throw new TrainError(`'${dir}' has no checkpoint yet (no optimizer.safetensors); start it again without --resume`);
    resumeState = existsSync(join(dir, STATE_FILE)) ? (JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as RunState) : saved;
    startSteps = config.overrides.steps;
    const changed: Partial<RunConfig['overrides']> = {};
    if (args.steps !== undefined && args.steps !== config.overrides.steps) {
      if (args.steps < saved.step)
        throw new TrainError(`the run in '${dir}' is already at step ${saved.step}; --steps must be at least that`);
      changed.steps = args.steps;
    }
    if (args.evalEvery !== undefined) changed.evalEvery = args.evalEvery;
    if (args.evalBatches !== undefined) changed.evalBatches = args.evalBatches;
    if (args.checkpointEvery !== undefined) changed.checkpointEvery = args.checkpointEvery;
    config = { ...config, overrides: { ...config.overrides, ...changed } };
  } else {
    if (!args.target)
      throw new TrainError('name a spec to train (mspec train my.model) or a run to resume (mspec train --resume runs/exp1)');
    const { file, model } = splitTarget(args.target);
    const r = compileFile(file, { model, analyze: false, host: { ...nodeHost, charVocab: () => VOCAB_PLACEHOLDER } });
    if (r.diagnostics.some((d) => d.severity === 'error')) {
      printDiagnostics(r.diagnostics, r.sources);
      return 1;
    }
    if (r.models.length !== 1)
      throw new TrainError(`${file} defines ${r.models.length} models; pick one with ${file}#${r.models[0]?.spec.name ?? 'name'}`);
    const { target: _t, resume: _r, out: _o, init: _i, overwrite: _w, ...overrides } = args;
    if (overrides.data !== undefined) overrides.data = commandLineData(overrides.data);
    config = {
      sources: { entry: file, files: Object.fromEntries([...r.sources].map(([k, v]) => [k, v.text])) },
      model: r.models[0]!.spec.name,
      overrides,
    };
    dir = args.out ?? join('runs', config.model);
    startSteps = args.steps;
    // A new run never replaces an earlier one silently; --overwrite clears it first.
    const held = heldRun(dir);
    if (held && !args.overwrite)
      throw new TrainError(
        `'${dir}' already holds a run${held.step ? ` at step ${held.step}` : ''} (${held.files.join(', ')}); continue it with ` +
          `mspec train --resume ${dir}, train into another folder with --out, or start over there with --overwrite`,
      );
    replace = held !== null;
  }
  const files = memoryHost(config.sources.files);
  const first = compileFile(config.sources.entry, {
    model: config.model,
    analyze: false,
    host: { ...files, charVocab: () => VOCAB_PLACEHOLDER },
  });
  const firstSpec = first.models[0]?.spec;
  if (!firstSpec || first.diagnostics.some((d) => d.severity === 'error')) {
    printDiagnostics(first.diagnostics, first.sources);
    return 1;
  }
  // The schedule keeps the length the run started with (runs from before it was recorded: their
  // steps at the start, which the resume above has not changed yet).
  const scheduleSteps = config.schedule_steps ?? startSteps ?? firstSpec.train?.steps ?? DEFAULT_STEPS;
  if (args.resume) {
    config = { ...config, schedule_steps: scheduleSteps };
    writeFileAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  }
  const recipe = effectiveRecipe(firstSpec, config.overrides, scheduleSteps);

  // ── data: the tokenizer (a resumed run's own, or an --init checkpoint's) and its vocabulary ──
  const fixed = config.tokenizer
    ? { tokenizer: config.tokenizer, from: `the run in '${dir}'` }
    : args.init
      ? initTokenizer(args.init, recipe.tokenizer)
      : undefined;
  // seq2seq trains on (source, target) pairs: a pairs file or a built-in task (runtime/data/pairs*.ts).
  const data =
    recipe.objective === 'seq2seq'
      ? preparePairs({
          data: recipe.data,
          tokenizer: recipe.tokenizer,
          specDir: dirname(config.sources.entry),
          valFraction: recipe.val_fraction,
          limits: { S: firstSpec.context, T: recipe.seq_len },
          ...(fixed ? { fixed: fixed.tokenizer } : {}),
        })
      : prepareDataset({
          data: recipe.data,
          tokenizer: recipe.tokenizer,
          specDir: dirname(config.sources.entry),
          valFraction: recipe.val_fraction,
          ...(fixed ? { fixed } : {}),
          // A masked LM's tokenizer carries [MASK] after the ordinary ids (`vocab = tokenizer.vocab` counts it).
          specials: recipe.objective === 'mlm' ? MLM_SPECIALS : [],
        });
  if (!args.resume) {
    config = { ...config, schedule_steps: scheduleSteps, tokenizer: data.tokenizer.toJSON() };
  } else if (args.steps !== undefined && recipe.schedule.kind !== 'constant' && args.steps !== scheduleSteps) {
    const after =
      args.steps > scheduleSteps
        ? `from step ${scheduleSteps} on it holds min_lr ${recipe.schedule.min_lr}`
        : `it will stop before reaching min_lr`;
    process.stderr.write(
      `note: the run now ends at step ${args.steps}, but its learning-rate schedule keeps the length it started with (${scheduleSteps} steps, so the rate stays continuous): ${after}\n`,
    );
  }
  // The characters only: a masked LM's [MASK] is added by `tokenizer.vocab` itself (semantics).
  const host: Host = { ...files, charVocab: () => data.tokenizer.ordinary };
  const compiled = compileFile(config.sources.entry, { model: config.model, host });
  printDiagnostics(compiled.diagnostics, compiled.sources);
  const m = compiled.models[0];
  if (!m?.ok || !m.graph) return 1;
  const spec = m.spec;
  const support = checkTrainSupport(spec, recipe);
  if (support.hasErrors) {
    printDiagnostics(support.all, compiled.sources);
    return 1;
  }
  // Padding columns (vocab_multiple) are no token: the real vocabulary must hold the tokenizer's.
  if (data.tokenizer.vocab > spec.vocab_raw) {
    const specials =
      data.tokenizer.mask !== null ? ` (${data.tokenizer.ordinary} ordinary + ${MASK_TOKEN}, which objective = mlm adds)` : '';
    const message = `the ${recipe.tokenizer} tokenizer of '${recipe.data}' has ${data.tokenizer.vocab} tokens${specials} but model ${spec.name} has vocab ${spec.vocab_raw}`;
    const hint = `set vocab = tokenizer.vocab (or at least ${data.tokenizer.vocab}) in the spec`;
    // At the vocab knob, where the fix goes.
    printDiagnostics(
      [{ code: 'MS5002', severity: 'error', message, span: spec.knobs.get('vocab')?.span ?? spec.span, hint }],
      compiled.sources,
    );
    return 1;
  }
  // ── the license the weights are bound by: the spec's, or a fine-tune's --init checkpoint's ──
  const lic = config.license !== undefined ? { license: config.license, notes: [] } : runLicense(spec, args.init);
  for (const n of lic.notes) process.stderr.write(`note: ${n}\n`);
  config = { ...config, license: lic.license };
  const B = recipe.batch;
  const T = recipe.seq_len;

  // ── device and plans ──
  const gpu = await acquireDevice();
  try {
    const sg = gpu.subgroupMinSize;
    const limits = bindingLimitsOf(gpu.limits);
    // Tensors over the binding limit (a large token table, LM head, logits) are bound in chunks.
    const bind = { maxBinding: limits.maxStorageBufferBindingSize, bindAlign: limits.minStorageBufferOffsetAlignment };
    const graph = m.graph; // narrowed above; the closure below would lose that
    const plans = plansOrLimit(() => ({
      train: planTraining(spec, graph, {
        B,
        T,
        clip: recipe.clip,
        accumulation: recipe.accumulation,
        tuning: gpu.adapterClass,
        subgroupMinSize: sg,
        ...bind,
        // The multi-tensor AdamW binds as many parameters per dispatch as the device allows.
        maxStorageBuffers: gpu.limits.maxStorageBuffersPerShaderStage,
      }),
      eval: planModel(spec, graph, { mode: 'forward', B, T, tuning: gpu.adapterClass, subgroupMinSize: sg, ...bind }),
    }));
    if (plans instanceof DispatchLimitError) {
      printDiagnostics([diagnostic('MS4002', spec.span, plans.problem, { hint: plans.problem.hint })], compiled.sources);
      return 1;
    }
    const gpuModel = compileForGpu(spec, m.graph, config.sources, {
      tuning: gpu.adapterClass,
      subgroupMinSize: sg,
      tokenizer: data.tokenizer.toJSON(),
      limits,
    });
    if (!gpuModel.data) {
      printDiagnostics(gpuModel.diagnostics, compiled.sources);
      return 1;
    }
    // Refuse what the device cannot bind even in chunks before running.
    for (const plan of [plans.train, plans.eval]) {
      const problem = unboundable(plan, limits);
      if (problem) {
        printDiagnostics([diagnostic('MS4002', spec.span, problem, { hint: problem.hint })], compiled.sources);
        return 1;
      }
    }
    return await runTraining({
      gpu,
      model: gpuModel.data,
      plans,
      recipe,
      dataset: data,
      dir,
      config,
      scheduleSteps,
      replace,
      ...(resumeState ? { resume: resumeState } : {}),
      ...(args.init ? { init: args.init } : {}),
      metadata: licenseMetadata(lic.license),
      ...(args.prompt !== undefined ? { prompt: args.prompt } : {}),
      sampleTokens: args.sampleTokens,
    });
  } finally {
    gpu.release();
  }
}

/**
 * The tokenizer an --init checkpoint was trained with: its embedding rows are that
 * tokenizer's ids, so fine-tuning must encode the new text the same way.
 */
function initTokenizer(path: string, kind: TrainSpec['tokenizer']): { tokenizer: TokenizerData; from: string } | undefined {
  const stored = readSafetensorsMetadata(path)['mspec.tokenizer'];
  const from = `the --init checkpoint '${path}'`;
  if (stored) return { tokenizer: parseTokenizerData(stored), from };
  if (kind === 'char')
    throw new TrainError(
      `${from} records no tokenizer (no mspec.tokenizer metadata), so the character vocabulary its embedding was trained with is unknown; fine-tune it with --tokenizer byte or gpt2 if it used one of those, or train from scratch without --init`,
    );
  return undefined; // byte and gpt2 ids do not depend on the data
}

const DEFAULT_STEPS = 1000;

function readConfig(path: string): RunConfig {
  let v: Partial<RunConfig>;
  try {
    v = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunConfig>;
  } catch (e) {
    throw new TrainError(
      `${path} is not valid JSON (${(e as Error).message}); the run folder is damaged: start the run again without --resume`,
    );
  }
  if (
    !v ||
    typeof v !== 'object' ||
    !v.sources?.entry ||
    typeof v.sources.files !== 'object' ||
    typeof v.model !== 'string' ||
    typeof v.overrides !== 'object'
  ) {
    throw new TrainError(
      `${path} lacks the spec sources, model or options that --resume needs (was it written by 'mspec train'? a trainer from 'mspec build' resumes with: node train.js --resume); start the run again without --resume`,
    );
  }
  return v as RunConfig;
}

export type Recipe = TrainSpec;

/**
 * The spec's train section (or defaults) with the command-line overrides applied. `--steps`
 * changes only the length of the run: evaluation keeps the spec's (or --eval-every's) period.
 */
function effectiveRecipe(spec: ModelSpec, o: RunConfig['overrides'], scheduleSteps: number): Recipe {
  const base: TrainSpec = spec.train ?? {
    data: 'moby-dick',
    tokenizer: 'char',
    objective: 'causal_lm',
    batch: 32,
    seq_len: spec.context,
    steps: DEFAULT_STEPS,
    tokens: DEFAULT_STEPS * 32 * spec.context,
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
    schedule: { ...base.schedule, warmup: Math.min(base.schedule.warmup, Math.max(0, scheduleSteps - 1)) },
    // Without a train section there is no period to keep: a tenth of the run (100 by default).
    eval: {
      every: o.evalEvery ?? (spec.train ? base.eval.every : Math.max(1, Math.floor(steps / 10))),
      batches: o.evalBatches ?? base.eval.batches,
    },
    checkpoint_every: o.checkpointEvery ?? base.checkpoint_every,
  };
}

export { allLayers };
export type { CompiledModel, GpuContext };
