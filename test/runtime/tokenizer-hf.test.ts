/**
 * The `hf` tokenizer kind (runtime/tokenizers/hf.ts): the tiny GPT-2-style byte-level BPE of
 * test/fixtures/hf/gpt2 (ids: a–z 0–25, Ġ 26, Ċ 27, "." 28, "," 29, then the merges th 30,
 * the 31, Ġt 32, Ġthe 33, an 34, and 35, Ġand 36; <|endoftext|> 60) encodes as its merges say,
 * decodes back to the text, and survives the JSON round trip a checkpoint's metadata makes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hfTokenizer, hfVocabSize } from '../../runtime/tokenizers/hf.js';
import { TokenizerError, tokenizerFrom } from '../../runtime/tokenizers/index.js';
import { loadTokenizer, parseTokenizerData } from '../../runtime/tokenizers/load.js';

const DIR = join(import.meta.dirname, '../fixtures/hf/gpt2');
const json = (f: string) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Record<string, unknown>;
const data = { kind: 'hf', tokenizer: json('tokenizer.json'), config: json('tokenizer_config.json') } as const;

describe('hf tokenizer', () => {
  const tok = hfTokenizer(data);

  it('encodes by the BPE merges, without BOS/EOS, and decodes back', () => {
    expect(tok.vocab).toBe(61);
    expect(hfVocabSize(data.tokenizer)).toBe(61);
    expect(tok.encode('the cat')).toEqual([31, 26, 2, 0, 19]);
    // " the": t h → th (rank 0) and th e → the (1) apply before Ġ t (2), so Ġthe (3) never forms;
    // " and": a n → an, an d → and, then Ġ and → Ġand.
    expect(tok.encode('the cat and the hat')).toEqual([31, 26, 2, 0, 19, 36, 26, 31, 26, 7, 0, 19]);
    expect(tok.decode(tok.encode('the cat and the hat'))).toBe('the cat and the hat');
    expect(tok.decode([60])).toBe('<|endoftext|>');
  });

  it('survives a save/load round trip (the checkpoint metadata JSON)', () => {
    const stored = JSON.stringify(tok.toJSON());
    const back = loadTokenizer(stored);
    expect(back.kind).toBe('hf');
    expect(back.vocab).toBe(61);
    expect(back.encode('and then the end.')).toEqual(tok.encode('and then the end.'));
    expect(tokenizerFrom(parseTokenizerData(stored)).toJSON()).toEqual(tok.toJSON());
  });

  it('rejects damaged stored data with a TokenizerError', () => {
    expect(() => parseTokenizerData('{"kind":"hf"}')).toThrow(TokenizerError);
    expect(() => parseTokenizerData({ kind: 'hf', tokenizer: { model: [] }, config: {} })).toThrow(/needs "tokenizer" \(tokenizer\.json/);
  });
});
