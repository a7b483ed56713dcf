/**
 * The resolved model: what a `.model` file means after imports, `extends`, expressions,
 * defaults and per-layer selectors are applied. Every later phase (IR lowering, analysis,
 * diff, code generation) reads this and never the AST. All numbers are exact integers where
 * the quantity is a count; every layer is spelled out, so per-layer patterns need no special
 * cases downstream.
 */
import type { Span } from '../diagnostics/span.js';
import type { LicenseInfo } from './licenses.js';

export type NormKind = 'layernorm' | 'rmsnorm';

export interface NormSpec {
  readonly kind: NormKind;
  readonly eps: number;
  /** Learned scale (gamma). Always true for the models in scope; kept explicit for counting. */
  readonly scale: boolean;
  /** Learned shift (beta): LayerNorm's default, never RMSNorm's. */
  readonly bias: boolean;
}

export type Activation = 'gelu' | 'gelu_tanh' | 'relu' | 'silu' | 'swiglu' | 'geglu' | 'geglu_tanh' | 'reglu';

/** Gated activations use two input projections (gate and up) of width `hidden`. */
export const GATED: ReadonlySet<Activation> = new Set(['swiglu', 'geglu', 'geglu_tanh', 'reglu']);

export type Positions =
  | { readonly kind: 'learned' }
  | { readonly kind: 'sinusoidal' }
  | { readonly kind: 'rope'; readonly base: number; readonly fraction: number }
  | { readonly kind: 'alibi' }
  /** T5-style bucketed relative position bias: one table per stack, shared by its layers. */
  | { readonly kind: 'relative'; readonly buckets: number; readonly max_distance: number }
  | { readonly kind: 'none' };

export interface AttentionSpec {
  readonly heads: number;
  /** 1 = MQA, heads = MHA, otherwise GQA with heads / kv_heads queries per K/V head. */
  readonly kv_heads: number;
  readonly head_dim: number;
  readonly causal: boolean;
  /** Sliding-window size in tokens; null means global attention. */
  readonly window: number | null;
  /** Bias on the Q, K, V and output projections. */
  readonly bias: boolean;
  readonly dropout: number;
  /** Scores scaled by 1/√head_dim (true, the default); false: unscaled q·k, as T5. */
  readonly scaled: boolean;
}

export interface MlpSpec {
  readonly activation: Activation;
  readonly hidden: number;
  readonly bias: boolean;
}

export interface MoeSpec {
  readonly experts: number;
  readonly top_k: number;
  /** Router: a linear d_model → experts, softmax, top-k. */
  readonly router_bias: boolean;
  /** Renormalise the top-k routing weights to sum to 1 (Mixtral does). */
  readonly renormalize: boolean;
  /** Coefficient of the Switch-style load-balancing auxiliary loss (0 = none). */
  readonly aux_loss: number;
  /** Experts every token goes through in addition to the routed ones (DeepSeekMoE). */
  readonly shared_experts: number;
}

export type NormPlacement = 'pre' | 'post';

export interface LayerSpec {
  /** 0-based index within its stack. */
  readonly index: number;
  readonly norm: NormSpec;
  readonly placement: NormPlacement;
  /** Attention and MLP read the same input and their outputs are added (GPT-J, NeoX, Falcon). */
  readonly parallel: boolean;
  /** With `parallel`: one norm feeds both branches (GPT-J, Falcon-7B) instead of one each. */
  readonly shared_norm: boolean;
  readonly attention: AttentionSpec;
  /** Cross-attention over the encoder output (decoder of an encoder–decoder model only). */
  readonly cross_attention: AttentionSpec | null;
  readonly mlp: MlpSpec;
  /** Non-null when this layer's MLP is a routed mixture of `mlp`-shaped experts. */
  readonly moe: MoeSpec | null;
  /** Dropout on each residual branch's output. */
  readonly dropout: number;
}

export type StackRole = 'encoder' | 'decoder';

export interface StackSpec {
  readonly role: StackRole;
  readonly layers: readonly LayerSpec[];
  /** Norm after the last layer (pre-norm models have one; post-norm models usually not). */
  readonly final_norm: NormSpec | null;
}

export type Architecture = 'decoder' | 'encoder' | 'encoder_decoder';

export interface EmbeddingSpec {
  readonly positions: Positions;
  /** Output head shares the token-embedding matrix. */
  readonly tied: boolean;
  /** Number of segment (token-type) embeddings; 0 = none (BERT has 2). */
  readonly segments: number;
  /** Norm applied to the summed embeddings (BERT); null = none. */
  readonly norm: NormSpec | null;
  readonly dropout: number;
}

