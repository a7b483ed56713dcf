/**
 * The command line of a trainer `mspec build` generates (`node train.js …` beside its
 * train-plan.json): the loop, run-folder rules, option ranges and error reporting of
 * `mspec train`, so the generated script is one call and a wrong input is a one-line error
 * (exit 2 for usage, 1 for data, checkpoints or the GPU), never a stack trace.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { acquireDevice } from '../device.js';
import { commandLineData } from '../data/data-arg.js';
import { prepareDataset } from '../data/dataset.js';
import { preparePairs } from '../data/pairs-dataset.js';
import { checkRange, RANGES } from '../option-ranges.js';
import type { CompiledModelData } from '../model-runtime.js';
import { isUserError } from '../user-error.js';
import type { TrainPlans } from './trainer.js';
import { heldRun, readRunState } from './checkpoint.js';
import { runTraining, type TrainRecipe } from './run.js';

/** What `mspec build` writes to train-plan.json. */
export interface TrainBundle {
  readonly model: CompiledModelData;
  readonly plans: TrainPlans;
  readonly recipe: TrainRecipe & { readonly val_fraction: number; readonly tokenizer: 'byte' | 'char' | 'gpt2' };
  /** The spec's folder: the recipe's relative `data` path is resolved from it. */
  readonly specDir: string;
}

export const GENERATED_TRAINER_USAGE =
  'node train.js [--out DIR] [--overwrite] [--steps N] [--data PATH] [--resume] [--prompt TEXT] [--sample-tokens N]';

const OPTIONS = {
  out: { type: 'string' },
  resume: { type: 'boolean' },
  overwrite: { type: 'boolean' },
  steps: { type: 'string' },
  data: { type: 'string' },
  'sample-tokens': { type: 'string' },
  prompt: { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** Runs the generated trainer on `argv` (process.argv.slice(2)); returns the exit code. */
export async function runGeneratedTrainer(bundle: TrainBundle, argv: readonly string[]): Promise<number> {
  let args: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
  let steps: number | undefined;
  let sampleTokens: number | undefined;
  try {
    args = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
    steps = checkRange('steps', RANGES.steps, args.steps);
    sampleTokens = checkRange('sample-tokens', RANGES.sampleTokens, args['sample-tokens']);
    if (args.resume && args.overwrite) throw new Error('--overwrite starts a new run; --resume continues one: give one of them');
    if (args.resume && args.data !== undefined) throw new Error('--resume continues a run with its own data; leave out --data');
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\nusage: ${GENERATED_TRAINER_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`usage: ${GENERATED_TRAINER_USAGE}\n`);
    return 0;
  }
  try {
    return await train(bundle, args, steps, sampleTokens);
  } catch (e) {
    if (!isUserError(e)) throw e;
    process.stderr.write(`error: ${e.message}\n`);
    return 1;
  }
}

async function train(
  bundle: TrainBundle,
  args: { out?: string; resume?: boolean; overwrite?: boolean; data?: string; prompt?: string },
  steps: number | undefined,
  sampleTokens: number | undefined,
): Promise<number> {
  const dir = args.out ?? join('runs', bundle.model.name);
  const data = args.data === undefined ? undefined : commandLineData(args.data);
  const recipe: TrainRecipe = { ...bundle.recipe, ...(steps !== undefined ? { steps } : {}), ...(data !== undefined ? { data } : {}) };
  // The checkpoint (optimizer.safetensors) is the run state, as for `mspec train --resume`:
  // a kill between its files still resumes exactly, and the schedule keeps its first length.
  const resume = args.resume ? (readRunState(dir) ?? undefined) : undefined;
  if (args.resume && !resume) {
    process.stderr.write(`error: nothing to resume in ${dir} (no checkpoint yet); run without --resume\n`);
    return 1;
  }
  // As `mspec train`: a new run never replaces an earlier one's checkpoints unless asked to.
  const replace = !args.resume && heldRun(dir) !== null;
  if (replace && !args.overwrite) {
    process.stderr.write(`error: ${dir} already holds a run; continue it with --resume, or start over with --overwrite\n`);
    return 1;
  }
  // seq2seq reads (source, target) pairs with the build's tokenizer ([PAD] and [EOS] included).
  const common = {
    data: recipe.data,
    tokenizer: bundle.recipe.tokenizer,
    specDir: bundle.specDir,
    valFraction: bundle.recipe.val_fraction,
  };
  const fixed = bundle.model.tokenizer;
  const dataset =
    recipe.objective === 'seq2seq'
      ? preparePairs({ ...common, limits: { S: bundle.model.context, T: recipe.seq_len }, ...(fixed ? { fixed } : {}) })
      : prepareDataset({ ...common, specials: fixed?.specials ?? [] });
  const gpu = await acquireDevice();
  try {
    return await runTraining({
      gpu,
      model: bundle.model,
      plans: bundle.plans,
      recipe,
      dataset,
      dir,
      replace,
      config: { trainer: 'generated', model: bundle.model.name, recipe },
      ...(resume ? { resume } : {}),
      ...(args.prompt !== undefined ? { prompt: args.prompt } : {}),
      sampleTokens: sampleTokens ?? 200,
    });
  } finally {
    gpu.release();
  }
}
