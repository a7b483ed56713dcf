/**
 * MS4001 messages of the GPU path: each names the knob and its value, and each hint says
 * truthfully what runs — no "set causal: true" for BERT, one error for a whole encoder.
 */
import { describe, expect, it } from 'vitest';
import { checkGpuSupport } from '../../compiler/codegen/support.js';
import { checkTrainSupport } from '../../compiler/codegen/train-support.js';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.js';
import { sortDiagnostics } from '../../compiler/diagnostics/diagnostic.js';
import { renderAll } from '../../compiler/diagnostics/render.js';
import type { SourceFile } from '../../compiler/diagnostics/span.js';
import { compileFile } from '../../compiler/index.js';
import type { Host } from '../../compiler/semantics/resolve.js';

const host = (text: string): Host => ({ readFile: () => text, charVocab: () => 65 });

function refusals(file: string, opts: { text?: string; train?: boolean } = {}): string {
  const r = compileFile(file, { analyze: false, ...(opts.text !== undefined && { host: host(opts.text) }) });
  expect(r.diagnostics).toEqual([]);
  const m = r.models[0]!.spec;
  const ds: readonly Diagnostic[] = opts.train ? checkTrainSupport(m, m.train!).all : checkGpuSupport(m).all;
  return renderAll(sortDiagnostics(ds), r.sources as ReadonlyMap<string, SourceFile>);
}

const headlines = (text: string) => text.split('\n').filter((l) => l.includes('error MS4001'));

describe('MS4001: what the GPU path refuses', () => {
  it('accepts BERT: an encoder with segments, an embedding norm, a pooler and no LM head', () => {
    expect(refusals('specs/bert-base.model')).toBe('');
  });

  it('accepts an encoder–decoder (T5) for sampling and seq2seq training; refuses one without an LM head', () => {
    expect(refusals('specs/t5-small.model')).toBe('');
    expect(refusals('specs/tiny-t5.model', { train: true })).toBe('');
    const text = [
      'model d {',
      '  arch = encoder_decoder, vocab = 256, context = 16, d_model = 32, layers = 2',
      '  block { attention { heads: 4 } }',
      '  encoder { layers: 1 }',
      '  decoder { layers: 1 }',
      '  head { kind: none }',
      '}',
    ].join('\n');
    expect(headlines(refusals('d.model', { text }))).toEqual([
      'd.model:6:10: error MS4001: the GPU path does not support head.kind = none in an encoder–decoder (its decoder outputs hidden states, not tokens) yet',
    ]);
  });

  it('accepts mixture-of-experts models (the moe kernel group), for sampling and training', () => {
    expect(headlines(refusals('specs/mixtral-8x7b.model'))).toEqual([]);
    expect(headlines(refusals('specs/tiny-mixtral.model', { train: true }))).toEqual([]);
  });

  it('runs relative positions and bidirectional layers; names an unsupported knob at the line that sets it', () => {
    const text = [
      'model d {',
      '  vocab = 256, context = 64, d_model = 64, layers = 2',
      '  embedding { positions: relative(buckets: 32, max_distance: 128), segments: 2 }',
      '  block { attention { heads: 4 } }',
      '  block[1] { attention { causal: false, heads: 1, head_dim: 320 } }',
      '}',
    ].join('\n');
    const out = refusals('d.model', { text });
    expect(headlines(out)).toEqual([
      'd.model:5:51: error MS4001: the GPU path does not support attention.head_dim = 320 (the attention kernel keeps at most 256 per head in registers) yet',
    ]);
  });

  it('names the training knob it cannot honour (dtype), and trains with dropout', () => {
    const text = [
      'model d {',
      '  vocab = 256, context = 64, d_model = 64, layers = 2',
      '  block {',
      '    attention { heads: 4, dropout: 0.1 }',
      '  }',
      '}',
      'train d { data = "moby-dick", tokenizer = char, steps = 10, dtype = bf16 }',
    ].join('\n');
    const out = refusals('d.model', { text, train: true });
    expect(headlines(out)).toEqual(['d.model:7:61: error MS4001: the GPU path does not support train.dtype = bf16 yet']);
  });

  it('accepts training an encoder with an MLM head', () => {
    const text = [
      'model e {',
      '  arch = encoder',
      '  vocab = 256, context = 64, d_model = 64, layers = 2',
      '  embedding { segments: 2, norm: layernorm }',
      '  block { dropout: 0.1, attention { heads: 4 } }',
      '  head { kind: lm, bias: true, transform: gelu, pooler: true }',
      '}',
      'train e { data = "moby-dick", tokenizer = char, objective = mlm, steps = 10 }',
    ].join('\n');
    expect(refusals('e.model', { text, train: true })).toBe('');
  });

  it('accepts the decoders it runs', () => {
    expect(refusals('specs/char-gpt.model', { train: true })).toBe('');
    expect(refusals('specs/tiny-llama.model')).toBe('');
  });
});
