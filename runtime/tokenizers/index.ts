/**
 * Tokenizers: byte-level (UTF-8 bytes, vocabulary 256), character-level (the sorted set of
 * characters of a corpus, stored with the model so sampling needs no corpus) and GPT-2 BPE
 * (vocabulary 50257, through the `gpt-tokenizer` npm package; see ./gpt2.ts), and a Hugging Face
 * tokenizer.json brought in by `mspec import` (./hf.ts).
 */
import { gpt2Tokenizer } from './gpt2.js';
import { hfTokenizer } from './hf.js';
import { withSpecials } from './specials.js';
import type { Tokenizer, TokenizerData } from './types.js';

export type { SpecialToken, Tokenizer, TokenizerData } from './types.js';
export { MASK_TOKEN, MLM_SPECIALS, withSpecials } from './specials.js';

/** A user-facing tokenizer problem (a prompt character outside a char vocabulary, …). */
export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
}

export function byteTokenizer(): Tokenizer {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  return {
    kind: 'byte',
    vocab: 256,
    ordinary: 256,
    mask: null,
    encode: (text) => Array.from(enc.encode(text)),
    encodeSpecial: (text) => Array.from(enc.encode(text)),
    decode: (ids) => dec.decode(new Uint8Array(ids)),
    toJSON: () => ({ kind: 'byte' }),
  };
}

export function charTokenizer(chars: readonly string[]): Tokenizer {
  const index = new Map(chars.map((c, i) => [c, i]));
  const encode = (text: string): number[] => {
    const ids: number[] = [];
    for (const c of Array.from(text)) {
      const id = index.get(c);
      if (id === undefined)
        throw new TokenizerError(
          `the character ${JSON.stringify(c)} is not in this model's character vocabulary (${chars.length} characters from its training corpus)`,
        );
      ids.push(id);
    }
    return ids;
  };
  return {
    kind: 'char',
    vocab: chars.length,
    ordinary: chars.length,
    mask: null,
    encode,
    encodeSpecial: encode,
    decode: (ids) => ids.map((i) => chars[i] ?? '\uFFFD').join(''),
    toJSON: () => ({ kind: 'char', chars: [...chars] }),
  };
}

/** The character vocabulary of a text: its distinct characters in code-point order. */
export function charsOf(text: string): string[] {
  return [...new Set(Array.from(text))].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
}

/** The tokenizer a stored description names, with its special tokens. */
export function tokenizerFrom(data: TokenizerData): Tokenizer {
  return withSpecials(baseTokenizer(data), data.specials ?? []);
}

function baseTokenizer(data: TokenizerData): Tokenizer {
  switch (data.kind) {
    case 'char':
      return charTokenizer(data.chars);
    case 'gpt2':
      return gpt2Tokenizer();
    case 'hf':
      return hfTokenizer(data);
    default:
      return byteTokenizer();
  }
}
