/**
 * Special tokens: ids appended after a tokenizer's own vocabulary, so adding them never moves
 * an ordinary id (byte: [MASK] = 256; char: one past the last character; gpt2: 50257, after
 * <|endoftext|>). A masked LM's tokenizer carries `[MASK]`; a causal LM's carries none, so
 * its vocabulary and checkpoints are unchanged.
 *
 * The spelling `[MASK]` is recognised only where a user marks positions on purpose
 * (`encodeSpecial`: `mspec sample --fill`), never in training text: "[MASK]" written in a
 * corpus is six ordinary characters, so text can never silently produce a mask token.
 */
import type { SpecialToken, Tokenizer, TokenizerData } from './types.js';

export const MASK_TOKEN: SpecialToken = '[MASK]';
/** Every special token mspec knows, for validating stored tokenizers. */
export const SPECIAL_TOKENS: readonly SpecialToken[] = [MASK_TOKEN, '[PAD]', '[EOS]'];
/** What a masked-LM objective adds (compiler/semantics/build-train.ts MLM_SPECIALS counts them). */
export const MLM_SPECIALS: readonly SpecialToken[] = [MASK_TOKEN];

/** `base` with `specials` appended after its ids. `base` must have none of its own. */
export function withSpecials(base: Tokenizer, specials: readonly SpecialToken[]): Tokenizer {
  if (specials.length === 0) return base;
  if (base.mask !== null) throw new Error('internal: withSpecials on a tokenizer that already has specials');
  const first = base.vocab;
  const idOf = new Map(specials.map((s, i) => [s, first + i]));
  const spelling = (id: number) => specials[id - first];
  const encodeSpecial = (text: string): number[] => {
    const ids: number[] = [];
    let rest = text;
    for (;;) {
      let at = -1;
      let which: SpecialToken | undefined;
      for (const s of specials) {
        const i = rest.indexOf(s);
        if (i >= 0 && (at < 0 || i < at)) [at, which] = [i, s];
      }
      if (which === undefined) break;
      if (at > 0) ids.push(...base.encode(rest.slice(0, at)));
      ids.push(idOf.get(which)!);
      rest = rest.slice(at + which.length);
    }
    if (rest) ids.push(...base.encode(rest));
    return ids;
  };
  return {
    kind: base.kind,
    vocab: first + specials.length,
    ordinary: base.ordinary,
    mask: idOf.get(MASK_TOKEN) ?? null,
    encode: base.encode,
    encodeSpecial,
    decode(ids) {
      let out = '';
      let run: number[] = [];
      for (const id of ids) {
        const s = spelling(id);
        if (s === undefined) run.push(id);
        else {
          if (run.length) out += base.decode(run);
          run = [];
          out += s;
        }
      }
      return run.length ? out + base.decode(run) : out;
    },
    toJSON: () => ({ ...base.toJSON(), specials: [...specials] }) as TokenizerData,
  };
}
/**
 * What a seq2seq objective adds (runtime/data/pairs.ts): `[PAD]` is the decoder's start token
 * and the source padding (T5 starts decoding from its pad id), `[EOS]` ends every target.
 */
export const SEQ2SEQ_SPECIALS: readonly SpecialToken[] = ['[PAD]', '[EOS]'];
