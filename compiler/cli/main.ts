#!/usr/bin/env node
/**
 * The `mspec` command line: yargs wiring only; each subcommand lives in its own file.
 * Exit codes: 0 ok, 1 errors found (or `diff`: models differ), 2 usage or I/O trouble,
 * 3 an internal error (a bug in mspec).
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { MSPEC_VERSION } from '../version.js';
import { DispatchLimitError } from '../codegen/wgsl/matmul.js';
import { CheckpointError } from '../../runtime/checkpoint/safetensors.js';
import { inGpuChild, runInGpuChild } from './gpu-child.js';
import { RANGES, ranged } from './ranges.js';
import { DEFAULT_PROFILE_BATCH, PROFILE_RANGES } from './profile-options.js';

/** Subcommands are imported when run, so `mspec check` does not load ts-morph or the GPU runtime. */
type Handler = () => number | Promise<number>;

const FS_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EEXIST: 'it already exists',
};

async function guarded(run: Handler): Promise<void> {
  try {
    process.exitCode = await run();
  } catch (e) {
    // A shape too large for one dispatch (a huge batch in a spec's train section or on the
    // command line) is a device limit, not a bug: every command that plans says so the same way.
    if (e instanceof DispatchLimitError) {
      process.stderr.write(
        `error MS4002: the device limit ${e.problem.limit} (${e.problem.have}) is too small: ${e.problem.needs}\n  hint: ${e.problem.hint}\n`,
      );
      process.exitCode = 1;
      return;
    }
    // A checkpoint that is missing, damaged or not a run's weights: its message says which and what to use.
    if (e instanceof CheckpointError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    // A file the system would not let us read or write (a file where a folder belongs, no
    // permission, a full disk) is the machine's state, not a bug: say which path and why.
    const fsError = e as NodeJS.ErrnoException;
    if (typeof fsError?.code === 'string' && typeof fsError.path === 'string' && fsError.code in FS_REASONS) {
      process.stderr.write(`error: cannot use '${fsError.path}': ${FS_REASONS[fsError.code]}\n`);
      process.exitCode = 1;
      return;
    }
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
    .option('batch', ranged('batch', RANGES.batch, 'batch size for the training-memory estimate (default: the train section, or 1)'))
    .option(
      'seq',
      ranged(
        'seq',
        RANGES.seq,
        "sequence length for the training-memory estimate, at most the model's context (default: train seq_len or context)",
      ),
    );

export function cli(argv: string[]): Argv {
  return (
    yargs(argv)
      .scriptName('mspec')
      .usage('$0 <command> [options]\n\nA declarative model-spec compiler for transformer language models.')
      .command(
        'check <files..>',
        'check .model files and report every diagnostic',
        (y) =>
          y
            .positional('files', {
              type: 'string',
              array: true,
              demandOption: true,
              describe: '.model files (file.model#name for one model), or checkpoints (.safetensors or run folders)',
            })
            .option('json', { type: 'boolean', default: false, describe: 'machine-readable diagnostics' }),
        (a) => guarded(async () => (await import('./check.js')).runCheck({ files: a.files as string[], json: a.json })),
      )
      .command(
        'info <targets..>',
        'parameters, FLOPs, KV cache, memory and license of each model in the files',
        (y) =>
          sizeOptions(
            y
              .positional('targets', {
                type: 'string',
                array: true,
                demandOption: true,
                describe: 'file.model[#name], or a checkpoint (.safetensors or its run folder)',
              })
              .option('json', { type: 'boolean', default: false })
              .option('table', { type: 'boolean', default: false, describe: 'one row per model: the model-zoo table' }),
          ),
        (a) =>
          guarded(async () =>
            (await import('./info.js')).runInfo({
              targets: a.targets as string[],
              json: a.json as boolean,
              table: a.table as boolean,
              batch: a.batch as number | undefined,
              seq: a.seq as number | undefined,
            }),
          ),
      )
      .command(
        'diff <a> <b>',
        'compare two resolved models: knobs and cost deltas (exit 0 identical, 1 different)',
        (y) =>
          sizeOptions(
            y
              .positional('a', {
                type: 'string',
                demandOption: true,
                describe: 'file.model[#name], or a checkpoint (.safetensors or its run folder)',
              })
              .positional('b', {
                type: 'string',
                demandOption: true,
                describe: 'file.model[#name], or a checkpoint (.safetensors or its run folder)',
              })
              .option('json', { type: 'boolean', default: false })
              .option('svg', { type: 'string', describe: 'also draw both architectures side by side, changes in red, into this SVG file' }),
          ),
        (a) =>
          guarded(async () =>
            (await import('./diff.js')).runDiff({
              a: a.a as string,
              b: a.b as string,
              json: a.json as boolean,
              batch: a.batch as number | undefined,
              seq: a.seq as number | undefined,
              svg: a.svg as string | undefined,
            }),
          ),
      )
      .command(
        'graph <target>',
        'draw the architecture: embedding, each distinct block in full (×N), head; shapes and parameters',
        (y) =>
          y
            .positional('target', {
              type: 'string',
              demandOption: true,
              describe: 'file.model[#name], or a checkpoint (.safetensors or its run folder)',
            })
            .option('out', { alias: 'o', type: 'string', describe: 'the file to write (default: standard output)' })
            .option('format', { type: 'string', default: 'svg', describe: 'svg (laid out by Graphviz), dot or mermaid' }),
        (a) => guarded(async () => (await import('./graph.js')).runGraph({ target: a.target as string, out: a.out, format: a.format })),
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
        (a) =>
          guarded(async () =>
            (await import('./fmt.js')).runFmt({ files: a.files as string[], write: a.write ?? false, check: a.check ?? false }),
          ),
      )
      .command(
        'import <input>',
        'a Hugging Face model folder (config.json, safetensors weights) → a .model spec and an mspec checkpoint',
        (y) =>
          y
            .positional('input', { type: 'string', demandOption: true, describe: 'model folder or its config.json' })
            .option('out', { alias: 'o', type: 'string', describe: 'the .model file to write (default: FOLDER.model here)' })
            .option('checkpoint', { type: 'string', describe: 'the checkpoint to write (default: the .model path with .safetensors)' }),
        (a) =>
          guarded(async () =>
            (await import('./import/driver.js')).runImport({
              input: a.input as string,
              out: a.out as string | undefined,
              checkpoint: a.checkpoint as string | undefined,
            }),
          ),
      )
      .command(
        'build <target>',
        'generate WGSL kernels, a TypeScript module and a manifest for each model',
        (y) =>
          y
            .positional('target', {
              type: 'string',
              demandOption: true,
              describe: 'file.model[#name], or a checkpoint (.safetensors or its run folder)',
            })
            .option('out', { alias: 'o', type: 'string', default: 'out', describe: 'output folder (one subfolder per model)' })
            .option('explain', { type: 'boolean', default: false, describe: 'print the fused-kernel plan' })
            .option('tuning', {
              choices: ['auto', 'cpu', 'gpu'] as const,
              default: 'auto' as const,
              describe: "kernel tuning: 'cpu' for software adapters (lavapipe), 'gpu' otherwise; auto asks the adapter",
            })
            .option('runtime-import', {
              type: 'string',
              describe: "import the runtime from this package (e.g. 'mspec/runtime') instead of copying it into the output folder",
            })
            .option('max-binding', {
              type: 'number',
              describe:
                "maxStorageBufferBindingSize to plan for, in bytes (4096 to 2^32; default: the adapter's, or 134217728 without one): larger tables are bound in chunks",
            })
            .check((a) => {
              const r = a['runtime-import'];
              // A path would be resolved from the generated folder, which the default (a copied runtime/) already covers.
              if (r !== undefined && !/^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*(\/[A-Za-z0-9._-]+)*$/.test(r))
                throw new Error(
                  `--runtime-import '${r}' is not a package name: give the package the runtime is installed as (e.g. mspec/runtime), or leave it out to copy the runtime into the output folder`,
                );
              return true;
            }),
        (a) =>
          guarded(async () =>
            inGpuChild()
              ? (await import('./build.js')).runBuild({
                  target: a.target as string,
                  out: a.out,
                  explain: a.explain,
                  tuning: a.tuning,
                  runtimeImport: a['runtime-import'],
                  maxBinding: a['max-binding'],
                })
              : runInGpuChild(),
          ),
      )
      .command(
        'sample <target>',
        'generate text from a spec (seeded init) or a checkpoint (.safetensors), streaming tokens',
        (y) =>
          y
            .positional('target', {
              type: 'string',
              demandOption: true,
              describe: 'file.model[#name], or a checkpoint (.safetensors or its run folder)',
            })
            .option('prompt', { type: 'string', default: '', describe: 'text to continue' })
            .option('max-tokens', ranged('max-tokens', { ...RANGES.maxTokens, default: 100 }))
            .option('temperature', ranged('temperature', { ...RANGES.temperature, default: 1 }))
            .option('top-k', ranged('top-k', { ...RANGES.topK, default: 0 }))
            .option('top-p', ranged('top-p', { ...RANGES.topP, default: 1 }))
            .option('seed', ranged('seed', { ...RANGES.seed, default: 0 }, 'seed for the initial weights of a bare spec and for sampling'))
            .option('stop', { type: 'string', array: true, default: [] as string[], describe: 'stop after this string (repeatable)' })
            .option('slide', {
              type: 'boolean',
              default: false,
              describe: 'at the context limit keep the last half of the window instead of stopping',
            })
            .option('fill', {
              type: 'string',
              describe: 'masked LM: print the top candidates (--top-k, default 5) for each [MASK] in this text',
            })
            .option('json', {
              type: 'boolean',
              default: false,
              describe: 'with --fill: print the candidates as JSON; with --draft: the text, acceptance rate and speed-up as JSON',
            })
            .option('input', {
              type: 'string',
              describe: 'encoder–decoder: the source to answer (encoded once; output ends at the end-of-sequence token)',
            })
            .option('draft', {
              type: 'string',
              describe: 'speculative decoding: a smaller model (spec or checkpoint) with the same tokenizer and vocabulary proposes tokens',
            })
            .option('lookahead', ranged('lookahead', { ...RANGES.lookahead, default: 4 }))
            .option('chunk', ranged('chunk', RANGES.chunk))
            .option('host-sampling', {
              type: 'boolean',
              default: false,
              describe: 'sample on the CPU (one logits read-back per token) instead of on the device; same text for a seed',
            }),
        (a) =>
          guarded(async () =>
            !inGpuChild()
              ? runInGpuChild()
              : (await import('./sample.js')).runSample({
                  target: a.target as string,
                  prompt: a.prompt,
                  maxTokens: a['max-tokens'] as number,
                  temperature: a.temperature as number,
                  topK: a['top-k'] as number,
                  topP: a['top-p'] as number,
                  seed: a.seed as number,
                  stop: a.stop as string[],
                  slide: a.slide,
                  fill: a.fill,
                  json: a.json,
                  input: a.input,
                  draft: a.draft,
                  lookahead: a.lookahead as number,
                  chunk: a.chunk as number | undefined,
                  hostSampling: a['host-sampling'],
                }),
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
            .option('overwrite', {
              type: 'boolean',
              default: false,
              describe: 'start over in an --out folder that already holds a run (replaces its checkpoints)',
            })
            .option('init', { type: 'string', describe: 'start from the weights of this checkpoint (fine-tuning)' })
            .option('data', {
              type: 'string',
              describe: 'built-in corpus (moby-dick), text file, folder of text files, or .bin token file',
            })
            .option('tokenizer', { choices: ['byte', 'char', 'gpt2'] as const })
            .option('steps', ranged('steps', RANGES.steps, 'optimizer steps (default: the train section)'))
            .option('batch', ranged('batch', RANGES.batch, 'sequences per micro-step (default: the train section)'))
            .option('seed', ranged('seed', RANGES.seed, 'seed for init, data order and dropout (default: the train section)'))
            .option('eval-every', ranged('eval-every', RANGES.every, 'validation every N steps'))
            .option(
              'eval-batches',
              ranged('eval-batches', RANGES.evalBatches, 'validation batches per evaluation (default: the train section)'),
            )
            .option('checkpoint-every', ranged('checkpoint-every', RANGES.checkpointEvery))
            .option('prompt', { type: 'string', describe: 'prompt for the sample printed at the end' })
            .option('sample-tokens', ranged('sample-tokens', { ...RANGES.sampleTokens, default: 200 }))
            .check((a) => {
              if (!a.target && !a.resume) throw new Error('name a spec to train, or --resume a run folder');
              if (a.target && a.resume) throw new Error('give either a spec or --resume, not both');
              if (a.resume && a.overwrite) throw new Error('--overwrite starts a new run; --resume continues one: give one of them');
              if (a.resume && (a.data || a.tokenizer || a.batch || a.seed !== undefined || a.init))
                throw new Error(
                  '--resume continues a run with its own data, tokenizer, batch and seed; only --steps, --eval-every, --eval-batches and --checkpoint-every may change',
                );
              return true;
            }),
        (a) =>
          guarded(async () =>
            !inGpuChild()
              ? runInGpuChild()
              : (await import('./train.js')).runTrain({
                  target: a.target,
                  resume: a.resume,
                  out: a.out,
                  overwrite: a.overwrite,
                  init: a.init,
                  data: a.data,
                  tokenizer: a.tokenizer,
                  steps: a.steps as number | undefined,
                  batch: a.batch as number | undefined,
                  seed: a.seed as number | undefined,
                  evalEvery: a['eval-every'] as number | undefined,
                  evalBatches: a['eval-batches'] as number | undefined,
                  checkpointEvery: a['checkpoint-every'] as number | undefined,
                  prompt: a.prompt,
                  sampleTokens: a['sample-tokens'] as number,
                }),
          ),
      )
      .command(
        'profile <target>',
        'time every kernel of the plans a user waits on (decode, prefill; --train: a training step), per kernel and per kind',
        (y) =>
          y
            .positional('target', {
              type: 'string',
              demandOption: true,
              describe: 'file.model[#name], or a checkpoint (.safetensors or its run folder)',
            })
            .option('model', { type: 'string', describe: 'the model to profile when the file defines several' })
            .option('train', {
              type: 'boolean',
              default: false,
              describe: 'profile one training step (forward, backward, clipping, AdamW)',
            })
            .option(
              'batch',
              ranged('batch', RANGES.batch, `with --train: sequences per step (default: the train section, or ${DEFAULT_PROFILE_BATCH})`),
            )
            .option('steps', ranged('steps', PROFILE_RANGES.runs))
            .option('warmup', ranged('warmup', PROFILE_RANGES.warmup))
            .option('json', { type: 'boolean', default: false, describe: 'print one JSON object (every step, every kind, the totals)' })
            .option('svg', { type: 'string', describe: 'also write a chart of the time per kind of kernel to this SVG file' }),
        (a) =>
          guarded(async () =>
            !inGpuChild()
              ? runInGpuChild()
              : (await import('./profile.js')).runProfile({
                  target: a.target as string,
                  model: a.model,
                  train: a.train,
                  batch: a.batch as number | undefined,
                  steps: a.steps as number,
                  warmup: a.warmup as number,
                  json: a.json,
                  svg: a.svg,
                }),
          ),
      )
      .command(
        'eval <checkpoint>',
        'loss, perplexity and bits per byte of a checkpoint on a text, every token scored once',
        (y) =>
          y
            .positional('checkpoint', {
              type: 'string',
              demandOption: true,
              describe: 'a .safetensors checkpoint written by mspec train (or its run folder)',
            })
            .option('data', {
              type: 'string',
              describe:
                "text to score: text file, folder of text files, built-in corpus or .bin token file (default: the run's validation split)",
            })
            .option(
              'seq-len',
              ranged('seq-len', RANGES.seq, "tokens per window, at most the model's context (default: the train section's seq_len)"),
            )
            .option(
              'stride',
              ranged('stride', {
                int: true,
                min: 1,
                max: 2 ** 24,
                describe:
                  'tokens between window starts; a window scores only tokens no earlier window scored (default: the window length, no overlap)',
              }),
            )
            .option('batch', ranged('batch', RANGES.batch, 'windows per GPU pass (default: up to 8, within 64 MiB of logits)'))
            .option('json', { type: 'boolean', default: false, describe: 'machine-readable result' }),
        (a) =>
          guarded(async () =>
            !inGpuChild()
              ? runInGpuChild()
              : (await import('./eval.js')).runEval({
                  checkpoint: a.checkpoint as string,
                  data: a.data,
                  seqLen: a['seq-len'] as number | undefined,
                  stride: a.stride as number | undefined,
                  batch: a.batch as number | undefined,
                  json: a.json,
                }),
          ),
      )
      .command(
        'export <input>',
        'a spec or checkpoint → a standalone PyTorch package (--to torch) or a Hugging Face folder (--to hf)',
        (y) =>
          y
            .positional('input', {
              type: 'string',
              demandOption: true,
              describe: 'file.model[#name] or an mspec checkpoint (.safetensors)',
            })
            .option('to', { choices: ['torch', 'hf'] as const, demandOption: true, describe: 'what to export to' })
            .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'the folder to write' })
            .option('force', { type: 'boolean', default: false, describe: 'replace a non-empty output folder' }),
        (a) =>
          guarded(async () =>
            (await import('./export/index.js')).runExport({
              input: a.input as string,
              to: a.to as 'torch' | 'hf',
              out: a.out as string,
              force: a.force as boolean,
            }),
          ),
      )
      .demandCommand(1, 'name a command: check, info, diff, graph, fmt, build, sample, train, profile, eval or export')
      .strict()
      .recommendCommands()
      .version(MSPEC_VERSION)
      .help()
      .wrap(Math.min(100, process.stdout.columns || 100))
      // Everything that reaches here is a usage problem: yargs' own validation, an option out of
      // its range (ranges.ts) or a `.check()` above. Command handlers never throw (guarded).
      .fail((msg, err) => {
        process.stderr.write(`error: ${msg || err?.message || 'invalid command line'}\nrun 'mspec --help' for usage\n`);
        process.exit(2);
      })
  );
}

await cli(hideBin(process.argv)).parseAsync();
