/**
 * GPT-2 byte-pair encoding (OpenAI's `r50k_base`, vocabulary 50257) through the npm package
 * `gpt-tokenizer`, which ships the merge table inside the package: nothing is downloaded at
 * run time. No BPE is written here.
 *
 * Text is encoded as *ordinary* text, like tiktoken's `encode_ordinary` (and nanoGPT's
 * `prepare.py`): a literal "<|endoftext|>" in a corpus becomes the tokens of those characters,
 * never the special token 50256 and never an error. Decoding 50256 gives "<|endoftext|>".
 */
import { decode as gpt2Decode, encode as gpt2Encode, vocabularySize } from 'gpt-tokenizer/encoding/gpt2';
import type { Tokenizer } from './types.js';

/** GPT-2's vocabulary: 50000 merges + 256 bytes + <|endoftext|>. */
export const GPT2_VOCAB = 50257;
/** The id of <|endoftext|>. */
export const GPT2_EOT = 50256;

if (vocabularySize !== GPT2_VOCAB) {
  throw new Error(
    `gpt-tokenizer reports a GPT-2 vocabulary of ${vocabularySize}, expected ${GPT2_VOCAB}; reinstall the pinned version with \`npm install\``,
  );
}

/** No special token is recognised in the input: encode as ordinary text. */
const ORDINARY = { disallowedSpecial: new Set<string>() } as const;

let shared: Tokenizer | null = null;

/** The GPT-2 tokenizer (one shared, stateless instance). */
export function gpt2Tokenizer(): Tokenizer {
  shared ??= {
    kind: 'gpt2',
    vocab: GPT2_VOCAB,
    // <|endoftext|> is a document separator, not text a masked LM should draw as a replacement.
    ordinary: GPT2_EOT,
    mask: null,
    encode: (text) => gpt2Encode(text, ORDINARY),
    encodeSpecial: (text) => gpt2Encode(text, ORDINARY),
    decode: decodeLenient,
    toJSON: () => ({ kind: 'gpt2' }),
  };
  return shared;
}

/**
 * Decode; ids outside the vocabulary become U+FFFD (as the char tokenizer does) instead of the
 * package's exception, so a sampler that emits a padded-vocabulary id still prints something.
 */
function decodeLenient(ids: readonly number[]): string {
  const valid = (i: number) => Number.isInteger(i) && i >= 0 && i < GPT2_VOCAB;
  if (ids.every(valid)) return gpt2Decode(ids);
  let out = '';
  let run: number[] = [];
  for (const i of ids) {
    if (valid(i)) run.push(i);
    else {
      if (run.length) out += gpt2Decode(run);
      run = [];
      out += '\uFFFD';
    }
  }
  if (run.length) out += gpt2Decode(run);
  return out;
}
