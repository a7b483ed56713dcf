/**
 * The vocabulary of a char-level run follows the data it trains on, and fine-tuning keeps the
 * checkpoint's: `--data` builds the character vocabulary of that text (not of the spec's own
 * corpus), and `--init` encodes new text with the checkpoint's vocabulary — a character outside
 * it is an error naming it and where it is, never a silent remap.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { charsOf } from '../../runtime/tokenizers/index.js';
import { learningRate } from '../../runtime/train/schedule.js';
import { mspec, ROOT } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mspec-train-finetune-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SPEC = 'test/cli/fixtures/tiny-train.model';
const corpus = readFileSync(join(ROOT, 'test/cli/fixtures/tiny-corpus.txt'), 'utf8');

const metrics = (dir: string) =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number; lr: number; val_loss?: number });
const storedChars = (ckpt: string) => (JSON.parse(readSafetensors(ckpt).metadata['mspec.tokenizer']!) as { chars: string[] }).chars;

describe('mspec train --data / --init with a char tokenizer', () => {
  it('the vocabulary follows the data; --init reuses the checkpoint vocabulary or names the unseen characters', () => {
    // Base text: the corpus without its lines holding 'v' (one character fewer than the spec's corpus).
    const baseText = corpus
      .split('\n')
      .filter((l) => !l.includes('v'))
      .join('\n');
    const baseChars = charsOf(baseText);
    expect(baseChars.length).toBe(charsOf(corpus).length - 1);
    writeFileSync(join(tmp, 'base.txt'), baseText);
    const base = join(tmp, 'base');
    const b = mspec('train', SPEC, '--data', join(tmp, 'base.txt'), '--out', base, '--steps', '15', '--sample-tokens', '0');
    expect(b.code, b.stderr).toBe(0);
    // --steps changes the run's length, not the spec's `eval { every: 10 }`.
    expect(
      metrics(base)
        .filter((m) => m.val_loss !== undefined)
        .map((m) => m.step),
    ).toEqual([10, 15]);
    const baseCkpt = join(base, 'last.safetensors');
    expect(storedChars(baseCkpt)).toEqual(baseChars);
    const rows = [...readSafetensors(baseCkpt).tensors.values()].filter((t) => t.shape.length === 2).map((t) => t.shape[0]);
    expect(rows).toContain(baseChars.length); // the embedding has one row per character of the data trained on
    expect(rows).not.toContain(charsOf(corpus).length);

    // New text with characters the checkpoint never saw: a clear error, before any training.
    writeFileSync(join(tmp, 'unseen.txt'), 'the storm\nthe sea whale wave!\n');
    const bad = mspec(
      'train',
      SPEC,
      '--init',
      baseCkpt,
      '--data',
      join(tmp, 'unseen.txt'),
      '--out',
      join(tmp, 'bad'),
      '--sample-tokens',
      '0',
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      `has 2 characters outside the ${baseChars.length}-character vocabulary of the --init checkpoint '${baseCkpt}'`,
    );
    expect(bad.stderr).toContain('"v" (U+0076, 1×, first at line 2, column 17)');
    expect(bad.stderr).toContain('"!" (U+0021, 1×, first at line 2, column 19)');
    expect(bad.stderr).not.toMatch(/\n\s+at /);

    // New text with a subset of its characters (no 'b', so a vocabulary rebuilt from it would
    // shift every later id): the checkpoint's vocabulary is kept and the model already knows it.
    writeFileSync(join(tmp, 'seen.txt'), baseText.replaceAll('b', ''));
    const tuned = join(tmp, 'tuned');
    const f = mspec(
      'train',
      SPEC,
      '--init',
      baseCkpt,
      '--data',
      join(tmp, 'seen.txt'),
      '--out',
      tuned,
      '--steps',
      '3',
      '--sample-tokens',
      '0',
    );
    expect(f.code, f.stderr).toBe(0);
    const tunedCkpt = join(tuned, 'last.safetensors');
    expect(storedChars(tunedCkpt)).toEqual(baseChars);
    const first = metrics(tuned)[0]!.loss;
    expect(first).toBeLessThan(Math.log(baseChars.length) - 0.2);
    expect(first).toBeLessThan(metrics(base)[0]!.loss - 0.2); // it starts where the base run got to, not from scratch

    // Extending the run keeps its learning-rate schedule (3 steps, warmup clamped to 2): past
    // it the rate holds min_lr instead of the decay being stretched (which would jump back up).
    const ext = mspec('train', '--resume', tuned, '--steps', '5', '--sample-tokens', '0');
    expect(ext.code, ext.stderr).toBe(0);
    expect(ext.stderr).toContain(
      'keeps the length it started with (3 steps, so the rate stays continuous): from step 3 on it holds min_lr 0.0003',
    );
    const sched = { lr: 3e-3, warmup: 2, min_lr: 3e-4, kind: 'cosine' as const, steps: 3 };
    expect(metrics(tuned).map((m) => m.lr)).toEqual([0, 1, 2, 3, 4].map((k) => learningRate(k, sched)));
    expect(
      metrics(tuned)
        .slice(3)
        .map((m) => m.lr),
    ).toEqual([3e-4, 3e-4]);
    expect(storedChars(tunedCkpt)).toEqual(baseChars); // the resumed run kept the checkpoint's vocabulary

    // The fine-tuned checkpoint samples on its own (its spec's corpus has another vocabulary).
    const s = mspec('sample', tunedCkpt, '--prompt', 'the ', '--max-tokens', '8', '--seed', '1');
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout.startsWith('the ')).toBe(true);
  }, 180_000);
});
