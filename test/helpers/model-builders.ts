/**
 * Build resolved `ModelSpec`s directly (no parser), plus the reference models whose published
 * parameter counts the analysis must reproduce. Every layer is spelled out, as semantics would.
 */
import { span } from '../../compiler/diagnostics/span.js';
import type {
  AttentionSpec,
  EmbeddingSpec,
  HeadSpec,
  LayerSpec,
  MlpSpec,
  ModelSpec,
  MoeSpec,
  NormSpec,
  StackRole,
  StackSpec,
  TrainSpec,
} from '../../compiler/semantics/model.js';

export const TEST_SPAN = span('<test>', 0, 0);

export const layerNorm = (eps = 1e-5, bias = true): NormSpec => ({ kind: 'layernorm', eps, scale: true, bias });
export const rmsNorm = (eps = 1e-6): NormSpec => ({ kind: 'rmsnorm', eps, scale: true, bias: false });

export function attention(a: Partial<AttentionSpec> & Pick<AttentionSpec, 'heads' | 'head_dim'>): AttentionSpec {
  return { kv_heads: a.heads, causal: true, window: null, bias: false, dropout: 0, scaled: true, ...a };
}

export const mlp = (activation: MlpSpec['activation'], hidden: number, bias = false): MlpSpec => ({ activation, hidden, bias });

export function moe(experts: number, top_k: number, extra: Partial<MoeSpec> = {}): MoeSpec {
  return { experts, top_k, router_bias: false, renormalize: true, aux_loss: 0, shared_experts: 0, ...extra };
}

/** A layer's knobs without its index; `layers` numbers them. */
export type LayerShape = Omit<LayerSpec, 'index'>;

export function layer(l: Partial<LayerShape> & Pick<LayerShape, 'norm' | 'attention' | 'mlp'>): LayerShape {
  return { placement: 'pre', parallel: false, shared_norm: false, cross_attention: null, moe: null, dropout: 0, ...l };
}

export function stack(role: StackRole, n: number, each: LayerShape | ((i: number) => LayerShape), final_norm: NormSpec | null): StackSpec {
  const layers = Array.from({ length: n }, (_, i) => ({ ...(typeof each === 'function' ? each(i) : each), index: i }));
  return { role, layers, final_norm };
}

export interface ModelInit {
  name?: string;
  arch?: ModelSpec['arch'];
  vocab: number;
  context: number;
  d_model: number;
  embedding?: Partial<EmbeddingSpec>;
  encoder?: StackSpec | null;
  decoder?: StackSpec | null;
  head?: Partial<HeadSpec>;
  train?: TrainSpec | null;
}

export function model(m: ModelInit): ModelSpec {
  const arch = m.arch ?? (m.encoder && m.decoder ? 'encoder_decoder' : m.encoder ? 'encoder' : 'decoder');
  return {
    name: m.name ?? 'test',
    file: '<test>',
    span: TEST_SPAN,
    lineage: [],
    arch,
    vocab: m.vocab,
    vocab_raw: m.vocab,
    context: m.context,
    d_model: m.d_model,
    embedding: { positions: { kind: 'none' }, tied: false, segments: 0, norm: null, dropout: 0, ...m.embedding },
    encoder: m.encoder ?? null,
    decoder: m.decoder ?? null,
    head: { kind: 'lm', bias: false, transform: null, pooler: false, logit_scale: 1, ...m.head },
    train: m.train ?? null,
    license: null,
    knobs: new Map(),
  };
}

export function train(t: Partial<TrainSpec> = {}): TrainSpec {
  return {
    data: 'moby-dick',
    tokenizer: 'byte',
    objective: 'causal_lm',
    batch: 8,
    seq_len: 64,
    steps: 100,
    tokens: 8 * 64 * 100,
    accumulation: 1,
    optimizer: { kind: 'adamw', lr: 3e-4, betas: [0.9, 0.95], eps: 1e-8, weight_decay: 0.1 },
    schedule: { kind: 'cosine', warmup: 10, min_lr: 3e-5 },
    clip: 1,
    eval: { every: 50, batches: 4 },
    checkpoint_every: 0,
    seed: 1,
    dtype: 'f32',
    val_fraction: 0.1,
    mask_prob: 0.15,
    ...t,
  };
}

// ── reference models ──────────────────────────────────────────────────────────────

