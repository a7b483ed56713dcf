#!/usr/bin/env node
/**
 * The `mspec` command line: yargs wiring only; each subcommand lives in its own file.
 * Exit codes: 0 ok, 1 errors found (or `diff`: models differ), 2 usage or I/O trouble,
 * 3 an internal error (a bug in mspec).
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { MSPEC_VERSION } from '../version.js';
import { inGpuChild, runInGpuChild } from './gpu-child.js';

/** Subcommands are imported when run, so `mspec check` does not load ts-morph or the GPU runtime. */
type Handler = () => number | Promise<number>;

async function guarded(run: Handler): Promise<void> {
  try {
    process.exitCode = await run();
  } catch (e) {
    const err = e as Error;
    process.stderr.write(
      `error MS9001: internal compiler error: ${err?.message ?? String(e)}\n` +
        '  this is a bug in mspec, not in your spec; please report it with the spec and this trace:\n' +
        `${(err?.stack ?? '').split('\n').slice(1, 6).join('\n')}\n`,
    );
    process.exitCode = 3;
  }
}

const sizeOptions = (y: Argv) =>
  y
    .option('batch', { type: 'number', describe: 'batch size for the training-memory estimate (default: the train section, or 1)' })
    .option('seq', { type: 'number', describe: 'sequence length for the training-memory estimate (default: train seq_len or context)' });

