/**
 * Phi-1/1.5/2 (the inverse of import/phi.ts): one LayerNorm feeding attention and MLP side by
 * side, partial rotary (partial_rotary_factor), biases everywhere, an untied head with a bias.
 */
import { ExportError, type ExportFamily, mapped, sizes } from './form.js';

const ACT: Record<string, string> = { gelu_tanh: 'gelu_new', gelu: 'gelu' };

export const phi: ExportFamily = {
  name: 'phi',
  form(spec) {
    const { layer, att, C, H, K, D, F, L, V } = sizes(spec);
    const pos = spec.embedding.positions;
    if (pos.kind !== 'rope') throw new ExportError(`phi uses rotary positions`);
    if (!layer.parallel || !layer.shared_norm)
      throw new ExportError(
        `block.${layer.parallel ? 'shared_norm = false' : 'parallel = false'} has no phi form: Phi's block is parallel with one shared norm`,
      );
    return {
      modelType: 'phi',
      autoClass: 'AutoModelForCausalLM',
      config: {
        architectures: ['PhiForCausalLM'],
        attention_dropout: att.dropout,
        embd_pdrop: spec.embedding.dropout,
        hidden_act: mapped(ACT, layer.mlp.activation, 'block.mlp.activation', 'phi'),
        hidden_size: C,
        intermediate_size: F,
        layer_norm_eps: layer.norm.eps,
        max_position_embeddings: spec.context,
        num_attention_heads: H,
        num_hidden_layers: L,
        num_key_value_heads: K,
        partial_rotary_factor: pos.fraction,
        qk_layernorm: false,
        resid_pdrop: layer.dropout,
        rope_scaling: null,
        rope_theta: pos.base,
        tie_word_embeddings: false,
        vocab_size: V,
      },
      tensors(t) {
        t.copy('embed.tokens.weight', 'model.embed_tokens.weight', [V, C]);
        for (let i = 0; i < L; i++) {
          const m = `layers.${i}.`;
          const h = `model.layers.${i}.`;
          t.layerNorm(`${m}norm`, `${h}input_layernorm`, C);
          t.linear(`${m}attn.q`, `${h}self_attn.q_proj`, H * D, C, true);
          t.linear(`${m}attn.k`, `${h}self_attn.k_proj`, K * D, C, true);
          t.linear(`${m}attn.v`, `${h}self_attn.v_proj`, K * D, C, true);
          t.linear(`${m}attn.o`, `${h}self_attn.dense`, C, H * D, true);
          t.linear(`${m}mlp.up`, `${h}mlp.fc1`, F, C, true);
          t.linear(`${m}mlp.down`, `${h}mlp.fc2`, C, F, true);
        }
        t.layerNorm('norm', 'model.final_layernorm', C);
        t.linear('lm_head', 'lm_head', V, C, true);
      },
    };
  },
};
