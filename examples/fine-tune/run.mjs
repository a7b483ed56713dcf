// Fine-tuning with `--init`: pretrain a tiny model on Moby-Dick's first chapters, then continue
// from its checkpoint on text of another kind (the book's "Extracts", quotations about whales
// from three centuries), and compare on held-out extracts with the pretrained model as it was
// and with the same model trained from scratch for the same fine-tuning steps.
//   npm run build && node examples/fine-tune/run.mjs     (STEPS=… FT_STEPS=… for a shorter run)
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envInt, mobyDick, mspec, mspecJson, table } from '../lib/mspec.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.env.EXAMPLE_OUT ?? join(here, 'out');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const spec = join(here, '..', 'train-and-sample', 'tiny.model');
const steps = envInt('STEPS', 60);
const ftSteps = envInt('FT_STEPS', 30);

// Pretraining text: chapters 1–3. Fine-tuning text: the extracts, the last tenth held out.
const pretrain = join(out, 'chapters.txt');
writeFileSync(pretrain, ['chapter_1', 'chapter_2', 'chapter_3'].map((c) => readFileSync(mobyDick(c), 'utf8')).join('\n'));
const extracts = readFileSync(mobyDick('extracts'), 'utf8');
const cut = extracts.lastIndexOf('\n', Math.floor(extracts.length * 0.9));
writeFileSync(join(out, 'extracts-train.txt'), extracts.slice(0, cut));
writeFileSync(join(out, 'extracts-test.txt'), extracts.slice(cut + 1));

const train = (name, data, n, extra = []) => {
  const run = join(out, name);
  mspec(['train', spec, '--data', data, '--steps', String(n), '--eval-every', String(n), '--sample-tokens', '0', '--out', run, ...extra]);
  return join(run, 'last.safetensors');
};
const base = train('pretrained', pretrain, steps);
const tuned = train('fine-tuned', join(out, 'extracts-train.txt'), ftSteps, ['--init', base]);
const scratch = train('scratch', join(out, 'extracts-train.txt'), ftSteps);

const test = join(out, 'extracts-test.txt');
const evalOn = (ckpt) => mspecJson(['eval', ckpt, '--data', test]).loss.toFixed(4);
console.log(`held-out extracts (${readFileSync(test).length} bytes), loss in nats per byte:\n`);
console.log(
  table([
    ['checkpoint', 'steps', 'loss'],
    [`pretrained on chapters 1–3`, steps, evalOn(base)],
    [`fine-tuned from it (--init) on extracts`, `${steps} + ${ftSteps}`, evalOn(tuned)],
    [`trained from scratch on extracts`, ftSteps, evalOn(scratch)],
  ]),
);
