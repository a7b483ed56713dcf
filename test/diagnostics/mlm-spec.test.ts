/**
 * A masked LM's spec: `vocab = tokenizer.vocab` counts the [MASK] token (byte 257, char n + 1,
 * gpt2 50258) and only for objective = mlm (written, or the encoder's default); mask_prob is
 * a probability above 0 and below 1, reported at the knob.
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { MLM_SPECIALS as SEMANTIC_SPECIALS } from '../../compiler/semantics/build-train.js';
import { MLM_SPECIALS } from '../../runtime/tokenizers/index.js';

const spec = (train: string, arch = 'encoder') => `model m {
  arch = ${arch}
  vocab = tokenizer.vocab
  context = 16
  d_model = 16
  layers = 1
  block { attention { heads: 2${arch === 'decoder' ? '' : ', causal: false'} } }
  head { kind: lm }
}
train m { data = "moby-dick", ${train} }
`;

function compile(text: string) {
  const r = compileFile('m.model', { analyze: false, host: { readFile: () => text, charVocab: () => 40 } });
  return { m: r.models[0], errors: r.diagnostics.filter((d) => d.severity === 'error') };
}

describe('tokenizer.vocab of a masked LM', () => {
  it('the compiler and the runtime agree on the number of specials', () => {
    expect(SEMANTIC_SPECIALS).toBe(MLM_SPECIALS.length);
  });
  it.each([
    ['byte', 257],
    ['char', 41],
    ['gpt2', 50258],
  ])('%s tokens with objective = mlm: %i', (tokenizer, vocab) => {
    const { m, errors } = compile(spec(`tokenizer = ${tokenizer}, objective = mlm`));
    expect(errors).toEqual([]);
    expect(m!.spec.vocab_raw).toBe(vocab);
  });
  it('an encoder defaults to mlm, so its vocabulary counts [MASK] too', () => {
    expect(compile(spec('tokenizer = byte')).m!.spec.vocab_raw).toBe(257);
  });
  it('a causal LM keeps the plain vocabulary', () => {
    const { m, errors } = compile(spec('tokenizer = byte, objective = causal_lm', 'decoder'));
    expect(errors).toEqual([]);
    expect(m!.spec.vocab_raw).toBe(256);
  });
});

describe('mask_prob', () => {
  it('defaults to 0.15 and takes a value in (0, 1)', () => {
    expect(compile(spec('tokenizer = byte')).m!.spec.train!.mask_prob).toBe(0.15);
    expect(compile(spec('tokenizer = byte, mask_prob = 0.3')).m!.spec.train!.mask_prob).toBe(0.3);
  });
  it.each(['0', '1', '1.5', '-0.1'])('mask_prob = %s is an error at the knob', (v) => {
    const text = spec(`tokenizer = byte, mask_prob = ${v}`);
    const { errors } = compile(text);
    expect(errors.map((e) => e.code)).toEqual(['MS2107']);
    expect(text.slice(errors[0]!.span!.start, errors[0]!.span!.end)).toContain(v.replace('-', ''));
  });
});