/** GPT-2 small: 124,439,808 parameters. */
export function gpt2Small(): ModelSpec {
  const block = layer({
    norm: layerNorm(1e-5),
    attention: attention({ heads: 12, head_dim: 64, bias: true, dropout: 0.1 }),
    mlp: mlp('gelu_tanh', 3072, true),
    dropout: 0.1,
  });
  return model({
    name: 'gpt2-small',
    vocab: 50257,
    context: 1024,
    d_model: 768,
    embedding: { positions: { kind: 'learned' }, tied: true, dropout: 0.1 },
    decoder: stack('decoder', 12, block, layerNorm(1e-5)),
  });
}

interface LlamaShape {
  name: string;
  kv_heads: number;
  hidden: number;
  window: number | null;
  context: number;
  moe?: MoeSpec;
}

function llamaLike(s: LlamaShape): ModelSpec {
  const block = layer({
    norm: rmsNorm(1e-5),
    attention: attention({ heads: 32, kv_heads: s.kv_heads, head_dim: 128, window: s.window }),
    mlp: mlp('swiglu', s.hidden),
    moe: s.moe ?? null,
  });
  return model({
    name: s.name,
    vocab: 32000,
    context: s.context,
    d_model: 4096,
    embedding: { positions: { kind: 'rope', base: s.window ? 1e6 : 1e4, fraction: 1 } },
    decoder: stack('decoder', 32, block, rmsNorm(1e-5)),
  });
}

/** Llama-2-7B: 6,738,415,616 parameters. */
export const llama2_7b = () => llamaLike({ name: 'llama-2-7b', kv_heads: 32, hidden: 11008, window: null, context: 4096 });

/** Mistral-7B-v0.1: 7,241,732,096 parameters. */
export const mistral7b = () => llamaLike({ name: 'mistral-7b', kv_heads: 8, hidden: 14336, window: 4096, context: 32768 });

/** Mixtral-8x7B: 46,702,792,704 total, 12,879,925,248 active. */
export const mixtral8x7b = () =>
  llamaLike({ name: 'mixtral-8x7b', kv_heads: 8, hidden: 14336, window: 4096, context: 32768, moe: moe(8, 2) });

/** BERT-base-uncased as BertModel (embeddings + encoder + pooler): 109,482,240 parameters. */
export function bertBase(): ModelSpec {
  const block = layer({
    norm: layerNorm(1e-12),
    placement: 'post',
    attention: attention({ heads: 12, head_dim: 64, causal: false, bias: true, dropout: 0.1 }),
    mlp: mlp('gelu', 3072, true),
    dropout: 0.1,
  });
  return model({
    name: 'bert-base-uncased',
    vocab: 30522,
    context: 512,
    d_model: 768,
    embedding: { positions: { kind: 'learned' }, segments: 2, norm: layerNorm(1e-12), dropout: 0.1 },
    encoder: stack('encoder', 12, block, null),
    head: { kind: 'none', pooler: true },
  });
}

/** T5-small (v1.0): 60,506,624 parameters. */
export function t5Small(): ModelSpec {
  const norm: NormSpec = { kind: 'rmsnorm', eps: 1e-6, scale: true, bias: false };
  const attn = (causal: boolean) => attention({ heads: 8, head_dim: 64, causal, dropout: 0.1, scaled: false });
  const common = { norm, mlp: mlp('relu', 2048), dropout: 0.1 };
  return model({
    name: 't5-small',
    vocab: 32128,
    context: 512,
    d_model: 512,
    embedding: { positions: { kind: 'relative', buckets: 32, max_distance: 128 }, tied: true, dropout: 0.1 },
    encoder: stack('encoder', 6, layer({ ...common, attention: attn(false) }), norm),
    decoder: stack('decoder', 6, layer({ ...common, attention: attn(true), cross_attention: attn(false) }), norm),
  });
}

/** A small decoder for variant tests (GQA, windows, MoE, positions …). */
export function tinyDecoder(l: Partial<LayerShape> = {}, m: Partial<ModelInit> = {}): ModelSpec {
  const block = layer({
    norm: rmsNorm(),
    attention: attention({ heads: 4, head_dim: 16 }),
    mlp: mlp('gelu', 256),
    ...l,
  });
  return model({
    name: 'tiny',
    vocab: 256,
    context: 128,
    d_model: 64,
    embedding: { positions: { kind: 'rope', base: 10000, fraction: 1 } },
    decoder: stack('decoder', 2, block, rmsNorm()),
    ...m,
  });
}
