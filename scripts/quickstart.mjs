#!/usr/bin/env node
// The README's first quick-start command (`npm start`): the main job. Checks the bundled
// specs, shows what the example model costs, then trains it on the built-in Moby-Dick corpus
// on this machine's WebGPU adapter (setting up the software driver first where there is no
// adapter) and prints a sample. Runs the built CLI exactly as a user would type it.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mspec = join(root, 'dist', 'compiler', 'cli', 'main.js');
const steps = process.env.MSPEC_QUICKSTART_STEPS ?? '200';

const run = (cmd, args, label = `${cmd} ${args.join(' ')}`) => {
  process.stdout.write(`\n$ ${label}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

run('bash', ['scripts/setup-webgpu.sh']);
run(
  process.execPath,
  [
    mspec,
    'check',
    'specs/char-gpt.model',
    'specs/tiny-llama.model',
    'specs/gpt2-small.model',
    'specs/llama2-7b.model',
    'specs/mistral-7b.model',
    'specs/mixtral-8x7b.model',
    'specs/bert-base.model',
    'specs/t5-small.model',
  ],
  'mspec check specs/*.model',
);
run(process.execPath, [mspec, 'info', 'specs/char-gpt.model'], 'mspec info specs/char-gpt.model');
run(
  process.execPath,
  [
    mspec,
    'train',
    'specs/char-gpt.model',
    '--steps',
    steps,
    '--out',
    'runs/quickstart',
    // The quick start is a demo: running it again starts its run over.
    '--overwrite',
    '--prompt',
    'Call me Ishmael',
    '--sample-tokens',
    '300',
  ],
  `mspec train specs/char-gpt.model --steps ${steps} --out runs/quickstart --overwrite --prompt "Call me Ishmael"`,
);
process.stdout.write(
  `\nNext: mspec sample runs/quickstart/last.safetensors --prompt "Call me" --temperature 0.8; mspec train --resume runs/quickstart --steps 1000; mspec diff specs/llama2-7b.model specs/mistral-7b.model\n`,
);
