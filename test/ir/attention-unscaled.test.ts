/**
 * The `scaled` attention knob (T5 does not divide scores by √head_dim): resolved per layer,
 * inherited by cross-attention, carried to the IR attention op as `scaled: false` only when
 * set (absent means 1/√head_dim, so other models' graphs are unchanged), and read by the
 * interpreter (scores exactly √D times larger than with the scale).
 */
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../compiler/index.js';
import { attention } from '../../compiler/ir/interpret/attention.js';
import type { AttentionAttrs } from '../../compiler/ir/ops.js';
import { allLayers } from '../../compiler/semantics/model.js';

describe('attention { scaled }', () => {
  it('T5-small is unscaled in every self- and cross-attention; its attention ops say so', () => {
    const m = compileFile('specs/t5-small.model').models[0]!;
    const layers = allLayers(m.spec);
    expect(layers.length).toBe(12);
    for (const l of layers) {
      expect(l.attention.scaled).toBe(false);
      if (l.cross_attention) expect(l.cross_attention.scaled).toBe(false);
    }
    const ops = m.graph!.nodes.filter((n) => n.op === 'attention');
    expect(ops.length).toBe(18); // 6 encoder, 6 decoder self, 6 cross
    for (const n of ops) expect((n.attrs as AttentionAttrs).scaled).toBe(false);
  });

  it('defaults to scaled, and then the op carries no attr', () => {
    const m = compileFile('specs/gpt2-small.model').models[0]!;
    for (const l of allLayers(m.spec)) expect(l.attention.scaled).toBe(true);
    for (const n of m.graph!.nodes.filter((x) => x.op === 'attention')) expect('scaled' in n.attrs).toBe(false);
  });

  it('cross-attention can set its own', () => {
    const text = [
      'model s {',
      '  arch = encoder_decoder',
      '  vocab = 32, context = 8, d_model = 16, layers = 1',
      '  block { attention { heads: 2, scaled: false } }',
      '  decoder { block { cross_attention { scaled: true } } }',
      '}',
    ].join('\n');
    const r = compileFile('s.model', { host: { readFile: () => text, charVocab: () => 32 } });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const dec = r.models[0]!.spec.decoder!.layers[0]!;
    expect(dec.attention.scaled).toBe(false);
    expect(dec.cross_attention!.scaled).toBe(true);
  });

  it('the interpreter leaves q·k unscaled: one key pair gives weights softmax(q·k) exactly', () => {
    const a: AttentionAttrs = {
      heads: 1,
      kv_heads: 1,
      head_dim: 4,
      causal: false,
      window: null,
      positions: 'none',
      buckets: 0,
      max_distance: 0,
      dropout: 0,
      cross: false,
      scaled: false,
    };
    const q = { shape: [1, 1, 4], data: Float32Array.of(1, 0, 0, 0) };
    const k = { shape: [1, 2, 4], data: Float32Array.of(2, 0, 0, 0, 0, 0, 0, 0) };
    const v = { shape: [1, 2, 4], data: Float32Array.of(1, 0, 0, 0, 0, 0, 0, 0) };
    // Scores 2 and 0: weight of key 0 = e²/(e² + 1); scaled by 1/√4 it would be e/(e + 1).
    const out = attention([q, k, v], a).data[0]!;
    expect(Math.abs(out - Math.exp(2) / (Math.exp(2) + 1))).toBeLessThan(1e-6);
    const scaled = attention([q, k, v], { ...a, scaled: true }).data[0]!;
    expect(Math.abs(scaled - Math.E / (Math.E + 1))).toBeLessThan(1e-6);
  });
});
