/**
 * The one table of knobs: which names may appear in which section, what type each takes,
 * and a one-line description (shown by diagnostics and usable by an editor). The grammar
 * accepts any `key: value` or `key { }`; this table is what makes a misspelt or misplaced
 * knob a located error with a suggestion. Contextual defaults (a knob whose default depends
 * on another) live in build-model.ts next to the code that applies them.
 */

/** A variant value: `name` or `name(arg: value, ...)`, e.g. `rmsnorm(eps: 1e-6)`. */
export interface VariantDef {
  readonly args: Readonly<Record<string, KnobType>>;
  /** Positional arguments fill these names in order. */
  readonly positional?: readonly string[];
  readonly doc: string;
}

/**
 * The range of a numeric knob, inclusive. Every size knob has one: generous next to the
 * largest published models (a few hundred layers, vocabularies of a few hundred thousand,
 * widths of a few tens of thousands, hundreds of experts) but finite, so that every count the
 * analysis reports stays an exact integer and is computed in time proportional to the text.
 */
export interface Range {
  readonly min: number;
  readonly max: number;
}

export type KnobType =
  | { readonly t: 'int'; readonly range?: Range }
  | { readonly t: 'number' }
  | { readonly t: 'bool' }
  | { readonly t: 'string' }
  | { readonly t: 'enum'; readonly values: readonly string[] }
  /** An int, or `none` (e.g. `window: none` for global attention). */
  | { readonly t: 'int_or_none'; readonly range?: Range }
  | { readonly t: 'pair' }
  | { readonly t: 'variant'; readonly variants: Readonly<Record<string, VariantDef>>; readonly noneAllowed?: boolean };

export interface KnobDef {
  readonly type: KnobType;
  readonly doc: string;
}

export interface SectionDef {
  readonly doc: string;
  readonly knobs: Readonly<Record<string, KnobDef>>;
  readonly sections: Readonly<Record<string, SectionDef>>;
  /** Whether `name[selector] { }` is allowed for this section (only `block`). */
  readonly selectable?: boolean;
}

const num = { t: 'number' } as const;
/** An integer knob in [min, max]. */
const intIn = (min: number, max: number) => ({ t: 'int', range: { min, max } }) as const;
const K = 2 ** 10;
const M = 2 ** 20;

/** The size ranges, one per fact; the reasons are in the comments. */
const SIZE = {
  vocab: intIn(1, 16 * M), // largest published ~256Ki (Gemma); 2^24 = 16,777,216
  context: intIn(1, 16 * M), // largest published 10M tokens (Llama 4 Scout); 2^24
  d_model: intIn(1, 128 * K), // largest published ~18Ki (PaLM 18,432); 2^17 = 131,072
  layers: intIn(1, K), // largest published ~126 (Llama 3.1 405B); 1,024
  heads: intIn(1, 16 * K), // largest published 128; 16,384
  head_dim: intIn(1, 16 * K), // published 64..256; 16,384
  hidden: intIn(1, M), // largest published ~74K (PaLM 73,728); 2^20 = 1,048,576
  experts: intIn(1, 4 * K), // published 8..256 (DeepSeek-V3), Switch-C 2,048; 4,096
  shared_experts: intIn(0, 16), // published 1..2 (DeepSeekMoE); each is a full MLP per layer
  segments: intIn(0, K), // BERT uses 2
  buckets: intIn(2, 64 * K), // T5 uses 32
  max_distance: intIn(1, 16 * M),
  batch: intIn(1, 64 * K),
  steps: intIn(1, 4 * K * M), // 2^32
  tokens: intIn(1, 2 ** 50), // ~1.1e15; the largest published runs use ~4e13
  every: intIn(1, 4 * K * M),
  seed: intIn(0, 4 * K * M - 1), // a 32-bit seed
} as const;
const bool = { t: 'bool' } as const;

const norm: KnobType = {
  t: 'variant',
  variants: {
    layernorm: {
      args: { eps: num, bias: bool },
      positional: ['eps'],
      doc: 'LayerNorm: subtract the mean, divide by the std, learned scale and shift',
    },
    rmsnorm: { args: { eps: num }, positional: ['eps'], doc: 'RMSNorm: divide by the root mean square, learned scale' },
  },
};

const positions: KnobType = {
  t: 'variant',
  variants: {
    learned: { args: {}, doc: 'a learned absolute position embedding per position (GPT-2, BERT)' },
    sinusoidal: { args: {}, doc: 'fixed sinusoidal absolute positions (Attention Is All You Need)' },
    rope: {
      args: { base: num, fraction: num },
      positional: ['base'],
      doc: 'rotary embeddings on Q and K (base, fraction of head dims rotated)',
    },
    alibi: { args: {}, doc: 'linear attention biases by distance (ALiBi)' },
    relative: {
      args: { buckets: SIZE.buckets, max_distance: SIZE.max_distance },
      doc: 'T5 bucketed relative position bias, one table per stack',
    },
    none: { args: {}, doc: 'no positional information (NoPE)' },
  },
};

