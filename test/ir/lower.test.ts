import { describe, expect, it } from 'vitest';
import type { Graph } from '../../compiler/ir/graph.js';
import { lower } from '../../compiler/ir/lower.js';
import { verify } from '../../compiler/ir/verify.js';
import type { ModelSpec } from '../../compiler/semantics/model.js';
import {
  attention,
  bertBase,
  gpt2Small,
  layer,
  layerNorm,
  llama2_7b,
  mistral7b,
  mixtral8x7b,
  mlp,
  model,
  moe,
  rmsNorm,
  stack,
  t5Small,
  tinyDecoder,
} from '../helpers/model-builders.js';

function lowered(m: ModelSpec): Graph {
  const { graph, diagnostics } = lower(m);
  expect(diagnostics).toEqual([]);
  expect(verify(graph)).toEqual([]);
  return graph;
}

const names = (g: Graph) => g.params.map((p) => p.name);
const readers = (g: Graph, param: string) => {
  const id = g.params.find((p) => p.name === param)!.value;
  return g.nodes.filter((n) => n.inputs.includes(id));
};
const ops = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op);

describe('lower: reference models', () => {
  for (const [name, make] of [
    ['GPT-2 small', gpt2Small],
    ['Llama-2-7B', llama2_7b],
    ['Mistral-7B', mistral7b],
    ['Mixtral-8x7B', mixtral8x7b],
    ['BERT-base', bertBase],
    ['T5-small', t5Small],
  ] as const) {
    it(`${name} lowers without diagnostics and verifies`, () => {
      lowered(make());
    });
  }

  it('GPT-2: tied head reads the one token table; names are HF-ish', () => {
    const g = lowered(gpt2Small());
    expect(names(g)).toContain('embed.tokens.weight');
    expect(names(g)).toContain('embed.positions.weight');
    expect(names(g)).toContain('layers.11.mlp.down.bias');
    expect(names(g)).toContain('norm.weight');
    expect(names(g)).not.toContain('lm_head.weight');
    expect(readers(g, 'embed.tokens.weight').map((n) => n.op)).toEqual(['embedding', 'linear']);
    expect(ops(g, 'attention')).toHaveLength(12);
    expect(g.outputs.map((v) => g.values[v]!.type.shape)).toEqual([['B', 'T', 50257], []]);
  });

  it('Llama: RoPE on q and k of every layer, untied head, no biases', () => {
    const g = lowered(llama2_7b());
    expect(ops(g, 'rope')).toHaveLength(64);
    expect(names(g)).toContain('lm_head.weight');
    expect(names(g).some((n) => n.endsWith('.bias'))).toBe(false);
    expect(ops(g, 'glu').every((n) => n.op === 'glu' && n.attrs.fn === 'silu')).toBe(true);
  });

  it('Mistral: GQA projections and the window reach the attention op', () => {
    const g = lowered(mistral7b());
    const k = g.params.find((p) => p.name === 'layers.0.attn.k.weight')!;
    expect(k.shape).toEqual([1024, 4096]);
    const a = ops(g, 'attention')[0]!;
    expect(a.op === 'attention' && a.attrs.window).toBe(4096);
  });

  it('Mixtral: 8 experts per layer behind a router, each projection one expert_linear over stacked weights', () => {
    const g = lowered(mixtral8x7b());
    expect(ops(g, 'expert_linear')).toHaveLength(32 * 3);
    expect(g.params.filter((p) => p.expert)).toHaveLength(32 * 3);
    expect(g.params.find((p) => p.name === 'layers.31.moe.experts.down.weight')).toMatchObject({
      shape: [8, 4096, 14336],
      component: 'experts',
      expert: true,
      decay: true,
    });
    expect(readers(g, 'layers.31.moe.experts.down.weight')[0]).toMatchObject({ op: 'expert_linear', attrs: { experts: 8, top_k: 2 } });
    expect(g.params.find((p) => p.name === 'layers.0.moe.router.weight')).toMatchObject({ component: 'router', shape: [8, 4096] });
  });

  it('BERT: post-norm, segment table, embedding norm and pooler', () => {
    const g = lowered(bertBase());
    expect(names(g)).toEqual(expect.arrayContaining(['embed.segments.weight', 'embed.norm.bias', 'pooler.weight', 'pooler.bias']));
    expect(g.inputs.map((v) => g.values[v]!.name)).toEqual(['tokens', 'positions', 'segments']);
    // Post-norm: the attention norm reads the residual sum, not the layer input.
    const ln = readers(g, 'layers.0.attn_norm.weight')[0]!;
    expect(g.values[ln.inputs[0]!]!.name).toBe('layers.0.attn.residual');
    expect(ops(g, 'attention').every((n) => n.op === 'attention' && !n.attrs.causal)).toBe(true);
  });

  it('T5: one relative-bias table per stack, shared embeddings, cross-attention over S', () => {
    const g = lowered(t5Small());
    expect(readers(g, 'embed.tokens.weight')).toHaveLength(3); // encoder, decoder, tied head
    expect(readers(g, 'encoder.rel_bias.weight')).toHaveLength(6);
    expect(readers(g, 'decoder.rel_bias.weight')).toHaveLength(6);
    const cross = ops(g, 'attention').filter((n) => n.op === 'attention' && n.attrs.cross);
    expect(cross).toHaveLength(6);
    expect(g.values[cross[0]!.inputs[1]!]!.type.shape).toEqual(['B', 'S', 512]);
    expect(names(g)).toEqual(
      expect.arrayContaining(['encoder.norm.weight', 'decoder.norm.weight', 'decoder.layers.5.cross_attn.o.weight']),
    );
  });
});