export function cli(argv: string[]): Argv {
  return yargs(argv)
    .scriptName('mspec')
    .usage('$0 <command> [options]\n\nA declarative model-spec compiler for transformer language models.')
    .command(
      'check <files..>',
      'check .model files and report every diagnostic',
      (y) => y.positional('files', { type: 'string', array: true, demandOption: true, describe: '.model files (file.model#name for one model)' }).option('json', { type: 'boolean', default: false, describe: 'machine-readable diagnostics' }),
      (a) => guarded(async () => (await import('./check.js')).runCheck({ files: a.files as string[], json: a.json })),
    )
    .command(
      'info <target>',
      'parameters, FLOPs, KV cache and memory of each model in a file',
      (y) => sizeOptions(y.positional('target', { type: 'string', demandOption: true, describe: 'file.model or file.model#name' }).option('json', { type: 'boolean', default: false })),
      (a) => guarded(async () => (await import('./info.js')).runInfo({ target: a.target as string, json: a.json as boolean, batch: a.batch, seq: a.seq })),
    )
    .command(
      'diff <a> <b>',
      'compare two resolved models: knobs and cost deltas (exit 0 identical, 1 different)',
      (y) =>
        sizeOptions(
          y
            .positional('a', { type: 'string', demandOption: true, describe: 'file.model or file.model#name' })
            .positional('b', { type: 'string', demandOption: true, describe: 'file.model or file.model#name' })
            .option('json', { type: 'boolean', default: false }),
        ),
      (a) => guarded(async () => (await import('./diff.js')).runDiff({ a: a.a as string, b: a.b as string, json: a.json as boolean, batch: a.batch, seq: a.seq })),
    )
    .command(
      'fmt <files..>',
      'print the canonical form of .model files (or --write / --check)',
      (y) =>
        y
          .positional('files', { type: 'string', array: true, demandOption: true })
          .option('write', { type: 'boolean', describe: 'rewrite the files in place' })
          .option('check', { type: 'boolean', describe: 'exit 1 if a file is not formatted' })
          .conflicts('write', 'check'),
      (a) => guarded(async () => (await import('./fmt.js')).runFmt({ files: a.files as string[], write: a.write ?? false, check: a.check ?? false })),
    )
    .command(
      'build <target>',
      'generate WGSL kernels, a TypeScript module and a manifest for each model',
      (y) =>
        y
          .positional('target', { type: 'string', demandOption: true, describe: 'file.model or file.model#name' })
          .option('out', { alias: 'o', type: 'string', default: 'out', describe: 'output folder (one subfolder per model)' })
          .option('explain', { type: 'boolean', default: false, describe: 'print the fused-kernel plan' })
          .option('tuning', { choices: ['auto', 'cpu', 'gpu'] as const, default: 'auto' as const, describe: "kernel tuning: 'cpu' for software adapters (lavapipe), 'gpu' otherwise; auto asks the adapter" })
          .option('runtime-import', { type: 'string', default: 'mspec/runtime', describe: 'module specifier the generated module imports the runtime from' }),
      (a) => guarded(async () => inGpuChild() ? (await import('./build.js')).runBuild({ target: a.target as string, out: a.out, explain: a.explain, tuning: a.tuning, runtimeImport: a['runtime-import'] }) : runInGpuChild()),
    )
    .command(
      'sample <target>',
      'generate text from a spec (seeded init) or a checkpoint (.safetensors), streaming tokens',
      (y) =>
        y
          .positional('target', { type: 'string', demandOption: true, describe: 'file.model[#name] or a .safetensors checkpoint' })
          .option('prompt', { type: 'string', default: '', describe: 'text to continue' })
          .option('max-tokens', { type: 'number', default: 100 })
          .option('temperature', { type: 'number', default: 1, describe: '0 = greedy' })
          .option('top-k', { type: 'number', default: 0, describe: 'keep the k most likely tokens (0 = all)' })
          .option('top-p', { type: 'number', default: 1, describe: 'nucleus sampling threshold' })
          .option('seed', { type: 'number', default: 0 })
          .option('stop', { type: 'string', array: true, default: [] as string[], describe: 'stop after this string (repeatable)' })
          .option('slide', { type: 'boolean', default: false, describe: 'at the context limit keep the last half of the window instead of stopping' }),
      (a) =>
        guarded(async () =>
          !inGpuChild() ? runInGpuChild() : (await import('./sample.js')).runSample({ target: a.target as string, prompt: a.prompt, maxTokens: a['max-tokens'], temperature: a.temperature, topK: a['top-k'], topP: a['top-p'], seed: a.seed, stop: a.stop as string[], slide: a.slide }),
        ),
    )
    .command(
      'train [target]',
      'train a model on WebGPU from its spec (or --resume a run), with eval, checkpoints and a sample',
      (y) =>
        y
          .positional('target', { type: 'string', describe: 'file.model or file.model#name' })
          .option('resume', { type: 'string', describe: 'continue the run in this folder exactly where it stopped' })
          .option('out', { type: 'string', describe: 'run folder (default runs/<model>)' })
          .option('init', { type: 'string', describe: 'start from the weights of this checkpoint (fine-tuning)' })
          .option('data', { type: 'string', describe: 'built-in corpus (moby-dick), text file, folder of text files, or .bin token file' })
          .option('tokenizer', { choices: ['byte', 'char', 'gpt2'] as const })
          .option('steps', { type: 'number' })
          .option('batch', { type: 'number' })
          .option('seed', { type: 'number' })
          .option('eval-every', { type: 'number', describe: 'validation every N steps' })
          .option('checkpoint-every', { type: 'number', describe: 'checkpoint every N steps (always at the end and on Ctrl-C)' })
          .option('prompt', { type: 'string', describe: 'prompt for the sample printed at the end' })
          .option('sample-tokens', { type: 'number', default: 200, describe: 'tokens to sample at the end (0 = none)' })
          .check((a) => {
            if (!a.target && !a.resume) throw new Error('name a spec to train, or --resume a run folder');
            if (a.target && a.resume) throw new Error('give either a spec or --resume, not both');
            if (a.resume && (a.data || a.tokenizer || a.batch || a.seed !== undefined || a.init)) throw new Error('--resume continues a run with its own data, tokenizer, batch and seed; only --steps, --eval-every and --checkpoint-every may change');
            return true;
          }),
      (a) =>
        guarded(async () =>
          !inGpuChild()
            ? runInGpuChild()
            : (await import('./train.js')).runTrain({
                target: a.target, resume: a.resume, out: a.out, init: a.init, data: a.data, tokenizer: a.tokenizer, steps: a.steps, batch: a.batch, seed: a.seed,
                evalEvery: a['eval-every'], checkpointEvery: a['checkpoint-every'], prompt: a.prompt, sampleTokens: a['sample-tokens'],
              }),
        ),
    )
    .demandCommand(1, 'name a command: check, info, diff, fmt, build, sample or train')
    .strict()
    .recommendCommands()
    .version(MSPEC_VERSION)
    .help()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`error: ${msg}\nrun 'mspec --help' for usage\n`);
      process.exit(2);
    });
}

await cli(hideBin(process.argv)).parseAsync();
