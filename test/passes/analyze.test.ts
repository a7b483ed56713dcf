import { describe, expect, it } from 'vitest';
import { lower } from '../../compiler/ir/lower.js';
import { type Analysis, analyze, toJson } from '../../compiler/passes/analyze.js';
import type { LayerSpec, ModelSpec } from '../../compiler/semantics/model.js';
import {
  attention,
  bertBase,
  gpt2Small,
  layer,
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
  train,
} from '../helpers/model-builders.js';

function run(m: ModelSpec, opts?: { batch?: number; seq?: number }): Analysis {
  const { graph, diagnostics } = lower(m);
  expect(diagnostics).toEqual([]);
  return analyze(m, graph, opts);
}

const sum = (o: object) => Object.values(o).reduce((s: number, v) => s + (v as number), 0);

describe('published parameter counts', () => {
  // total, then the parameters of each layer (encoder layers first), by hand from the HF checkpoints.
  const table: [string, () => ModelSpec, number, number[]][] = [
    ['GPT-2 small', gpt2Small, 124_439_808, Array(12).fill(7_087_872)],
    ['Llama-2-7B', llama2_7b, 6_738_415_616, Array(32).fill(202_383_360)],
    ['Mistral-7B', mistral7b, 7_241_732_096, Array(32).fill(218_112_000)],
    ['Mixtral-8x7B', mixtral8x7b, 46_702_792_704, Array(32).fill(1_451_270_144)],
    ['BERT-base', bertBase, 109_482_240, Array(12).fill(7_087_872)],
    ['T5-small', t5Small, 60_506_624, [...Array(6).fill(3_146_752), ...Array(6).fill(4_195_840)]],
  ];
  for (const [name, make, total, layers] of table) {
    it(`${name}: ${total.toLocaleString('en')}, components and layers add up`, () => {
      const a = run(make());
      expect(a.params.total).toBe(total);
      expect(sum(a.params.by_component)).toBe(total);
      expect(sum(a.params.by_kind)).toBe(total);
      expect(a.params.per_layer.map((l) => l.params)).toEqual(layers);
      for (const l of a.params.per_layer) expect(sum(l.by_component)).toBe(l.params);
    });
  }

  it('Mixtral-8x7B: 12,879,925,248 active, fewer than total', () => {
    const a = run(mixtral8x7b());
    expect(a.params.active).toBe(12_879_925_248);
    expect(a.params.active).toBeLessThan(a.params.total);
    expect(a.params.by_kind.router).toBe(32 * 4096 * 8);
    expect(a.params.per_layer[0]!.active).toBe(4 * 4096 * 4096 - 2 * 4096 * 3072 + 2 * 3 * 4096 * 14336 + 4096 * 8 + 2 * 4096);
  });

  it('dense models: active = total', () => {
    for (const m of [gpt2Small(), llama2_7b(), bertBase(), t5Small()]) {
      const a = run(m);
      expect(a.params.active).toBe(a.params.total);
    }
  });

  it('shared experts and the router are always active, routed experts top_k / experts', () => {
    const a = run(tinyDecoder({ moe: moe(4, 1, { shared_experts: 1 }) }));
    const expert = 2 * 64 * 256; // up + down, no biases
    const dense = run(tinyDecoder()).params.total;
    // per layer: 4 routed + 1 shared expert replace one dense MLP, plus a 64 → 4 router.
    expect(a.params.total).toBe(dense + 2 * (4 * expert + 64 * 4));
    expect(a.params.active).toBe(dense + 2 * (expert + 64 * 4));
  });

  it('non-embedding excludes token, position and segment tables (and T5 relative-bias tables)', () => {
    expect(run(gpt2Small()).params.non_embedding).toBe(124_439_808 - 50257 * 768 - 1024 * 768);
    expect(run(bertBase()).params.non_embedding).toBe(109_482_240 - (30522 + 512 + 2) * 768);
    expect(run(llama2_7b()).params.non_embedding).toBe(6_738_415_616 - 32000 * 4096); // the untied head stays
    expect(run(t5Small()).params.non_embedding).toBe(60_506_624 - 32128 * 512 - 2 * 32 * 8);
  });

  it('BERT puts the pooler in head, GPT-2 has no head parameters of its own (tied)', () => {
    expect(run(bertBase()).params.by_component.head).toBe(768 * 768 + 768);
    expect(run(gpt2Small()).params.by_component.head).toBe(0);
    expect(run(llama2_7b()).params.by_component.head).toBe(32000 * 4096);
  });
});

