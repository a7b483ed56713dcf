/**
 * T5 (modeling_t5: T5ForConditionalGeneration): an encoder–decoder with scale-only RMS
 * "LayerNorm" (T5LayerNorm), pre-norm sublayers, no biases, unscaled attention (1/√d_kv is
 * folded into the initialisation), one bucketed relative-position table per stack (stored in
 * block 0's self-attention, read by every layer; the decoder's buckets causal), no position
 * bias in cross-attention, and one token table `shared` read by both stacks. The head is tied
 * to it by default, and then HF scales the decoder's output by d_model^-0.5 before it: mspec's
 * `logit_scale = 1 / sqrt(d_model)`. T5 v1.1 / Flan-T5 (feed_forward_proj "gated-gelu", an
 * untied `lm_head`) gate the MLP with wi_0 through the tanh GELU times wi_1: mspec's
 * geglu_tanh with mlp.gate = wi_0, mlp.up = wi_1.
 */
import { type HfConfig, ImportError, specNum } from './config.js';
import type { Family } from './family.js';

/**
 * feed_forward_proj as T5Config reads it: "[gated-]ACT", and "gated-gelu" means the tanh GELU
 * (gelu_new) for backward compatibility. Non-gated and gated mspec activations by ACT.
 */
const PLAIN: Readonly<Record<string, string>> = {
  relu: 'relu',
  gelu: 'gelu',
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  silu: 'silu',
  swish: 'silu',
};
const GATED: Readonly<Record<string, string>> = {
  gelu: 'geglu_tanh', // T5Config: "gated-gelu" → dense_act_fn = "gelu_new"
  gelu_new: 'geglu_tanh',
  gelu_pytorch_tanh: 'geglu_tanh',
  relu: 'reglu',
  silu: 'swiglu',
  swish: 'swiglu',
};

/** The MLP: mspec's activation, whether it is gated, and HF's dense_act_fn for the check below. */
function feedForward(cfg: HfConfig): { activation: string; gated: boolean } {
  const proj = cfg.str('feed_forward_proj', 'relu');
  const parts = proj.split('-');
  const gated = parts[0] === 'gated';
  const act = parts[parts.length - 1]!;
  const activation = parts.length > 2 || (parts.length === 2 && !gated) ? undefined : (gated ? GATED : PLAIN)[act];
  if (!activation)
    throw new ImportError(
      `'${cfg.path}': feed_forward_proj = ${JSON.stringify(proj)} cannot be expressed in mspec (it imports ${[
        ...Object.keys(PLAIN),
        ...Object.keys(GATED).map((a) => `gated-${a}`),
      ].join(', ')})`,
    );
  // Configs written by newer transformers also carry what T5Config derived from it.
  cfg.require('is_gated_act', (v) => v === gated, `feed_forward_proj = "${proj}" is ${gated ? '' : 'not '}gated`);
  const dense = proj === 'gated-gelu' ? 'gelu_new' : act;
  cfg.require('dense_act_fn', (v) => v === dense, `feed_forward_proj = "${proj}" uses ${dense}`);
  return { activation, gated };
}

function dims(cfg: HfConfig) {
  const L = cfg.int('num_layers');
  return {
    C: cfg.int('d_model'),
    H: cfg.int('num_heads'),
    D: cfg.int('d_kv'),
    F: cfg.int('d_ff'),
    V: cfg.int('vocab_size'),
    L,
    Ld: cfg.int('num_decoder_layers', L),
    NB: cfg.int('relative_attention_num_buckets', 32),
    tied: cfg.bool('tie_word_embeddings', true),
  };
}

