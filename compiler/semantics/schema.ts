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

export type KnobType =
  | { readonly t: 'int' }
  | { readonly t: 'number' }
  | { readonly t: 'bool' }
  | { readonly t: 'string' }
  | { readonly t: 'enum'; readonly values: readonly string[] }
  /** An int, or `none` (e.g. `window: none` for global attention). */
  | { readonly t: 'int_or_none' }
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

const int = { t: 'int' } as const;
const num = { t: 'number' } as const;
const bool = { t: 'bool' } as const;

const norm: KnobType = {
  t: 'variant',
  variants: {
    layernorm: { args: { eps: num, bias: bool }, positional: ['eps'], doc: 'LayerNorm: subtract the mean, divide by the std, learned scale and shift' },
    rmsnorm: { args: { eps: num }, positional: ['eps'], doc: 'RMSNorm: divide by the root mean square, learned scale' },
  },
};

const positions: KnobType = {
  t: 'variant',
  variants: {
    learned: { args: {}, doc: 'a learned absolute position embedding per position (GPT-2, BERT)' },
    sinusoidal: { args: {}, doc: 'fixed sinusoidal absolute positions (Attention Is All You Need)' },
    rope: { args: { base: num, fraction: num }, positional: ['base'], doc: 'rotary embeddings on Q and K (base, fraction of head dims rotated)' },
    alibi: { args: {}, doc: 'linear attention biases by distance (ALiBi)' },
    relative: { args: { buckets: int, max_distance: int }, doc: 'T5 bucketed relative position bias, one table per stack' },
    none: { args: {}, doc: 'no positional information (NoPE)' },
  },
};

const attentionKnobs: Record<string, KnobDef> = {
  heads: { type: int, doc: 'number of query heads' },
  kv_heads: { type: int, doc: 'number of key/value heads: heads = MHA, 1 = MQA, otherwise GQA' },
  head_dim: { type: int, doc: 'width of one head (default d_model / heads)' },
  bias: { type: bool, doc: 'bias on the Q, K, V and output projections' },
  dropout: { type: num, doc: 'dropout on the attention weights' },
};

const attention: SectionDef = {
  doc: 'self-attention',
  knobs: {
    ...attentionKnobs,
    causal: { type: bool, doc: 'mask future positions (default: true in a decoder, false in an encoder)' },
    window: { type: { t: 'int_or_none' }, doc: 'sliding-window size in tokens, or none for global attention' },
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
    activation: { type: { t: 'enum', values: ['gelu', 'gelu_tanh', 'relu', 'silu', 'swiglu', 'geglu', 'reglu'] }, doc: 'activation; swiglu/geglu/reglu are gated (two input projections)' },
    hidden: { type: int, doc: 'hidden width (default 4 * d_model)' },
    bias: { type: bool, doc: 'bias on the MLP projections' },
    experts: { type: int, doc: 'number of routed experts (1 = a dense MLP)' },
    top_k: { type: int, doc: 'experts each token is routed to' },
    router_bias: { type: bool, doc: 'bias on the router projection' },
    renormalize: { type: bool, doc: 'renormalise the top-k routing weights to sum to 1' },
    aux_loss: { type: num, doc: 'coefficient of the load-balancing auxiliary loss' },
    shared_experts: { type: int, doc: 'experts every token goes through besides the routed ones' },
  },
  sections: {},
};

const block: SectionDef = {
  doc: 'one transformer layer, repeated `layers` times; block[selector] { } overrides chosen layers',
  selectable: true,
  knobs: {
    norm: { type: norm, doc: 'the normalisation inside the block' },
    placement: { type: { t: 'enum', values: ['pre', 'post'] }, doc: 'normalise before each sublayer (pre) or after the residual add (post)' },
    parallel: { type: bool, doc: 'attention and MLP read the same input and are summed (GPT-J, NeoX)' },
    shared_norm: { type: bool, doc: 'with parallel: one norm feeds both branches' },
    dropout: { type: num, doc: 'dropout on each residual branch' },
  },
  sections: { attention, cross_attention: crossAttention, mlp },
};

const finalNorm: KnobDef = { type: { ...norm, noneAllowed: true }, doc: 'norm after the last layer, or none' };