const attentionKnobs: Record<string, KnobDef> = {
  heads: { type: SIZE.heads, doc: 'number of query heads' },
  kv_heads: { type: SIZE.heads, doc: 'number of key/value heads: heads = MHA, 1 = MQA, otherwise GQA' },
  head_dim: { type: SIZE.head_dim, doc: 'width of one head (default d_model / heads)' },
  bias: { type: bool, doc: 'bias on the Q, K, V and output projections' },
  dropout: { type: num, doc: 'dropout on the attention weights' },
  scaled: { type: bool, doc: 'scale scores by 1/sqrt(head_dim) (default true); false: unscaled, as T5' },
};

const attention: SectionDef = {
  doc: 'self-attention',
  knobs: {
    ...attentionKnobs,
    causal: { type: bool, doc: 'mask future positions (default: true in a decoder, false in an encoder)' },
    window: { type: { t: 'int_or_none', range: SIZE.context.range }, doc: 'sliding-window size in tokens, or none for global attention' },
  },
  sections: {},
};

const crossAttention: SectionDef = {
  doc: 'cross-attention over the encoder output (decoder of an encoder_decoder model)',
  knobs: { ...attentionKnobs, enabled: { type: bool, doc: 'whether the decoder layer has cross-attention (default true)' } },
  sections: {},
};

const mlp: SectionDef = {
  doc: 'feed-forward network (or mixture of experts)',
  knobs: {
    activation: {
      type: { t: 'enum', values: ['gelu', 'gelu_tanh', 'relu', 'silu', 'swiglu', 'geglu', 'geglu_tanh', 'reglu'] },
      doc: 'activation; swiglu/geglu/geglu_tanh/reglu are gated (two input projections); geglu_tanh gates with the tanh GELU (T5 v1.1, Gemma)',
    },
    hidden: { type: SIZE.hidden, doc: 'hidden width (default 4 * d_model)' },
    bias: { type: bool, doc: 'bias on the MLP projections' },
    experts: { type: SIZE.experts, doc: 'number of routed experts (1 = a dense MLP)' },
    top_k: { type: SIZE.experts, doc: 'experts each token is routed to' },
    router_bias: { type: bool, doc: 'bias on the router projection' },
    renormalize: { type: bool, doc: 'renormalise the top-k routing weights to sum to 1' },
    aux_loss: { type: num, doc: 'coefficient of the load-balancing auxiliary loss' },
    shared_experts: { type: SIZE.shared_experts, doc: 'experts every token goes through besides the routed ones' },
  },
  sections: {},
};

const block: SectionDef = {
  doc: 'one transformer layer, repeated `layers` times; block[selector] { } overrides chosen layers',
  selectable: true,
  knobs: {
    norm: { type: norm, doc: 'the normalisation inside the block' },
    placement: {
      type: { t: 'enum', values: ['pre', 'post'] },
      doc: 'normalise before each sublayer (pre) or after the residual add (post)',
    },
    parallel: { type: bool, doc: 'attention and MLP read the same input and are summed (GPT-J, NeoX)' },
    shared_norm: { type: bool, doc: 'with parallel: one norm feeds both branches' },
    dropout: { type: num, doc: 'dropout on each residual branch' },
  },
  sections: { attention, cross_attention: crossAttention, mlp },
};

const finalNorm: KnobDef = { type: { ...norm, noneAllowed: true }, doc: 'norm after the last layer, or none' };

const stack = (role: string): SectionDef => ({
  doc: `the ${role} stack of an encoder_decoder model`,
  knobs: { layers: { type: SIZE.layers, doc: `number of ${role} layers` }, final_norm: finalNorm },
  sections: { block },
});