describe('FLOPs per token', () => {
  it('GPT-2 small, by hand: 2·(non-embedding matmul params + head) + 4·L·ctx·d', () => {
    const [L, d, V, ctx, ff] = [12, 768, 50257, 1024, 3072];
    const matmulParams = L * (4 * d * d + 2 * d * ff) + V * d;
    const a = run(gpt2Small());
    expect(a.flops_per_token.matmul).toBe(2 * matmulParams);
    expect(a.flops_per_token.attention).toBe(L * 4 * ctx * d);
    expect(a.flops_per_token.forward).toBe(284_812_800);
    expect(a.flops_per_token.train).toBe(3 * 284_812_800);
    expect(a.flops_per_token.elementwise_forward).toBeGreaterThan(0);
    expect(a.flops_per_token.formula).toMatch(/min\(context, window\)/);
  });

  it('Mixtral counts only active experts: 2·(active − token table − norms) + attention', () => {
    const a = run(mixtral8x7b());
    const norms = 65 * 4096;
    expect(a.flops_per_token.forward).toBe(2 * (12_879_925_248 - 32000 * 4096 - norms) + 32 * 4 * 4096 * 4096);
  });

  it("the sliding window caps Mistral's attention term at 4096 keys", () => {
    const mistral = run(mistral7b());
    expect(mistral.flops_per_token.attention).toBe(32 * 4 * 4096 * 4096);
    expect(run(llama2_7b()).flops_per_token.attention).toBe(mistral.flops_per_token.attention);
  });

  it('BERT: the pooler runs once per sequence and is reported apart', () => {
    const a = run(bertBase());
    expect(a.flops_per_token.per_sequence_forward).toBe(2 * 768 * 768);
    expect(a.flops_per_token.matmul).toBe(2 * 12 * (4 * 768 * 768 + 2 * 768 * 3072));
  });

  it('T5: a token is one source and one target position', () => {
    const a = run(t5Small());
    const [d, ff, V, ctx] = [512, 2048, 32128, 512];
    const enc = 6 * (4 * d * d + 2 * d * ff);
    const dec = 6 * (8 * d * d + 2 * d * ff);
    expect(a.flops_per_token.matmul).toBe(2 * (enc + dec + V * d));
    expect(a.flops_per_token.attention).toBe(18 * 4 * ctx * d); // 6 encoder, 6 decoder self, 6 cross
  });
});

