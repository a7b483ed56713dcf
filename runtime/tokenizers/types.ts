/** What every tokenizer provides (its own module, so ./gpt2.ts and ./index.ts share it without an import cycle). */
export interface Tokenizer {
  readonly kind: 'byte' | 'char' | 'gpt2';
  readonly vocab: number;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** JSON-able description stored in checkpoints and manifests. */
  toJSON(): TokenizerData;
}

export type TokenizerData = { kind: 'byte' } | { kind: 'char'; chars: string[] } | { kind: 'gpt2' };
