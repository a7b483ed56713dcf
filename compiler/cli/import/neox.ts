/**
 * GPT-NeoX / Pythia (modeling_gpt_neox): LayerNorm, exact GELU, partial rotary (rotary_pct),
 * parallel residual with two norms (use_parallel_residual), untied head `embed_out`. Its fused
 * `query_key_value` is interleaved per head: rows h·3D + j·D + d for head h, part j ∈ {q, k, v}.
 */
import { ImportError, specNum } from './config.js';
import type { Family } from './family.js';
import { SHARED_FIELDS, sizes } from './sizes.js';
import { pickRows, range } from './tensors.js';

const ACT: Record<string, string> = { gelu: 'gelu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', relu: 'relu' };

export const neox: Family = {
  modelTypes: ['gpt_neox'],
  fields: [
    ...SHARED_FIELDS,
    'rotary_pct',
    'partial_rotary_factor',
    'rotary_emb_base',
    'rope_theta',
    'rope_scaling',
    'use_parallel_residual',
    'attention_bias',
    'tie_word_embeddings',
  ],
  spec(cfg) {
    const { C, H, D, L, F, V } = sizes(cfg);
    if (!Number.isInteger(D)) throw new ImportError(`'${cfg.path}': hidden_size ${C} is not a multiple of num_attention_heads ${H}`);
    cfg.require('rope_scaling', () => false, 'mspec RoPE has no scaling');
    const act = cfg.str('hidden_act', 'gelu');
    if (!ACT[act]) throw new ImportError(`'${cfg.path}': hidden_act = "${act}" has no mspec activation (gelu, gelu_new, relu)`);
    const pct = cfg.num('rotary_pct', cfg.num('partial_rotary_factor', 1));
    const base = cfg.num('rotary_emb_base', cfg.num('rope_theta', 10_000));
    const parallel = cfg.bool('use_parallel_residual', true);
    const eps = specNum(cfg.num('layer_norm_eps', 1e-5));
    return `vocab = ${V}
      context = ${cfg.int('max_position_embeddings')}
      d_model = ${C}
      layers = ${L}
      bias = ${cfg.bool('attention_bias', true)}
      embedding { positions: rope(base: ${specNum(base)}${pct !== 1 ? `, fraction: ${pct}` : ''}), tied: ${cfg.bool('tie_word_embeddings', false)} }
      block {
        norm: layernorm(eps: ${eps})
        placement: pre
        ${parallel ? 'parallel: true\nshared_norm: false' : ''}
        attention { heads: ${H}, causal }
        mlp { activation: ${ACT[act]}, hidden: ${F}, bias: true }
      }
      final_norm = layernorm(eps: ${eps})`;
  },
  weights(cfg, w) {
    const { C, H, D, L, F, V } = sizes(cfg);
    const bias = cfg.bool('attention_bias', true);
    w.copy('gpt_neox.embed_in.weight', 'embed.tokens.weight', [V, C]);
    for (let i = 0; i < L; i++) {
      const h = `gpt_neox.layers.${i}.`;
      const p = `layers.${i}.`;
      w.layerNorm(`${h}input_layernorm`, `${p}attn_norm`, C);
      w.layerNorm(`${h}post_attention_layernorm`, `${p}mlp_norm`, C);
      const qkv = w.take(`${h}attention.query_key_value.weight`, [3 * C, C]);
      const qkvBias = bias ? w.take(`${h}attention.query_key_value.bias`, [3 * C]) : null;
      ['q', 'k', 'v'].forEach((n, j) => {
        const rows = range(0, H).flatMap((head) => range(head * 3 * D + j * D, D));
        w.set(`${p}attn.${n}.weight`, [C, C], pickRows(qkv, C, rows));
        if (qkvBias) w.set(`${p}attn.${n}.bias`, [C], pickRows(qkvBias, 1, rows));
      });
      w.linear(`${h}attention.dense`, `${p}attn.o`, C, C, bias);
      w.linear(`${h}mlp.dense_h_to_4h`, `${p}mlp.up`, F, C, true);
      w.linear(`${h}mlp.dense_4h_to_h`, `${p}mlp.down`, C, F, true);
      for (const buf of ['attention.bias', 'attention.masked_bias', 'attention.rotary_emb.inv_freq']) w.skip(`${h}${buf}`);
    }
    w.layerNorm('gpt_neox.final_layer_norm', 'norm', C);
    if (cfg.bool('tie_word_embeddings', false)) w.skip('embed_out.weight');
    else w.copy('embed_out.weight', 'lm_head.weight', [V, C]);
  },
};
