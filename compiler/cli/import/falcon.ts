/**
 * Falcon (modeling_falcon, the 7B layout): LayerNorm, exact GELU, rotary on whole heads, tied
 * head. With `parallel_attn` one norm feeds attention and MLP side by side (mspec's parallel +
 * shared_norm). The fused `query_key_value` is, with `multi_query`, all q heads then one k and
 * one v head; without it, interleaved per head (h·3D + j·D + d) as in GPT-NeoX.
 * `new_decoder_architecture` (40B/180B: grouped KV in groups, two norms) and ALiBi are errors.
 */
import { type HfConfig, ImportError, specNum } from './config.js';
import type { Family } from './family.js';
import { pickRows, range } from './tensors.js';

function dims(cfg: HfConfig) {
  const C = cfg.int('hidden_size');
  const H = cfg.int('num_attention_heads');
  const multiQuery = cfg.bool('multi_query', true);
  return {
    C,
    H,
    D: C / H,
    K: multiQuery ? 1 : H,
    multiQuery,
    L: cfg.int('num_hidden_layers'),
    F: cfg.int('ffn_hidden_size', 4 * C),
    V: cfg.int('vocab_size'),
  };
}

export const falcon: Family = {
  modelTypes: ['falcon', 'RefinedWebModel', 'RefinedWeb'],
  fields: [
    'hidden_size',
    'num_attention_heads',
    'num_hidden_layers',
    'ffn_hidden_size',
    'vocab_size',
    'max_position_embeddings',
    'layer_norm_epsilon',
    'multi_query',
    'num_kv_heads',
    'parallel_attn',
    'bias',
    'alibi',
    'new_decoder_architecture',
    'apply_residual_connection_post_layernorm',
    'rope_theta',
    'rope_scaling',
    'activation',
    'tie_word_embeddings',
  ],
  spec(cfg) {
    const { C, H, D, K, L, F, V } = dims(cfg);
    if (!Number.isInteger(D)) throw new ImportError(`'${cfg.path}': hidden_size ${C} is not a multiple of num_attention_heads ${H}`);
    cfg.require('alibi', (v) => v === false, 'Falcon ALiBi with rotary off is not imported; mspec imports the rotary Falcon');
    cfg.require('new_decoder_architecture', (v) => v === false, 'the 40B/180B layout (grouped KV heads, two norms) is not imported');
    cfg.require('apply_residual_connection_post_layernorm', (v) => v === false, 'the residual adds the block input in mspec');
    cfg.require('rope_scaling', () => false, 'mspec RoPE has no scaling');
    cfg.require('activation', (v) => v === 'gelu', 'mspec imports Falcon with exact GELU');
    cfg.require('tie_word_embeddings', (v) => v === true, 'Falcon checkpoints share the token table with the head');
    const parallel = cfg.bool('parallel_attn', true);
    const eps = specNum(cfg.num('layer_norm_epsilon', 1e-5));
    return `vocab = ${V}
      context = ${cfg.int('max_position_embeddings', 2048)}
      d_model = ${C}
      layers = ${L}
      bias = ${cfg.bool('bias', false)}
      embedding { positions: rope(base: ${specNum(cfg.num('rope_theta', 10_000))}), tied: true }
      block {
        norm: layernorm(eps: ${eps})
        placement: pre
        ${parallel ? 'parallel: true\nshared_norm: true' : ''}
        attention { heads: ${H}, kv_heads: ${K}, causal }
        mlp { activation: gelu, hidden: ${F} }
      }
      final_norm = layernorm(eps: ${eps})`;
  },
  weights(cfg, w) {
    const { C, H, D, K, multiQuery, L, F, V } = dims(cfg);
    const bias = cfg.bool('bias', false);
    const parallel = cfg.bool('parallel_attn', true);
    w.copy('transformer.word_embeddings.weight', 'embed.tokens.weight', [V, C]);
    for (let i = 0; i < L; i++) {
      const h = `transformer.h.${i}.`;
      const p = `layers.${i}.`;
      if (parallel) w.layerNorm(`${h}input_layernorm`, `${p}norm`, C);
      else {
        w.layerNorm(`${h}input_layernorm`, `${p}attn_norm`, C);
        w.layerNorm(`${h}post_attention_layernorm`, `${p}mlp_norm`, C);
      }
      const total = (H + 2 * K) * D;
      const qkv = w.take(`${h}self_attention.query_key_value.weight`, [total, C]);
      const qkvBias = bias ? w.take(`${h}self_attention.query_key_value.bias`, [total]) : null;
      const rows = multiQuery
        ? [range(0, H * D), range(H * D, D), range((H + 1) * D, D)]
        : [0, 1, 2].map((j) => range(0, H).flatMap((head) => range(head * 3 * D + j * D, D)));
      ['q', 'k', 'v'].forEach((n, j) => {
        const out = (j === 0 ? H : K) * D;
        w.set(`${p}attn.${n}.weight`, [out, C], pickRows(qkv, C, rows[j]!));
        if (qkvBias) w.set(`${p}attn.${n}.bias`, [out], pickRows(qkvBias, 1, rows[j]!));
      });
      w.linear(`${h}self_attention.dense`, `${p}attn.o`, C, H * D, bias);
      w.linear(`${h}mlp.dense_h_to_4h`, `${p}mlp.up`, F, C, bias);
      w.linear(`${h}mlp.dense_4h_to_h`, `${p}mlp.down`, C, F, bias);
      w.skip(`${h}self_attention.rotary_emb.inv_freq`);
    }
    w.layerNorm('transformer.ln_f', 'norm', C);
    w.skip('lm_head.weight');
  },
};
