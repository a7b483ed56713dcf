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
  it('refuses an encoder once, at arch, without suggesting to make it causal', () => {
    const out = refusals('specs/bert-base.model');
    expect(headlines(out)).toEqual([
      'specs/bert-base.model:4:3: error MS4001: the GPU path does not support arch = encoder (encoder-only models with bidirectional attention, such as BERT) yet',
    ]);
    expect(out).toContain('hint: the GPU path runs only decoder-only models (arch = decoder) with causal attention and an LM head');
    expect(out).not.toMatch(/causal: true|segments: 0|pooler: false/);
  });

  it('refuses an encoder–decoder at arch, naming both stacks, not its relative positions', () => {
    expect(headlines(refusals('specs/t5-small.model'))).toEqual([
      'specs/t5-small.model:5:3: error MS4001: the GPU path does not support arch = encoder_decoder (an encoder stack plus a decoder stack with cross-attention, as in T5) yet',
    ]);
  });

  it('accepts mixture-of-experts models (the moe kernel group), for sampling and training', () => {
    expect(headlines(refusals('specs/mixtral-8x7b.model'))).toEqual([]);
    expect(headlines(refusals('specs/tiny-mixtral.model', { train: true }))).toEqual([]);
  });

  it('names each unsupported knob of a decoder at the line that sets it', () => {
    const text = [
      'model d {',
      '  vocab = 256, context = 64, d_model = 64, layers = 2',
      '  embedding { positions: relative(buckets: 32, max_distance: 128), segments: 2 }',
      '  block { attention { heads: 4 } }',
      '  block[1] { attention { causal: false } }',
      '}',
    ].join('\n');
    const out = refusals('d.model', { text });
    expect(headlines(out)).toEqual([
      'd.model:3:15: error MS4001: the GPU path does not support embedding.positions = relative (the T5 bucketed relative-position bias) yet',
      'd.model:3:68: error MS4001: the GPU path does not support embedding.segments = 2 (segment embeddings) yet',
      'd.model:5:26: error MS4001: the GPU path does not support attention.causal = false in a decoder (layer 1 attends to later tokens) yet',
    ]);
    expect(out).toContain(
      'hint: the GPU attention kernel always masks later positions; remove causal: false (a decoder is causal by default)',
    );
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

  it('refuses training an encoder once, at arch, not also for its objective', () => {
    const text = [
      'model e {',
      '  arch = encoder',
      '  vocab = 256, context = 64, d_model = 64, layers = 2',
      '  block { dropout: 0.1, attention { heads: 4 } }',
      '  head { kind: lm }',
      '}',
      'train e { data = "moby-dick", tokenizer = char, objective = mlm, steps = 10 }',
    ].join('\n');
    expect(headlines(refusals('e.model', { text, train: true }))).toEqual([
      'e.model:2:3: error MS4001: the GPU path does not support arch = encoder (encoder-only models with bidirectional attention, such as BERT) yet',
    ]);
  });

  it('accepts the decoders it runs', () => {
    expect(refusals('specs/char-gpt.model', { train: true })).toBe('');
    expect(refusals('specs/tiny-llama.model')).toBe('');
  });
});