const stack = (role: string): SectionDef => ({
  doc: `the ${role} stack of an encoder_decoder model`,
  knobs: { layers: { type: int, doc: `number of ${role} layers` }, final_norm: finalNorm },
  sections: { block },
});

export const modelSchema: SectionDef = {
  doc: 'a model',
  knobs: {
    arch: { type: { t: 'enum', values: ['decoder', 'encoder', 'encoder_decoder'] }, doc: 'decoder-only (GPT), encoder-only (BERT) or encoder–decoder (T5)' },
    vocab: { type: int, doc: 'vocabulary size (or tokenizer.vocab)' },
    vocab_multiple: { type: int, doc: 'pad the vocabulary up to a multiple of this' },
    context: { type: int, doc: 'context window in tokens (a hard limit)' },
    d_model: { type: int, doc: 'width of the residual stream' },
    layers: { type: int, doc: 'number of layers' },
    bias: { type: bool, doc: 'default for every bias knob (attention, mlp)' },
    dropout: { type: num, doc: 'default for every dropout knob' },
    final_norm: finalNorm,
  },
  sections: {
    let: { doc: 'named constants for expressions', knobs: {}, sections: {} },
    embedding: {
      doc: 'token, position and segment embeddings',
      knobs: {
        positions: { type: positions, doc: 'positional information' },
        tied: { type: bool, doc: 'the output head shares the token-embedding matrix' },
        segments: { type: int, doc: 'number of segment (token-type) embeddings, 0 for none' },
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
        pooler: { type: bool, doc: "BERT's pooler (dense + tanh on the first token)" },
      },
      sections: {},
    },
    block,
    encoder: stack('encoder'),
    decoder: stack('decoder'),
  },
};

export const trainSchema: SectionDef = {
  doc: 'a training recipe',
  knobs: {
    data: { type: { t: 'string' }, doc: 'a built-in corpus ("moby-dick") or a path to a text file, folder or .bin token file' },
    tokenizer: { type: { t: 'enum', values: ['byte', 'char', 'gpt2'] }, doc: 'byte-level, character-level (vocabulary from the corpus) or GPT-2 BPE' },
    objective: { type: { t: 'enum', values: ['causal_lm', 'mlm', 'seq2seq'] }, doc: 'next-token prediction, masked LM, or sequence-to-sequence' },
    batch: { type: int, doc: 'sequences per micro-step' },
    seq_len: { type: int, doc: 'training sequence length (default: context)' },
    steps: { type: int, doc: 'optimizer steps (or give tokens)' },
    tokens: { type: int, doc: 'token budget (or give steps)' },
    accumulation: { type: int, doc: 'micro-steps per optimizer step' },
    optimizer: {
      type: {
        t: 'variant',
        variants: { adamw: { args: { lr: num, betas: { t: 'pair' }, eps: num, weight_decay: num }, doc: 'AdamW with decoupled weight decay on matrices' } },
      },
      doc: 'the optimizer',
    },
    schedule: {
      type: {
        t: 'variant',
        variants: {
          cosine: { args: { warmup: int, min_lr: num }, doc: 'linear warmup, then cosine decay to min_lr' },
          linear: { args: { warmup: int, min_lr: num }, doc: 'linear warmup, then linear decay to min_lr' },
          constant: { args: { warmup: int }, doc: 'linear warmup, then constant' },
        },
      },
      doc: 'the learning-rate schedule',
    },
    clip: { type: num, doc: 'global-norm gradient clipping (0 = off)' },
    checkpoint_every: { type: int, doc: 'save a checkpoint every N steps (0 = only at the end)' },
    seed: { type: int, doc: 'random seed for init, data order and dropout' },
    dtype: { type: { t: 'enum', values: ['f32', 'f16', 'bf16'] }, doc: 'compute dtype (weights are kept in f32)' },
    val_fraction: { type: num, doc: 'fraction of the data held out for validation' },
    mask_prob: { type: num, doc: 'masking probability for mlm' },
  },
  sections: {
    eval: {
      doc: 'periodic evaluation',
      knobs: { every: { type: int, doc: 'evaluate every N steps' }, batches: { type: int, doc: 'validation batches per evaluation' } },
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
