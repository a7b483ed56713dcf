/**
 * Tokenizers: byte-level (UTF-8 bytes, vocabulary 256), character-level (the sorted set of
 * characters of a corpus, stored with the model so sampling needs no corpus) and GPT-2 BPE
 * (vocabulary 50257, through the `gpt-tokenizer` npm package; see ./gpt2.ts).
 */
import { gpt2Tokenizer } from './gpt2.js';
import type { Tokenizer, TokenizerData } from './types.js';

export type { Tokenizer, TokenizerData } from './types.js';

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
    encode: (text) => Array.from(enc.encode(text)),
    decode: (ids) => dec.decode(new Uint8Array(ids)),
    toJSON: () => ({ kind: 'byte' }),
  };
}

export function charTokenizer(chars: readonly string[]): Tokenizer {
  const index = new Map(chars.map((c, i) => [c, i]));
  return {
    kind: 'char',
    vocab: chars.length,
    encode(text) {
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
    },
    decode: (ids) => ids.map((i) => chars[i] ?? '\uFFFD').join(''),
    toJSON: () => ({ kind: 'char', chars: [...chars] }),
  };
}

/** The character vocabulary of a text: its distinct characters in code-point order. */
export function charsOf(text: string): string[] {
  return [...new Set(Array.from(text))].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
}

export function tokenizerFrom(data: TokenizerData): Tokenizer {
  switch (data.kind) {
    case 'char':
      return charTokenizer(data.chars);
    case 'gpt2':
      return gpt2Tokenizer();
    default:
      return byteTokenizer();
  }
}
