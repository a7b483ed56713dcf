#!/usr/bin/env node
/**
 * The `mspec` command line: yargs wiring only; each subcommand lives in its own file.
 * Exit codes: 0 ok, 1 errors found (or `diff`: models differ), 2 usage or I/O trouble,
 * 3 an internal error (a bug in mspec).
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { MSPEC_VERSION } from '../index.js';
import { runCheck } from './check.js';
import { runDiff } from './diff.js';
import { runFmt } from './fmt.js';
import { runInfo } from './info.js';

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
      (a) => guarded(() => runCheck({ files: a.files as string[], json: a.json })),
    )
    .command(
      'info <target>',
      'parameters, FLOPs, KV cache and memory of each model in a file',
      (y) => sizeOptions(y.positional('target', { type: 'string', demandOption: true, describe: 'file.model or file.model#name' }).option('json', { type: 'boolean', default: false })),
      (a) => guarded(() => runInfo({ target: a.target as string, json: a.json as boolean, batch: a.batch, seq: a.seq })),
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
      (a) => guarded(() => runDiff({ a: a.a as string, b: a.b as string, json: a.json as boolean, batch: a.batch, seq: a.seq })),
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
      (a) => guarded(() => runFmt({ files: a.files as string[], write: a.write ?? false, check: a.check ?? false })),
    )
    .demandCommand(1, 'name a command: check, info, diff or fmt')
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
