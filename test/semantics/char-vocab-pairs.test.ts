/**
 * A seq2seq spec's `tokenizer.vocab` with a char tokenizer counts the characters of its pairs'
 * sources and targets — what `mspec train` builds its tokenizer from — not the pairs file's
 * tabs and newlines, so `check`/`info`/`build`/`sample` on a bare spec agree with the trainer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { nodeHost } from '../../compiler/semantics/node-host.js';

const FIXTURES = join(import.meta.dirname, '..', 'cli', 'fixtures');
const SPEC = join(FIXTURES, 'export-t5-pairs.model');

describe('char vocabulary of a seq2seq pairs file', () => {
  const text = readFileSync(join(FIXTURES, 'export-pairs.tsv'), 'utf8');
  const pairChars = new Set(Array.from(text.replace(/[\t\r\n]/g, '')));

  it('counts the sources and targets, not the file syntax', () => {
    expect(nodeHost.charVocab('export-pairs.tsv', SPEC, 'seq2seq')).toBe(pairChars.size);
    // The same file read as plain text (a causal LM's corpus) counts its tabs and newlines too.
    expect(nodeHost.charVocab('export-pairs.tsv', SPEC)).toBe(pairChars.size + 2);
  });

  it('gives the spec the trainer’s vocabulary: the characters plus [PAD] and [EOS]', () => {
    const m = compileFile(SPEC).models[0]!;
    expect(m.ok).toBe(true);
    expect(m.spec.vocab).toBe(pairChars.size + 2);
  });
});
