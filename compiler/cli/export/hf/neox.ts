/**
 * GPT-NeoX / Pythia (the inverse of import/neox.ts): LayerNorm, rotary on `rotary_pct` of each
 * head, `use_parallel_residual` (parallel attention and MLP with a norm each), MLP biases always,
 * an untied head `embed_out`. q, k and v are re-fused into `query_key_value`, interleaved per
 * head (rows h·3D + j·D + d).
 */
import { ExportError, type ExportFamily, interleaveHeads, mapped, sizes } from './form.js';

const ACT: Record<string, string> = { gelu: 'gelu', gelu_tanh: 'gelu_new', relu: 'relu' };

export const neox: ExportFamily = {
  name: 'gpt_neox',
  form(spec) {
    const { layer, att, C, H, D, F, L, V } = sizes(spec);
    const pos = spec.embedding.positions;
    if (pos.kind !== 'rope') throw new ExportError(`gpt_neox uses rotary positions`);
    if (layer.parallel && layer.shared_norm)
      throw new ExportError(
        `block.shared_norm = true has no gpt_neox form: its parallel block has a norm for each branch (use_parallel_residual)`,
      );
    return {
      modelType: 'gpt_neox',
      autoClass: 'AutoModelForCausalLM',
      config: {
        architectures: ['GPTNeoXForCausalLM'],
        attention_bias: att.bias,
        attention_dropout: att.dropout,
        hidden_act: mapped(ACT, layer.mlp.activation, 'block.mlp.activation', 'gpt_neox'),
        hidden_dropout: layer.dropout,
        hidden_size: C,
        intermediate_size: F,
        layer_norm_eps: layer.norm.eps,
        max_position_embeddings: spec.context,
        num_attention_heads: H,
        num_hidden_layers: L,
        rope_scaling: null,
        rotary_emb_base: pos.base,
        rotary_pct: pos.fraction,
        tie_word_embeddings: spec.embedding.tied,
        use_parallel_residual: layer.parallel,
        vocab_size: V,
      },
      tensors(t) {
        const p = t.p;
        t.copy('embed.tokens.weight', 'gpt_neox.embed_in.weight', [V, C]);
        for (let i = 0; i < L; i++) {
          const m = `layers.${i}.`;
          const h = `gpt_neox.layers.${i}.`;
          t.layerNorm(`${m}attn_norm`, `${h}input_layernorm`, C);
          t.layerNorm(`${m}mlp_norm`, `${h}post_attention_layernorm`, C);
          const qkv = ['q', 'k', 'v'].map((n) => p.take(`${m}attn.${n}.weight`, [C, C]));
          t.set(`${h}attention.query_key_value.weight`, [3 * C, C], interleaveHeads(qkv, H, D, C));
          if (att.bias) {
            const bias = ['q', 'k', 'v'].map((n) => p.take(`${m}attn.${n}.bias`, [C]));
            t.set(`${h}attention.query_key_value.bias`, [3 * C], interleaveHeads(bias, H, D, 1));
          }
          t.linear(`${m}attn.o`, `${h}attention.dense`, C, C, att.bias);
          t.linear(`${m}mlp.up`, `${h}mlp.dense_h_to_4h`, F, C, true);
          t.linear(`${m}mlp.down`, `${h}mlp.dense_4h_to_h`, C, F, true);
        }
        t.layerNorm('norm', 'gpt_neox.final_layer_norm', C);
        if (!spec.embedding.tied) t.copy('lm_head.weight', 'embed_out.weight', [V, C]);
      },
    };
  },
};