export interface HeadSpec {
  /** `lm`: a projection to the vocabulary; `none`: the model outputs hidden states. */
  readonly kind: 'lm' | 'none';
  readonly bias: boolean;
  /**
   * BERT's masked-LM transform (BertPredictionHeadTransform), applied before the LM projection:
   * dense d_model → d_model with bias, this activation, then a norm with the layers' settings
   * (kind, eps; a LayerNorm with scale and bias in BERT). null = none (the projection reads the
   * final hidden states directly). Only with kind `lm`.
   */
  readonly transform: Exclude<Activation, 'swiglu' | 'geglu' | 'geglu_tanh' | 'reglu'> | null;
  /** BERT's pooler: dense d_model → d_model + tanh over the first token. */
  readonly pooler: boolean;
  /**
   * The model-level `logit_scale`: the logits are multiplied by it (1: nothing is emitted).
   * Applied as Hugging Face T5 (tied: d_model^-0.5) does, to the hidden state entering the LM
   * projection, which equals scaling the logits because the head then has no bias (a biased
   * head with logit_scale ≠ 1 is an error, MS2112).
   */
  readonly logit_scale: number;
}

export type Objective = 'causal_lm' | 'mlm' | 'seq2seq';
export type TokenizerKind = 'byte' | 'char' | 'gpt2';
export type DType = 'f32' | 'f16' | 'bf16';

export interface TrainSpec {
  /** A built-in corpus name (`moby-dick`) or a path relative to the spec file. */
  readonly data: string;
  readonly tokenizer: TokenizerKind;
  readonly objective: Objective;
  /** Sequences per optimizer micro-step. */
  readonly batch: number;
  /** Sequence length used for training (≤ context; defaults to context). */
  readonly seq_len: number;
  /** Exactly one of steps / tokens is given; the other is derived. */
  readonly steps: number;
  readonly tokens: number;
  readonly accumulation: number;
  readonly optimizer: {
    readonly kind: 'adamw';
    readonly lr: number;
    readonly betas: readonly [number, number];
    readonly eps: number;
    readonly weight_decay: number;
  };
  readonly schedule: {
    readonly kind: 'cosine' | 'constant' | 'linear';
    readonly warmup: number;
    readonly min_lr: number;
  };
  /** Global-norm gradient clipping threshold; 0 = off. */
  readonly clip: number;
  readonly eval: { readonly every: number; readonly batches: number };
  /** Save a checkpoint every N steps (0 = only at the end). */
  readonly checkpoint_every: number;
  readonly seed: number;
  readonly dtype: DType;
  /** Fraction of the data held out for validation (taken from the end). */
  readonly val_fraction: number;
  /** MLM masking probability. */
  readonly mask_prob: number;
}

export interface ModelSpec {
  readonly name: string;
  /** The file the model was defined in and the span of its name there. */
  readonly file: string;
  readonly span: Span;
  /** Base model names from nearest to farthest (`extends` chain). */
  readonly lineage: readonly string[];
  readonly arch: Architecture;
  /** Vocabulary after padding to `vocab_multiple`. */
  readonly vocab: number;
  /** Vocabulary as written (before padding). */
  readonly vocab_raw: number;
  readonly context: number;
  readonly d_model: number;
  readonly embedding: EmbeddingSpec;
  /** Present for `encoder` and `encoder_decoder`. */
  readonly encoder: StackSpec | null;
  /** Present for `decoder` and `encoder_decoder`. */
  readonly decoder: StackSpec | null;
  readonly head: HeadSpec;
  readonly train: TrainSpec | null;
  /**
   * The license of the weights this spec describes, as the model itself states it; null when
   * it states none. Never inherited through `extends`: a base's architecture is not its
   * licensed weights (a spec that extends llama2_7b and is trained from scratch is not bound
   * by Llama 2's license). Weights carry their license on: `mspec train --init` records the
   * checkpoint's (see compiler/cli/train-license.ts).
   */
  readonly license: LicenseInfo | null;
  /**
   * The resolved knob values, flattened to dotted paths (`block.attention.heads`,
   * `layers[3].attention.window`) with the span of the source that set each one. `diff`
   * compares these; code generation uses the spans to point at an unsupported knob.
   */
  readonly knobs: ReadonlyMap<string, ResolvedKnob>;
}

export interface ResolvedKnob {
  /** JSON-able value: number, string, boolean, null, or a small array/object. */
  readonly value: unknown;
  /** Where it was set; absent for defaults. */
  readonly span?: Span;
  /** The component the knob belongs to, for grouping in `diff` (e.g. `attention`, `mlp`). */
  readonly group: string;
}

/** Layers of every stack, encoder first: handy for whole-model loops. */
export function allLayers(m: ModelSpec): LayerSpec[] {
  return [...(m.encoder?.layers ?? []), ...(m.decoder?.layers ?? [])];
}
