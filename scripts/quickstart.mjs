#!/usr/bin/env node
// The README's first quick-start command (`npm start`): the main job on the bundled specs.
// Runs the built CLI exactly as a user would type it, and stops at the first failure.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mspec = join(root, 'dist', 'compiler', 'cli', 'main.js');

const steps = [
  ['check', 'specs/gpt2-small.model', 'specs/gpt2-medium.model', 'specs/llama2-7b.model', 'specs/mistral-7b.model', 'specs/mixtral-8x7b.model', 'specs/bert-base.model', 'specs/t5-small.model', 'specs/char-gpt.model', 'specs/tiny-llama.model'],
  ['info', 'specs/mixtral-8x7b.model'],
  ['diff', 'specs/llama2-7b.model', 'specs/mistral-7b.model'],
];

for (const args of steps) {
  process.stdout.write(`\n$ mspec ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [mspec, ...args], { cwd: root, stdio: 'inherit' });
  // `diff` exits 1 when the models differ, which is the expected answer here.
  const ok = r.status === 0 || (args[0] === 'diff' && r.status === 1);
  if (!ok) process.exit(r.status ?? 1);
}
