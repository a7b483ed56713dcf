/**
 * T5 (the inverse of import/t5.ts): T5ForConditionalGeneration, scale-only RMS norms, no
 * biases, unscaled attention, one relative-position table per stack in block 0's
 * self-attention, the token table `shared` (written again as each stack's `embed_tokens`, the
 * aliases T5 files carry, so every transformers version finds it), `lm_head` when untied.
 * `feed_forward_proj` from the MLP's activation: "gated-gelu" is the tanh-GELU GLU (geglu_tanh).
 */
import { ExportError, type ExportFamily } from './form.js';
import type { StackSpec } from '../../../semantics/model.js';

const FEED_FORWARD: Record<string, string> = {
  relu: 'relu',
  gelu: 'gelu',
  gelu_tanh: 'gelu_new',
  silu: 'silu',
  geglu_tanh: 'gated-gelu',
  reglu: 'gated-relu',
  swiglu: 'gated-silu',
};

export const t5: ExportFamily = {
  name: 't5',
  form(spec) {
    const enc = spec.encoder;
    const dec = spec.decoder;
    const layer = enc?.layers[0];
    if (!enc || !dec || !layer || !dec.layers[0]) throw new ExportError(`t5 is an encoder–decoder (arch = encoder_decoder)`);
    const pos = spec.embedding.positions;
    if (pos.kind !== 'relative') throw new ExportError(`t5 uses relative position buckets`);
    const act = layer.mlp.activation;
    const proj = FEED_FORWARD[act];
    if (!proj)
      throw new ExportError(
        `block.mlp.activation = ${act} has no t5 form (feed_forward_proj has ${Object.keys(FEED_FORWARD).join(', ')}); use --to torch`,
      );
    const gated = proj.startsWith('gated-');
    const { heads: H, head_dim: D } = layer.attention;
    const C = spec.d_model;
    const F = layer.mlp.hidden;
    const V = spec.vocab;
    const NB = pos.buckets;
    const tied = spec.embedding.tied;
    return {
      modelType: 't5',
      autoClass: 'AutoModelForSeq2SeqLM',
      config: {
        architectures: ['T5ForConditionalGeneration'],
        d_ff: F,
        d_kv: D,
        d_model: C,
        decoder_start_token_id: 0,
        dropout_rate: layer.dropout,
        feed_forward_proj: proj,
        initializer_factor: 1.0,
        is_encoder_decoder: true,
        layer_norm_epsilon: layer.norm.eps,
        n_positions: spec.context,
        num_decoder_layers: dec.layers.length,
        num_heads: H,
        num_layers: enc.layers.length,
        pad_token_id: 0,
        relative_attention_max_distance: pos.max_distance,
        relative_attention_num_buckets: NB,
        tie_word_embeddings: tied,
        vocab_size: V,
      },
      tensors(t) {
        const tokens = t.p.take('embed.tokens.weight', [V, C]);
        for (const name of ['shared.weight', 'encoder.embed_tokens.weight', 'decoder.embed_tokens.weight']) t.set(name, [V, C], tokens);
        if (!tied) t.copy('lm_head.weight', 'lm_head.weight', [V, C]);
        const attention = (from: string, hf: string) => {
          for (const x of ['q', 'k', 'v']) t.copy(`${from}.${x}.weight`, `${hf}.${x}.weight`, [H * D, C]);
          t.copy(`${from}.o.weight`, `${hf}.o.weight`, [C, H * D]);
        };
        const stack = (role: 'encoder' | 'decoder', s: StackSpec) => {
          t.copy(`${role}.rel_bias.weight`, `${role}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`, [NB, H]);
          s.layers.forEach((_, i) => {
            const m = `${role}.layers.${i}.`;
            const h = `${role}.block.${i}.layer.`;
            t.copy(`${m}attn_norm.weight`, `${h}0.layer_norm.weight`, [C]);
            attention(`${m}attn`, `${h}0.SelfAttention`);
            const ff = role === 'decoder' ? 2 : 1;
            if (role === 'decoder') {
              t.copy(`${m}cross_norm.weight`, `${h}1.layer_norm.weight`, [C]);
              attention(`${m}cross_attn`, `${h}1.EncDecAttention`);
            }
            t.copy(`${m}mlp_norm.weight`, `${h}${ff}.layer_norm.weight`, [C]);
            const d = `${h}${ff}.DenseReluDense.`;
            if (gated) {
              t.copy(`${m}mlp.gate.weight`, `${d}wi_0.weight`, [F, C]);
              t.copy(`${m}mlp.up.weight`, `${d}wi_1.weight`, [F, C]);
            } else t.copy(`${m}mlp.up.weight`, `${d}wi.weight`, [F, C]);
            t.copy(`${m}mlp.down.weight`, `${d}wo.weight`, [C, F]);
          });
          t.copy(`${role}.norm.weight`, `${role}.final_layer_norm.weight`, [C]);
        };
        stack('encoder', enc);
        stack('decoder', dec);
      },
    };
  },
};
