/**
 * Special tokens ([MASK]) appended after each tokenizer's ordinary ids: their ids, their
 * spelling in --fill text (and never in ordinary text), decoding, validation of stored data,
 * and the round trip through a checkpoint's metadata (what `sample --fill` reads back).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointSpec } from '../../compiler/cli/checkpoint-spec.js';
import { f32Tensor, readSafetensors, writeSafetensors } from '../../runtime/checkpoint/safetensors.js';
import { prepareDataset } from '../../runtime/data/dataset.js';
import { GPT2_EOT, GPT2_VOCAB } from '../../runtime/tokenizers/gpt2.js';
import {
  byteTokenizer,
  charTokenizer,
  MASK_TOKEN,
  MLM_SPECIALS,
  TokenizerError,
  tokenizerFrom,
  withSpecials,
} from '../../runtime/tokenizers/index.js';
import { parseTokenizerData, tokenizerForText } from '../../runtime/tokenizers/load.js';

describe('[MASK] ids', () => {
  it('byte: 256, after every byte', () => {
    const t = tokenizerForText('byte', '', MLM_SPECIALS);
    expect([t.vocab, t.ordinary, t.mask]).toEqual([257, 256, 256]);
    expect(t.toJSON()).toEqual({ kind: 'byte', specials: ['[MASK]'] });
  });
  it('char: one past the last character', () => {
    const t = tokenizerForText('char', 'banana', MLM_SPECIALS);
    expect([t.vocab, t.ordinary, t.mask]).toEqual([4, 3, 3]);
  });
  it('gpt2: 50257, after <|endoftext|>, which is no ordinary token', () => {
    const t = tokenizerForText('gpt2', '', MLM_SPECIALS);
    expect([t.vocab, t.ordinary, t.mask]).toEqual([GPT2_VOCAB + 1, GPT2_EOT, GPT2_VOCAB]);
  });
  it('a causal LM tokenizer has none (its vocabulary is unchanged)', () => {
    const t = tokenizerForText('byte', '');
    expect([t.vocab, t.mask]).toEqual([256, null]);
    expect(t.toJSON()).toEqual({ kind: 'byte' });
  });
});

describe('[MASK] spelling', () => {
  const byte = withSpecials(byteTokenizer(), MLM_SPECIALS);
  const gpt2 = tokenizerForText('gpt2', '', MLM_SPECIALS);

  it('encodeSpecial turns each [MASK] into the mask id, the rest encoded as text', () => {
    expect(byte.encodeSpecial('a[MASK]b[MASK]')).toEqual([97, 256, 98, 256]);
    expect(byte.encodeSpecial('[MASK][MASK]')).toEqual([256, 256]);
    const ids = gpt2.encodeSpecial('Call me [MASK]hmael.');
    expect(ids.filter((i) => i === gpt2.mask)).toHaveLength(1);
    expect(gpt2.decode(ids)).toBe('Call me [MASK]hmael.');
  });
  it('ordinary text never produces a mask: "[MASK]" in a corpus is its characters', () => {
    expect(byte.encode('[MASK]')).toEqual(Array.from(new TextEncoder().encode('[MASK]')));
    const chars = withSpecials(charTokenizer([...'AKMS[]']), MLM_SPECIALS);
    expect(chars.encode('[MASK]')).toHaveLength(6);
    expect(chars.encode('[MASK]')).not.toContain(chars.mask);
    expect(chars.encodeSpecial('[MASK]')).toEqual([chars.mask]);
  });
  it('decodes the mask id as its spelling, between multi-byte text', () => {
    expect(byte.decode([...new TextEncoder().encode('é'), 256, 0x41])).toBe('é[MASK]A');
    expect(byte.decode(byte.encodeSpecial('héllo [MASK] wörld'))).toBe('héllo [MASK] wörld');
  });
  it('a char tokenizer still refuses characters outside its vocabulary around a mask', () => {
    const t = withSpecials(charTokenizer(['a', 'b']), MLM_SPECIALS);
    expect(t.encodeSpecial('a[MASK]b')).toEqual([0, 2, 1]);
    expect(() => t.encodeSpecial('a[MASK]z')).toThrow(TokenizerError);
  });
});

describe('stored specials', () => {
  it('parse and rebuild the same ids', () => {
    const data = parseTokenizerData(JSON.stringify({ kind: 'char', chars: ['x', 'y'], specials: ['[MASK]'] }));
    expect(data).toEqual({ kind: 'char', chars: ['x', 'y'], specials: ['[MASK]'] });
    expect(tokenizerFrom(data).mask).toBe(2);
  });
  it('refuse unknown, duplicated or malformed specials', () => {
    expect(() => parseTokenizerData({ kind: 'byte', specials: ['[CLS]'] })).toThrow(/unknown special token "\[CLS\]"/);
    expect(() => parseTokenizerData({ kind: 'byte', specials: ['[MASK]', '[MASK]'] })).toThrow(/twice/);
    expect(() => parseTokenizerData({ kind: 'byte', specials: '[MASK]' })).toThrow(/must be an array/);
  });
});

describe('through a checkpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mspec-specials-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the tokenizer metadata keeps [MASK] and its id', () => {
    const t = tokenizerForText('char', 'call me ishmael', MLM_SPECIALS);
    const path = join(dir, 'w.safetensors');
    const sources = { entry: 'a.model', files: { 'a.model': 'model a {}' } };
    writeSafetensors(path, {
      tensors: new Map([['w', f32Tensor([1], new Float32Array([1]))]]),
      metadata: { 'mspec.model': 'a', 'mspec.spec': JSON.stringify(sources), 'mspec.tokenizer': JSON.stringify(t.toJSON()) },
    });
    const carried = checkpointSpec(path, readSafetensors(path).metadata);
    const back = tokenizerFrom(carried.tokenizer!);
    expect([back.vocab, back.ordinary, back.mask]).toEqual([t.vocab, t.ordinary, t.mask]);
    expect(back.decode(back.encodeSpecial('call [MASK] ishmael'))).toBe('call [MASK] ishmael');
    // tokenizer.vocab of the carried spec counts the characters only: semantics adds the [MASK] for mlm.
    expect(carried.host.charVocab('x', 'a.model')).toBe(t.ordinary);
  });
});

describe('prepareDataset with specials', () => {
  it('appends [MASK] after the ordinary ids; the text keeps its ids', () => {
    const plain = prepareDataset({ data: 'moby-dick', tokenizer: 'byte' });
    const mlm = prepareDataset({ data: 'moby-dick', tokenizer: 'byte', specials: MLM_SPECIALS });
    expect(mlm.tokenizer.vocab).toBe(257);
    expect(mlm.tokenizer.mask).toBe(256);
    expect(mlm.train.subarray(0, 1000)).toEqual(plain.train.subarray(0, 1000));
  });
  it('a resumed run keeps the specials its tokenizer recorded', () => {
    const d = prepareDataset({
      data: 'moby-dick',
      tokenizer: 'byte',
      fixed: { tokenizer: { kind: 'byte', specials: [MASK_TOKEN] }, from: 'the run' },
    });
    expect(d.tokenizer.mask).toBe(256);
  });
});
