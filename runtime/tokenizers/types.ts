/** What every tokenizer provides (its own module, so ./gpt2.ts and ./index.ts share it without an import cycle). */
export interface Tokenizer {
  readonly kind: 'byte' | 'char' | 'gpt2' | 'hf';
  /** Every id, special tokens included: ids are [0, vocab). */
  readonly vocab: number;
  /**
   * Ids [0, ordinary) are text tokens (a masked LM's random replacements are drawn from them):
   * byte 256, char the characters, gpt2 50256 (<|endoftext|> is special). Specials follow.
   */
  readonly ordinary: number;
  /** The id of the mask token `[MASK]`, or null when this tokenizer has none (causal LM). */
  readonly mask: number | null;
  /** Ordinary text: a special token's spelling in it is just its characters (training text is never trusted to mark specials). */
  encode(text: string): number[];
  /** Like encode, but each spelling of this tokenizer's special tokens (`[MASK]`) becomes that token. */
  encodeSpecial(text: string): number[];
  /** Special ids decode as their spelling. */
  decode(ids: readonly number[]): string;
  /** JSON-able description stored in checkpoints and manifests. */
  toJSON(): TokenizerData;
}

/** Special tokens a tokenizer can carry, after its ordinary ids in this order. */
export type SpecialToken = '[MASK]' | '[PAD]' | '[EOS]';

export type TokenizerData = (
  | { kind: 'byte' }
  | { kind: 'char'; chars: string[] }
  | { kind: 'gpt2' }
  /** An imported Hugging Face tokenizer: tokenizer.json and tokenizer_config.json, parsed (./hf.ts). */
  | { kind: 'hf'; tokenizer: Record<string, unknown>; config: Record<string, unknown> }
) & {
  /** Special tokens after the ordinary ids (absent: none). */
  specials?: SpecialToken[];
};
