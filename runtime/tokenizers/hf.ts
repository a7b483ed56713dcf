/**
 * A Hugging Face tokenizer (`tokenizer.json`, with its `tokenizer_config.json` when there is
 * one), as `mspec import` brings it in: run by the `@huggingface/tokenizers` npm package (no
 * dependencies; BPE, WordPiece, Unigram with their normalizers, pre-tokenizers and decoders).
 * The whole JSON is stored in the checkpoint's metadata, so sampling needs no other file.
 *
 * encode adds no BOS/EOS (add_special_tokens: false): a prompt is continued as written. The
 * package splits out added tokens (`<s>`, `<|endoftext|>`) wherever their spelling occurs, so
 * encode and encodeSpecial are the same here. decode keeps special tokens.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer } from './types.js';

export interface HfTokenizerData {
  readonly kind: 'hf';
  /** tokenizer.json, parsed. */
  readonly tokenizer: Record<string, unknown>;
  /** tokenizer_config.json, parsed ({} when the folder has none). */
  readonly config: Record<string, unknown>;
}

/** Every id the tokenizer can produce + 1: its model's vocabulary and its added tokens. */
export function hfVocabSize(json: Record<string, unknown>): number {
  const model = json.model as { vocab?: unknown } | undefined;
  let max = -1;
  const vocab = model?.vocab;
  if (Array.isArray(vocab))
    max = vocab.length - 1; // Unigram: [[piece, score], …] by id
  else if (vocab && typeof vocab === 'object') for (const id of Object.values(vocab)) if (typeof id === 'number') max = Math.max(max, id);
  for (const t of (json.added_tokens as { id?: unknown }[] | undefined) ?? []) if (typeof t.id === 'number') max = Math.max(max, t.id);
  return max + 1;
}

export function hfTokenizer(data: HfTokenizerData): Tokenizer {
  const tok = new HfTokenizer(data.tokenizer, data.config);
  const vocab = hfVocabSize(data.tokenizer);
  const encode = (text: string) => tok.encode(text, { add_special_tokens: false }).ids;
  return {
    kind: 'hf',
    vocab,
    ordinary: vocab,
    mask: null,
    encode,
    encodeSpecial: encode,
    decode: (ids) => tok.decode([...ids], { skip_special_tokens: false }),
    toJSON: () => ({ kind: 'hf', tokenizer: data.tokenizer, config: data.config }),
  };
}