export const modelSchema: SectionDef = {
  doc: 'a model',
  knobs: {
    arch: {
      type: { t: 'enum', values: ['decoder', 'encoder', 'encoder_decoder'] },
      doc: 'decoder-only (GPT), encoder-only (BERT) or encoder–decoder (T5)',
    },
    vocab: { type: SIZE.vocab, doc: 'vocabulary size (or tokenizer.vocab)' },
    vocab_multiple: { type: intIn(1, 64 * K), doc: 'pad the vocabulary up to a multiple of this' },
    context: { type: SIZE.context, doc: 'context window in tokens (a hard limit)' },
    d_model: { type: SIZE.d_model, doc: 'width of the residual stream' },
    layers: { type: SIZE.layers, doc: 'number of layers' },
    bias: { type: bool, doc: 'default for every bias knob (attention, mlp)' },
    dropout: { type: num, doc: 'default for every dropout knob' },
    final_norm: finalNorm,
    logit_scale: {
      type: num,
      doc: 'the logits are multiplied by this, in (0, 1000] (default 1): T5 with a tied head 1 / sqrt(d_model), Cohere 0.0625',
    },
    license: {
      type: { t: 'string' },
      doc: 'license of the weights: an SPDX id ("Apache-2.0", "MIT") or a model license ("llama2", "gemma"); not inherited by extends',
    },
  },
  sections: {
    let: { doc: 'named constants for expressions', knobs: {}, sections: {} },
    embedding: {
      doc: 'token, position and segment embeddings',
      knobs: {
        positions: { type: positions, doc: 'positional information' },
        tied: { type: bool, doc: 'the output head shares the token-embedding matrix' },
        segments: { type: SIZE.segments, doc: 'number of segment (token-type) embeddings, 0 for none' },
        norm: { type: { ...norm, noneAllowed: true }, doc: 'norm on the summed embeddings (BERT), or none' },
        dropout: { type: num, doc: 'dropout on the embeddings' },
      },
      sections: {},
    },
    head: {
      doc: 'the output head',
      knobs: {
        kind: { type: { t: 'enum', values: ['lm', 'none'] }, doc: 'lm: logits over the vocabulary; none: hidden states only' },
        bias: { type: bool, doc: 'bias on the LM head' },
        transform: {
          type: { t: 'enum', values: ['none', 'gelu', 'gelu_tanh', 'relu', 'silu'] },
          doc: "BERT's masked-LM transform before the LM projection: dense d_model → d_model + this activation + the layers' norm, or none",
        },
        pooler: { type: bool, doc: "BERT's pooler (dense + tanh on the first token)" },
      },
      sections: {},
    },
    block,
    encoder: stack('encoder'),
    decoder: stack('decoder'),
  },
};

const warmup = intIn(0, SIZE.steps.range.max);

export const trainSchema: SectionDef = {
  doc: 'a training recipe',
  knobs: {
    data: { type: { t: 'string' }, doc: 'a built-in corpus ("moby-dick") or a path to a text file, folder or .bin token file' },
    tokenizer: {
      type: { t: 'enum', values: ['byte', 'char', 'gpt2'] },
      doc: 'byte-level, character-level (vocabulary from the corpus) or GPT-2 BPE',
    },
    objective: {
      type: { t: 'enum', values: ['causal_lm', 'mlm', 'seq2seq'] },
      doc: 'next-token prediction, masked LM, or sequence-to-sequence',
    },
    batch: { type: SIZE.batch, doc: 'sequences per micro-step' },
    seq_len: { type: SIZE.context, doc: 'training sequence length (default: context)' },
    steps: { type: SIZE.steps, doc: 'optimizer steps (or give tokens)' },
    tokens: { type: SIZE.tokens, doc: 'token budget (or give steps)' },
    accumulation: { type: SIZE.batch, doc: 'micro-steps per optimizer step' },
    optimizer: {
      type: {
        t: 'variant',
        variants: {
          adamw: {
            args: { lr: num, betas: { t: 'pair' }, eps: num, weight_decay: num },
            doc: 'AdamW with decoupled weight decay on matrices',
          },
        },
      },
      doc: 'the optimizer',
    },
    schedule: {
      type: {
        t: 'variant',
        variants: {
          cosine: { args: { warmup: warmup, min_lr: num }, doc: 'linear warmup, then cosine decay to min_lr' },
          linear: { args: { warmup: warmup, min_lr: num }, doc: 'linear warmup, then linear decay to min_lr' },
          constant: { args: { warmup: warmup }, doc: 'linear warmup, then constant' },
        },
      },
      doc: 'the learning-rate schedule',
    },
    clip: { type: num, doc: 'global-norm gradient clipping (0 = off)' },
    checkpoint_every: { type: intIn(0, SIZE.every.range.max), doc: 'save a checkpoint every N steps (0 = only at the end)' },
    seed: { type: SIZE.seed, doc: 'random seed for init, data order and dropout' },
    dtype: { type: { t: 'enum', values: ['f32', 'f16', 'bf16'] }, doc: 'compute dtype (weights are kept in f32)' },
    val_fraction: { type: num, doc: 'fraction of the data held out for validation' },
    mask_prob: { type: num, doc: 'masking probability for mlm' },
  },
  sections: {
    eval: {
      doc: 'periodic evaluation',
      knobs: {
        every: { type: SIZE.every, doc: 'evaluate every N steps' },
        batches: { type: intIn(1, 64 * K), doc: 'validation batches per evaluation' },
      },
      sections: {},
    },
  },
};

export function describeType(t: KnobType): string {
  switch (t.t) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'bool':
      return 'true or false';
    case 'string':
      return 'a string';
    case 'enum':
      return `one of ${t.values.join(', ')}`;
    case 'int_or_none':
      return 'an integer or none';
    case 'pair':
      return 'a pair (a, b)';
    case 'variant':
      return `one of ${Object.keys(t.variants).join(', ')}${t.noneAllowed ? ', none' : ''}`;
  }
}

/** `[1, 4,096]`: the form diagnostics and docs show a range in. */
export function rangeText(r: Range): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return `[${n(r.min)}, ${n(r.max)}]`;
}