export const t5: Family = {
  modelTypes: ['t5'],
  fields: [
    'd_model',
    'd_kv',
    'd_ff',
    'num_layers',
    'num_decoder_layers',
    'num_heads',
    'relative_attention_num_buckets',
    'relative_attention_max_distance',
    'layer_norm_epsilon',
    'feed_forward_proj',
    'dense_act_fn',
    'is_gated_act',
    'tie_word_embeddings',
    'vocab_size',
    'n_positions',
    'dropout_rate',
    'decoder_start_token_id',
    'is_encoder_decoder',
    // Training-time initialisation scale and a legacy generation flag: no effect on the function.
    'initializer_factor',
    'output_past',
  ],
  spec(cfg) {
    const { C, H, D, F, V, L, Ld, NB, tied } = dims(cfg);
    const { activation } = feedForward(cfg);
    cfg.require('is_encoder_decoder', (v) => v === true, 'mspec imports T5 as the encoder–decoder T5ForConditionalGeneration');
    // mspec's encoder–decoders start decoding from id 0 and pad sources with it, as T5 does.
    cfg.require('decoder_start_token_id', (v) => v === 0, "mspec's encoder–decoders start decoding from id 0");
    const maxDistance = cfg.int('relative_attention_max_distance', 128);
    const dropout = cfg.num('dropout_rate', 0.1);
    if (!(dropout >= 0 && dropout < 1)) throw new ImportError(`'${cfg.path}': dropout_rate = ${dropout} is not in [0, 1)`);
    const eps = specNum(cfg.num('layer_norm_epsilon', 1e-6));
    // T5 has no position table, so no hard limit; n_positions is the length it was trained at.
    const context = cfg.int('n_positions', 512);
    return `arch = encoder_decoder
      vocab = ${V}
      context = ${context}
      d_model = ${C}
      layers = ${L}
      bias = false
      // dropout_rate: HF T5 also drops inside the MLP and after each final norm, which mspec does not.
      dropout = ${specNum(dropout)}
      embedding { positions: relative(buckets: ${NB}, max_distance: ${maxDistance}), tied: ${tied} }
      block {
        norm: rmsnorm(eps: ${eps})
        placement: pre
        attention { heads: ${H}, head_dim: ${D}, scaled: false }
        mlp { activation: ${activation}, hidden: ${F} }
      }
      encoder { layers: ${L} }
      decoder { layers: ${Ld} }
      final_norm = rmsnorm(eps: ${eps})${tied ? '\n      // HF T5 scales the decoder output by d_model^-0.5 before a tied head.\n      logit_scale = 1 / sqrt(d_model)' : ''}`;
  },
  weights(cfg, w) {
    const { C, H, D, F, V, L, Ld, NB, tied } = dims(cfg);
    const { gated } = feedForward(cfg);
    // HF saves the tied table once as `shared.weight`; older files also keep each stack's alias.
    const table = w.has('shared.weight') ? 'shared.weight' : 'encoder.embed_tokens.weight';
    const tokens = w.take(table, [V, C]);
    w.set('embed.tokens.weight', [V, C], tokens);
    for (const alias of ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight', ...(tied ? ['lm_head.weight'] : [])])
      if (alias !== table) w.tiedCopy(alias, table, tokens);
    if (!tied) w.copy('lm_head.weight', 'lm_head.weight', [V, C]);
    const attention = (hf: string, name: string) => {
      for (const x of ['q', 'k', 'v']) w.copy(`${hf}.${x}.weight`, `${name}.${x}.weight`, [H * D, C]);
      w.copy(`${hf}.o.weight`, `${name}.o.weight`, [C, H * D]);
    };
    for (const [stack, n] of [
      ['encoder', L],
      ['decoder', Ld],
    ] as const) {
      w.copy(`${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`, `${stack}.rel_bias.weight`, [NB, H]);
      for (let i = 0; i < n; i++) {
        const h = `${stack}.block.${i}.layer.`;
        const p = `${stack}.layers.${i}.`;
        w.copy(`${h}0.layer_norm.weight`, `${p}attn_norm.weight`, [C]);
        attention(`${h}0.SelfAttention`, `${p}attn`);
        // The decoder's layer 1 is cross-attention (EncDecAttention); the feed-forward follows it.
        const ff = stack === 'decoder' ? 2 : 1;
        if (stack === 'decoder') {
          w.copy(`${h}1.layer_norm.weight`, `${p}cross_norm.weight`, [C]);
          attention(`${h}1.EncDecAttention`, `${p}cross_attn`);
        }
        w.copy(`${h}${ff}.layer_norm.weight`, `${p}mlp_norm.weight`, [C]);
        const m = `${h}${ff}.DenseReluDense.`;
        if (gated) {
          // T5DenseGatedActDense: wo(act(wi_0 x) · wi_1 x), mspec's glu act(gate) · up.
          w.copy(`${m}wi_0.weight`, `${p}mlp.gate.weight`, [F, C]);
          w.copy(`${m}wi_1.weight`, `${p}mlp.up.weight`, [F, C]);
        } else w.copy(`${m}wi.weight`, `${p}mlp.up.weight`, [F, C]);
        w.copy(`${m}wo.weight`, `${p}mlp.down.weight`, [C, F]);
      }
      w.copy(`${stack}.final_layer_norm.weight`, `${stack}.norm.weight`, [C]);
    }
  },
};
