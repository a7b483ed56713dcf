/** Tokenizer round trips: byte (UTF-8, multi-byte), char, GPT-2 BPE; stored-data loading. */
import { describe, expect, it } from 'vitest';
import { GPT2_EOT, GPT2_VOCAB, gpt2Tokenizer } from '../../runtime/tokenizers/gpt2.js';
import { byteTokenizer, charsOf, charTokenizer, TokenizerError, tokenizerFrom } from '../../runtime/tokenizers/index.js';
import { isTokenizerKind, loadTokenizer, parseTokenizerData, tokenizerForText } from '../../runtime/tokenizers/load.js';

const SAMPLES = ['', 'Hello world', 'héllo wörld', '世界 — “quotes”', 'emoji 🎉🐋 and ZWJ 👩‍👩‍👧', 'tabs\tand\r\nnewlines\n'];

describe('byte tokenizer', () => {
  it('encodes UTF-8 bytes and decodes them back, multi-byte characters included', () => {
    const t = byteTokenizer();
    expect(t.vocab).toBe(256);
    expect(t.encode('A')).toEqual([65]);
    expect(t.encode('é')).toEqual([0xc3, 0xa9]);
    expect(t.encode('🎉')).toEqual([0xf0, 0x9f, 0x8e, 0x89]);
    for (const s of SAMPLES) {
      const ids = t.encode(s);
      expect(ids.every((i) => i >= 0 && i < 256)).toBe(true);
      expect(t.decode(ids)).toBe(s);
    }
  });
});

describe('char tokenizer', () => {
  it('round-trips over the vocabulary of the text, in code-point order', () => {
    const text = SAMPLES.join(' ');
    const chars = charsOf(text);
    expect(chars).toEqual([...chars].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
    expect(chars).toContain('🎉'); // astral characters are one token, not two surrogates
    const t = charTokenizer(chars);
    for (const s of SAMPLES) expect(t.decode(t.encode(s))).toBe(s);
    expect(() => t.encode('X')).toThrow(TokenizerError);
    expect(chars).not.toContain('X');
  });
});

describe('gpt2 tokenizer', () => {
  const t = gpt2Tokenizer();

  it('encodes "Hello world" to [15496, 995] and decodes it back', () => {
    expect(t.kind).toBe('gpt2');
    expect(t.vocab).toBe(GPT2_VOCAB);
    expect(t.encode('Hello world')).toEqual([15496, 995]);
    expect(t.decode([15496, 995])).toBe('Hello world');
  });

  it('round-trips multi-byte text', () => {
    for (const s of SAMPLES) expect(t.decode(t.encode(s))).toBe(s);
  });

  it('encodes a literal <|endoftext|> as ordinary text; decodes 50256 and out-of-vocabulary ids', () => {
    const ids = t.encode('a<|endoftext|>b');
    expect(ids).not.toContain(GPT2_EOT);
    expect(t.decode(ids)).toBe('a<|endoftext|>b');
    expect(t.decode([GPT2_EOT])).toBe('<|endoftext|>');
    expect(t.decode([15496, GPT2_VOCAB, 995])).toBe('Hello\uFFFD world');
  });

  it('is stored as {kind: gpt2} and rebuilt by tokenizerFrom', () => {
    expect(t.toJSON()).toEqual({ kind: 'gpt2' });
    expect(tokenizerFrom({ kind: 'gpt2' }).encode('Hello world')).toEqual([15496, 995]);
  });
});

describe('load', () => {
  it('makes a tokenizer by kind for a text', () => {
    expect(tokenizerForText('byte', 'x').kind).toBe('byte');
    expect(tokenizerForText('gpt2', 'x').vocab).toBe(GPT2_VOCAB);
    expect(tokenizerForText('char', 'banana').toJSON()).toEqual({ kind: 'char', chars: ['a', 'b', 'n'] });
    expect(isTokenizerKind('gpt2')).toBe(true);
    expect(isTokenizerKind('bpe')).toBe(false);
  });

  it('loads stored tokenizer data, as an object or JSON', () => {
    for (const t of [byteTokenizer(), charTokenizer(['a', 'b', '🐋']), gpt2Tokenizer()]) {
      expect(loadTokenizer(t.toJSON()).toJSON()).toEqual(t.toJSON());
      expect(loadTokenizer(JSON.stringify(t.toJSON())).toJSON()).toEqual(t.toJSON());
    }
  });

  it.each([
    ['{not json', /not valid JSON/],
    [42, /must be an object/],
    [{ kind: 'bpe' }, /unknown stored tokenizer kind "bpe"; expected one of byte, char, gpt2/],
    [{ kind: 'char' }, /needs a non-empty "chars" array/],
    [{ kind: 'char', chars: ['ab'] }, /must each be one character, got "ab"/],
    [{ kind: 'char', chars: ['a', 'a'] }, /lists "a" twice/],
  ])('rejects damaged data %j', (stored, message) => {
    expect(() => parseTokenizerData(stored)).toThrow(TokenizerError);
    expect(() => parseTokenizerData(stored)).toThrow(message);
  });
});
