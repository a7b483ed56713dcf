/**
 * Falcon, the 7B layout (the inverse of import/falcon.ts): LayerNorm, rotary on whole heads,
 * tied head, `parallel_attn` (one norm feeding attention and MLP side by side), and either
 * multi-query attention (`multi_query`: q heads, then one k and one v head, fused in that order)
 * or full attention (fused interleaved per head, as GPT-NeoX). Grouped KV heads are the 40B/180B
 * layout (`new_decoder_architecture`), which mspec does not import.
 */
import { concat } from '../../import/tensors.js';
import { ExportError, type ExportFamily, interleaveHeads, sizes } from './form.js';

export const falcon: ExportFamily = {
  name: 'falcon',
  form(spec) {
    const { layer, att, C, H, K, D, F, L, V } = sizes(spec);
    const pos = spec.embedding.positions;
    if (pos.kind !== 'rope') throw new ExportError(`falcon uses rotary positions`);
    if (K !== 1 && K !== H)
      throw new ExportError(
        `block.attention.kv_heads = ${K} has no falcon form: Falcon-7B's layout has one key/value head (multi_query) or one per query head; grouped KV heads are the 40B/180B layout (new_decoder_architecture), which mspec does not import; use --to torch`,
      );
    if (layer.parallel && !layer.shared_norm)
      throw new ExportError(`block.shared_norm = false has no falcon form: its parallel block (parallel_attn) reads one norm`);
    const multiQuery = K === 1;
    return {
      modelType: 'falcon',
      autoClass: 'AutoModelForCausalLM',
      config: {
        architectures: ['FalconForCausalLM'],
        alibi: false,
        apply_residual_connection_post_layernorm: false,
        attention_dropout: att.dropout,
        bias: att.bias,
        hidden_dropout: layer.dropout,
        hidden_size: C,
        ...(F !== 4 * C ? { ffn_hidden_size: F } : {}),
        layer_norm_epsilon: layer.norm.eps,
        max_position_embeddings: spec.context,
        multi_query: multiQuery,
        new_decoder_architecture: false,
        num_attention_heads: H,
        num_hidden_layers: L,
        parallel_attn: layer.parallel,
        rope_theta: pos.base,
        vocab_size: V,
      },
      tensors(t) {
        const p = t.p;
        t.copy('embed.tokens.weight', 'transformer.word_embeddings.weight', [V, C]);
        for (let i = 0; i < L; i++) {
          const m = `layers.${i}.`;
          const h = `transformer.h.${i}.`;
          if (layer.parallel) t.layerNorm(`${m}norm`, `${h}input_layernorm`, C);
          else {
            t.layerNorm(`${m}attn_norm`, `${h}input_layernorm`, C);
            t.layerNorm(`${m}mlp_norm`, `${h}post_attention_layernorm`, C);
          }
          const total = (H + 2 * K) * D;
          const fuse = (suffix: string, cols: number) => {
            const parts = ['q', 'k', 'v'].map((n, j) =>
              p.take(`${m}attn.${n}.${suffix}`, cols === 1 ? [(j ? K : H) * D] : [(j ? K : H) * D, cols]),
            );
            return multiQuery ? concat(parts) : interleaveHeads(parts, H, D, cols);
          };
          t.set(`${h}self_attention.query_key_value.weight`, [total, C], fuse('weight', C));
          if (att.bias) t.set(`${h}self_attention.query_key_value.bias`, [total], fuse('bias', 1));
          t.linear(`${m}attn.o`, `${h}self_attention.dense`, C, H * D, att.bias);
          t.linear(`${m}mlp.up`, `${h}mlp.dense_h_to_4h`, F, C, layer.mlp.bias);
          t.linear(`${m}mlp.down`, `${h}mlp.dense_4h_to_h`, C, F, layer.mlp.bias);
        }
        t.layerNorm('norm', 'transformer.ln_f', C);
      },
    };
  },
};