describe('lower: knobs', () => {
  it('parallel attention + MLP with a shared norm has one norm per layer', () => {
    const g = lowered(tinyDecoder({ parallel: true, shared_norm: true }));
    expect(names(g)).toContain('layers.0.norm.weight');
    expect(names(g)).not.toContain('layers.0.attn_norm.weight');
    expect(readers(g, 'layers.0.norm.weight')).toHaveLength(1);
  });

  it('parallel without a shared norm keeps two', () => {
    const g = lowered(tinyDecoder({ parallel: true }));
    expect(names(g)).toEqual(expect.arrayContaining(['layers.1.attn_norm.weight', 'layers.1.mlp_norm.weight']));
  });

  it('a post-norm parallel layer normalises the summed branches once', () => {
    const g = lowered(tinyDecoder({ parallel: true, placement: 'post' }));
    const n = readers(g, 'layers.0.norm.weight');
    expect(n).toHaveLength(1);
    expect(g.values[n[0]!.inputs[0]!]!.name).toBe('layers.0.mlp.residual');
  });

  it('ALiBi and no positions add no parameters; sinusoidal adds no parameters either', () => {
    for (const positions of [{ kind: 'alibi' }, { kind: 'none' }, { kind: 'sinusoidal' }] as const) {
      const g = lowered(tinyDecoder({}, { embedding: { positions } }));
      expect(g.params.filter((p) => p.role === 'position')).toEqual([]);
    }
    const g = lowered(tinyDecoder({}, { embedding: { positions: { kind: 'alibi' } } }));
    expect(ops(g, 'attention').every((n) => n.op === 'attention' && n.attrs.positions === 'alibi')).toBe(true);
  });

  it('partial RoPE rotates only the given fraction of each head', () => {
    const g = lowered(tinyDecoder({}, { embedding: { positions: { kind: 'rope', base: 10000, fraction: 0.25 } } }));
    const r = ops(g, 'rope')[0]!;
    expect(r.op === 'rope' && r.attrs.rotary_dims).toBe(4);
  });

  it('MoE with shared experts, router bias and MLP biases', () => {
    const g = lowered(tinyDecoder({ moe: moe(4, 1, { shared_experts: 2, router_bias: true }), mlp: mlp('geglu', 32, true) }));
    expect(names(g)).toEqual(
      expect.arrayContaining(['layers.0.moe.router.bias', 'layers.0.moe.experts.gate.bias', 'layers.0.moe.shared.1.down.weight']),
    );
    expect(g.params.find((p) => p.name === 'layers.0.moe.shared.1.down.weight')).toMatchObject({ component: 'mlp', expert: false });
    // A stacked bias (E, out) is a vector per expert: no weight decay.
    expect(g.params.find((p) => p.name === 'layers.0.moe.experts.gate.bias')).toMatchObject({ shape: [4, 32], decay: false });
    expect(g.params.find((p) => p.name === 'layers.0.moe.experts.gate.weight')).toMatchObject({ shape: [4, 32, 64], decay: true });
  });

  it('aux_loss: one moe_aux_loss per MoE layer, summed into the loss output, which keeps its name', () => {
    const base = layer({ norm: rmsNorm(), attention: attention({ heads: 4, head_dim: 16 }), mlp: mlp('swiglu', 64) });
    const m = model({
      vocab: 100,
      context: 64,
      d_model: 64,
      decoder: stack('decoder', 4, (i) => ({ ...base, moe: i % 2 ? moe(4, 2, { aux_loss: 0.02 }) : null }), rmsNorm()),
    });
    const g = lowered(m);
    const aux = ops(g, 'moe_aux_loss');
    expect(aux.map((n) => [n.layer?.index, n.attrs])).toEqual([
      [1, { coef: 0.02, top_k: 2 }],
      [3, { coef: 0.02, top_k: 2 }],
    ]);
    // It reads the router logits and the top-k choice of its layer.
    const select = ops(g, 'moe_select').find((n) => n.layer?.index === 1)!;
    expect(aux[0]!.inputs).toEqual([select.inputs[0], select.output]);
    const scalars = g.outputs.filter((v) => g.values[v]!.type.shape.length === 0);
    expect(scalars.map((v) => g.values[v]!.name)).toEqual(['head.loss']);
    const loss = g.nodes.find((n) => n.output === scalars[0])!;
    expect(loss.op).toBe('add');
    expect(g.values[loss.inputs[0]!]!.name).toBe('head.xent');
    // Without aux_loss (or with 0) the graph is as before: the cross-entropy is the loss.
    const plain = lowered(tinyDecoder({ moe: moe(4, 2) }));
    expect(ops(plain, 'moe_aux_loss')).toEqual([]);
    expect(plain.nodes.find((n) => n.op === 'softmax_xent')!.output).toBe(plain.outputs[1]);
    expect(plain.values[plain.outputs[1]!]!.name).toBe('head.loss');
  });

  it('per-layer patterns: only the MoE layers get experts, windows differ by layer', () => {
    const base = layer({ norm: rmsNorm(), attention: attention({ heads: 4, head_dim: 16 }), mlp: mlp('relu', 64) });
    const m = model({
      vocab: 100,
      context: 64,
      d_model: 64,
      decoder: stack(
        'decoder',
        4,
        (i) => ({ ...base, moe: i % 2 ? moe(4, 2) : null, attention: attention({ heads: 4, head_dim: 16, window: i % 2 ? null : 8 }) }),
        rmsNorm(),
      ),
    });
    const g = lowered(m);
    expect(ops(g, 'expert_linear').map((n) => n.layer?.index)).toEqual([1, 1, 3, 3]);
    expect(ops(g, 'attention').map((n) => (n.op === 'attention' ? n.attrs.window : 0))).toEqual([8, null, 8, null]);
  });

  it('weight decay applies to matrices and tables, not to vectors', () => {
    const g = lowered(gpt2Small());
    for (const p of g.params) expect(p.decay, p.name).toBe(p.shape.length === 2);
  });

  it('an encoder-only model with an LM head and a sinusoidal encoder–decoder both verify', () => {
    const enc = bertBase();
    lowered({
      ...enc,
      head: { kind: 'lm', bias: true, transform: null, pooler: false, logit_scale: 1 },
      embedding: { ...enc.embedding, tied: true },
    });
    const t5 = t5Small();
    const g = lowered({ ...t5, embedding: { ...t5.embedding, positions: { kind: 'learned' } } });
    expect(names(g)).toEqual(expect.arrayContaining(['encoder.embed.positions.weight', 'decoder.embed.positions.weight']));
  });

  it('a constraint that slipped past semantics becomes an internal-error diagnostic', () => {
    const { diagnostics } = lower(tinyDecoder({ attention: attention({ heads: 4, kv_heads: 3, head_dim: 16 }) }));
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({ code: 'MS9001', severity: 'error' });
    expect(diagnostics[0]!.message).toMatch(/kv_heads 3 must divide heads 4/);
  });

  it('post-norm GPT-style layers with layernorm without bias', () => {
    const g = lowered(tinyDecoder({ placement: 'post', norm: layerNorm(1e-5, false) }));
    expect(names(g).filter((n) => n.includes('norm.bias'))).toEqual([]);
  });
});