describe('KV cache', () => {
  it('Llama-2-7B: 524,288 bytes per token at f16; Mistral-7B: 131,072', () => {
    const llama = run(llama2_7b());
    expect(llama.kv_cache_bytes_per_token).toEqual({ f16: 524_288, f32: 1_048_576, bf16: 524_288 });
    expect(run(mistral7b()).kv_cache_bytes_per_token.f16).toBe(131_072);
    expect(llama.kv_cache_bytes_at_context).toEqual({ context: 4096, f16: 524_288 * 4096, f32: 2 * 524_288 * 4096, bf16: 524_288 * 4096 });
  });

  it('MHA > GQA > MQA by the number of K/V heads', () => {
    const kv = (kv_heads: number) =>
      run(tinyDecoder({ attention: attention({ heads: 4, kv_heads, head_dim: 16 }) })).kv_cache_bytes_per_token.f16;
    expect(kv(4)).toBe(2 * 2 * 4 * 16 * 2); // layers · (K and V) · heads · head_dim · 2 bytes
    expect(kv(2)).toBe(kv(4) / 2);
    expect(kv(1)).toBe(kv(4) / 4);
  });

  it('is window-aware at the full context, layer by layer', () => {
    expect(run(mistral7b()).kv_cache_bytes_at_context.f16).toBe(131_072 * 4096); // not × 32768
    const base = layer({ norm: rmsNorm(), attention: attention({ heads: 4, head_dim: 16 }), mlp: mlp('relu', 64) });
    const localGlobal = model({
      vocab: 100,
      context: 128,
      d_model: 64,
      decoder: stack(
        'decoder',
        2,
        (i) => ({ ...base, attention: attention({ heads: 4, head_dim: 16, window: i === 0 ? 16 : null }) }),
        rmsNorm(),
      ),
    });
    const a = run(localGlobal);
    const perLayer = 2 * 4 * 16 * 2;
    expect(a.kv_cache_bytes_per_token.f16).toBe(2 * perLayer);
    expect(a.kv_cache_bytes_at_context.f16).toBe(perLayer * 16 + perLayer * 128);
  });

  it('encoder-only models keep no cache; T5 adds cross-attention K/V per source token', () => {
    const bert = run(bertBase());
    expect(bert.kv_cache_bytes_per_token).toEqual({ f16: 0, f32: 0, bf16: 0 });
    expect(bert.cross_kv_bytes_per_source_token).toBeNull();
    const t5 = run(t5Small());
    expect(t5.kv_cache_bytes_per_token.f16).toBe(6 * 2 * 8 * 64 * 2);
    expect(t5.cross_kv_bytes_per_source_token).toEqual({ f16: 12_288, f32: 24_576, bf16: 12_288 });
  });
});

describe('training memory', () => {
  it('weights, gradients and two AdamW moments in f32', () => {
    const a = run(gpt2Small());
    const w = 124_439_808 * 4;
    expect(a.train_memory_bytes).toMatchObject({ batch: 1, seq: 1024, weights: w, gradients: w, optimizer: 2 * w });
    expect(a.train_memory_bytes.total).toBe(4 * w + a.train_memory_bytes.activations);
  });

  it('activations, by hand, for one small layer', () => {
    const m = tinyDecoder({}, { decoder: stack('decoder', 1, tinyDecoder().decoder!.layers[0]!, rmsNorm()) });
    const [B, T, C, F, H, V] = [2, 8, 64, 256, 4, 256];
    // (B,T,C), each value once however many ops save it: embedding out, attn-norm out, q and k
    // after RoPE, v, attention out, residual, mlp-norm out, residual, final-norm out = 10;
    // (B,T,F): MLP pre- and post-activation; (B,T): ids, 3 rstd, targets, loss logsumexp;
    // (B,H,T): attention logsumexp; (T): positions; (B,T,V): logits.
    const floats = 10 * B * T * C + 2 * B * T * F + 6 * B * T + B * H * T + T + B * T * V;
    expect(run(m, { batch: B, seq: T }).train_memory_bytes.activations).toBe(4 * floats);
  });

  it('defaults to the train section, options override it', () => {
    const m = { ...tinyDecoder(), train: train({ batch: 4, seq_len: 32 }) };
    expect(run(m).train_memory_bytes).toMatchObject({ batch: 4, seq: 32 });
    expect(run(m, { batch: 1, seq: 16 }).train_memory_bytes).toMatchObject({ batch: 1, seq: 16 });
    const grows = run(m, { batch: 8 }).train_memory_bytes.activations;
    expect(grows).toBeGreaterThan(run(m).train_memory_bytes.activations);
  });
});

