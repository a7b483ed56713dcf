/**
 * The two ids a seq2seq tokenizer adds after its ordinary ids (see ./pairs.ts), apart from the
 * pairs reader so that the model runtime, which may run in a browser, needs no `node:fs`.
 */
import type { SpecialToken, Tokenizer } from '../tokenizers/index.js';

/** The ids batching and generation add around the text's. */
export interface Seq2SeqTokens {
  /** `[PAD]`: the decoder's first input and the source padding. */
  readonly start: number;
  /** `[EOS]`: ends every target; generation stops at it. */
  readonly eos: number;
}

/** The `[PAD]` and `[EOS]` ids of a tokenizer that carries them (SEQ2SEQ_SPECIALS); null when it lacks either. */
export function seq2seqIds(tok: Tokenizer): Seq2SeqTokens | null {
  const specials = tok.toJSON().specials ?? [];
  const id = (s: SpecialToken) => (specials.includes(s) ? tok.ordinary + specials.indexOf(s) : -1);
  const start = id('[PAD]');
  const eos = id('[EOS]');
  return start < 0 || eos < 0 ? null : { start, eos };
}
