/**
 * Llama, Mistral and Mixtral (the inverse of import/llama.ts): `mistral` when the layers have
 * a sliding window, `mixtral` when the MLP is a mixture of experts (Mixtral's sliding_window
 * too), `llama` otherwise. q_proj/k_proj are stored in the rotate_half layout mspec's RoPE uses,
 * so no permutation either way. Mixtral's stacked (E, out, in) experts are split into
 * `block_sparse_moe.experts.<e>.w1` (gate), `w3` (up) and `w2` (down).
 */
import { ExportError, type ExportFamily, sizes, slab } from './form.js';

export const llama: ExportFamily = {
  name: 'llama',
  form(spec) {
    const { layer, att, C, H, K, D, F, L, V } = sizes(spec);
    const moe = layer.moe;
    const E = moe?.experts ?? 0;
    if (layer.mlp.activation !== 'swiglu')
      throw new ExportError(
        `block.mlp.activation = ${layer.mlp.activation} has no llama form: Llama, Mistral and Mixtral gate the MLP with SiLU (swiglu); use --to torch`,
      );
    if (spec.embedding.positions.kind !== 'rope') throw new ExportError(`the llama family uses rotary positions`);
    const modelType = moe ? 'mixtral' : att.window !== null ? 'mistral' : 'llama';
    if (modelType !== 'llama' && (att.bias || layer.mlp.bias))
      throw new ExportError(
        `block.${att.bias ? 'attention' : 'mlp'}.bias = true with ${moe ? 'experts' : 'a sliding window'} has no Hugging Face form: ${modelType} has no ${att.bias ? 'attention_bias' : 'mlp_bias'} (only llama has, and llama has neither a window nor experts); use --to torch`,
      );
    const arch = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', mixtral: 'MixtralForCausalLM' }[modelType];
    const config = {
      architectures: [arch],
      attention_dropout: att.dropout,
      hidden_act: 'silu',
      hidden_size: C,
      ...(D * H !== C ? { head_dim: D } : {}),
      intermediate_size: F,
      max_position_embeddings: spec.context,
      num_attention_heads: H,
      num_hidden_layers: L,
      num_key_value_heads: K,
      rms_norm_eps: layer.norm.eps,
      rope_theta: spec.embedding.positions.base,
      tie_word_embeddings: spec.embedding.tied,
      vocab_size: V,
      ...(modelType === 'llama'
        ? { attention_bias: att.bias, mlp_bias: layer.mlp.bias, pretraining_tp: 1, rope_scaling: null }
        : { sliding_window: att.window }),
      ...(moe
        ? {
            num_local_experts: E,
            num_experts_per_tok: moe.top_k,
            router_aux_loss_coef: moe.aux_loss,
            output_router_logits: false,
            router_jitter_noise: 0,
          }
        : {}),
    };
    return {
      modelType,
      autoClass: 'AutoModelForCausalLM',
      config,
      tensors(t) {
        const p = t.p;
        t.copy('embed.tokens.weight', 'model.embed_tokens.weight', [V, C]);
        for (let i = 0; i < L; i++) {
          const m = `layers.${i}.`;
          const h = `model.layers.${i}.`;
          t.copy(`${m}attn_norm.weight`, `${h}input_layernorm.weight`, [C]);
          t.copy(`${m}mlp_norm.weight`, `${h}post_attention_layernorm.weight`, [C]);
          t.linear(`${m}attn.q`, `${h}self_attn.q_proj`, H * D, C, att.bias);
          t.linear(`${m}attn.k`, `${h}self_attn.k_proj`, K * D, C, att.bias);
          t.linear(`${m}attn.v`, `${h}self_attn.v_proj`, K * D, C, att.bias);
          t.linear(`${m}attn.o`, `${h}self_attn.o_proj`, C, H * D, att.bias);
          if (moe) {
            const b = `${h}block_sparse_moe.`;
            t.copy(`${m}moe.router.weight`, `${b}gate.weight`, [E, C]);
            const experts = (from: string, proj: string, out: number, inDim: number) => {
              const all = p.take(`${m}moe.experts.${from}.weight`, [E, out, inDim]);
              for (let e = 0; e < E; e++) t.set(`${b}experts.${e}.${proj}.weight`, [out, inDim], slab(all, E, e));
            };
            experts('gate', 'w1', F, C);
            experts('up', 'w3', F, C);
            experts('down', 'w2', C, F);
          } else {
            t.linear(`${m}mlp.gate`, `${h}mlp.gate_proj`, F, C, layer.mlp.bias);
            t.linear(`${m}mlp.up`, `${h}mlp.up_proj`, F, C, layer.mlp.bias);
            t.linear(`${m}mlp.down`, `${h}mlp.down_proj`, C, F, layer.mlp.bias);
          }
        }
        t.copy('norm.weight', 'model.norm.weight', [C]);
        if (!spec.embedding.tied) t.copy('lm_head.weight', 'lm_head.weight', [V, C]);
      },
    };
  },
};