describe('compute-optimal budget and JSON', () => {
  it('20 tokens per parameter; FLOPs = train FLOPs per token × tokens', () => {
    const a = run(llama2_7b());
    expect(a.compute_optimal.tokens).toBe(20 * 6_738_415_616);
    expect(a.compute_optimal.flops).toBe(a.flops_per_token.train * a.compute_optimal.tokens);
    expect(a.compute_optimal.source).toMatch(/Hoffmann et al\. 2022/);
  });

  it('toJson has the documented shape', () => {
    const j = toJson(run(mistral7b())) as Record<string, Record<string, unknown>>;
    expect(j['model']).toBe('mistral-7b');
    expect(j['params']).toMatchObject({ total: 7_241_732_096, active: 7_241_732_096 });
    expect(Object.keys(j['params']!['by_component'] as object)).toEqual(['embeddings', 'attention', 'mlp', 'norms', 'head']);
    expect(j['flops_per_token']).toHaveProperty('forward');
    expect(j['flops_per_token']).toHaveProperty('train');
    expect(j['kv_cache_bytes_per_token']).toMatchObject({ f16: 131_072, f32: 262_144 });
    expect(Object.keys(j['train_memory_bytes']!)).toEqual(['batch', 'seq', 'weights', 'gradients', 'optimizer', 'activations', 'total']);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});

/** A decoder whose layers differ (selector-style): windows, a post-norm layer, an MoE layer, interleaved. */
function mixedLayers(): ModelSpec {
  const m = tinyDecoder({}, {});
  const base = m.decoder!.layers[0]!;
  const variants: Partial<LayerSpec>[] = [
    {},
    { attention: { ...base.attention, window: 8 } },
    {},
    { placement: 'post' },
    { attention: { ...base.attention, window: 8 } },
    { moe: moe(4, 2) },
    {},
  ];
  const layers = variants.map((v, index) => ({ ...base, ...v, index }));
  return { ...m, decoder: { ...m.decoder!, layers } };
}

describe('compact lowering for analysis (experts and identical layers counted once, multiplied)', () => {
  /** The analysis of the compact graph, which does not grow with the number of experts. */
  function compact(m: ModelSpec, opts?: { batch?: number; seq?: number }): Analysis {
    const lowered = lower(m, { compactExperts: true });
    expect(lowered.diagnostics).toEqual([]);
    return analyze(m, lowered.graph, opts, lowered);
  }

  const cases: [string, () => ModelSpec][] = [
    ['Mixtral-8x7B', mixtral8x7b],
    [
      'gated MoE with biases, router bias and 3 shared experts',
      () =>
        tinyDecoder({ mlp: { activation: 'swiglu', hidden: 96, bias: true }, moe: moe(6, 2, { shared_experts: 3, router_bias: true }) }),
    ],
    ['non-gated MoE, top_k = experts', () => tinyDecoder({ moe: moe(4, 4, { shared_experts: 1 }) })],
    ['GPT-2 small: 12 identical layers, lowered once plus the last', gpt2Small],
    ['Mistral-7B (sliding window)', mistral7b],
    ['BERT-base (post-norm, pooler)', bertBase],
    ['T5-small (two stacks, cross-attention)', t5Small],
    ['7 layers that differ in window, placement and experts, interleaved', mixedLayers],
  ];
  for (const [name, make] of cases) {
    it(`${name}: the same numbers as the full graph, to the last parameter, FLOP and byte`, () => {
      const m = make();
      expect(toJson(compact(m, { batch: 3, seq: 17 }))).toEqual(toJson(run(m, { batch: 3, seq: 17 })));
    });
  }

  it('the compact graph of a uniform stack has two layers (a representative and the last), whatever the number of layers', () => {
    const { graph, layerCopies } = lower(gpt2Small(), { compactExperts: true });
    expect([...layerCopies]).toEqual([
      ['decoder.0', 11],
      ['decoder.11', 1],
    ]);
    expect(new Set(graph.params.flatMap((p) => (p.layer ? [p.layer.index] : [])))).toEqual(new Set([0, 11]));
  });

  it('the compact graph has one parameter per expert projection, whatever the number of experts', () => {
    const few = lower(tinyDecoder({ moe: moe(4, 2, { shared_experts: 2 }) }), { compactExperts: true }).graph.params.length;
    const many = lower(tinyDecoder({ moe: moe(4096, 2, { shared_experts: 16 }) }), { compactExperts: true }).graph.params.length;
    expect(many).toBe(few);
  });

  it('MoE: the compute-optimal budget says it uses total parameters, and why', () => {
    const a = run(mixtral8x7b());
    expect(a.compute_optimal).toMatchObject({ params_basis: 'total', tokens: 20 * 46_702_792_704 });
    expect(a.compute_optimal.note).toContain('20 × active parameters would be 257,598,504,960 tokens');
    expect(run(gpt2Small()).compute_optimal.note).toBeNull();
  });
});
