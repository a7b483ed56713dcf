/**
 * Phi-1/1.5/2 (modeling_phi): one LayerNorm feeding attention and MLP side by side (mspec's
 * parallel + shared_norm), partial rotary (partial_rotary_factor), tanh GELU (gelu_new),
 * biases everywhere, an untied head with a bias.
 */
import { type HfConfig, ImportError, specNum } from './config.js';
import type { Family } from './family.js';
import { SHARED_FIELDS } from './sizes.js';

const ACT: Record<string, string> = { gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', gelu: 'gelu' };

function dims(cfg: HfConfig) {
  const C = cfg.int('hidden_size');
  const H = cfg.int('num_attention_heads');
  const K = cfg.int('num_key_value_heads', H);
  return { C, H, K, D: C / H, L: cfg.int('num_hidden_layers'), F: cfg.int('intermediate_size'), V: cfg.int('vocab_size') };
}

export const phi: Family = {
  modelTypes: ['phi'],
  fields: [
    ...SHARED_FIELDS,
    'num_key_value_heads',
    'partial_rotary_factor',
    'rope_theta',
    'rope_scaling',
    'qk_layernorm',
    'tie_word_embeddings',
  ],
  spec(cfg) {
    const { C, H, K, D, L, F, V } = dims(cfg);
    if (!Number.isInteger(D)) throw new ImportError(`'${cfg.path}': hidden_size ${C} is not a multiple of num_attention_heads ${H}`);
    cfg.require('rope_scaling', () => false, 'mspec RoPE has no scaling');
    cfg.require('qk_layernorm', (v) => v === false, 'mspec has no LayerNorm on queries and keys');
    cfg.require('tie_word_embeddings', (v) => v === false, 'Phi checkpoints store a head with its own bias');
    const act = cfg.str('hidden_act', 'gelu_new');
    if (!ACT[act]) throw new ImportError(`'${cfg.path}': hidden_act = "${act}" has no mspec activation (gelu_new, gelu)`);
    const frac = cfg.num('partial_rotary_factor', 0.5);
    const eps = specNum(cfg.num('layer_norm_eps', 1e-5));
    return `vocab = ${V}
      context = ${cfg.int('max_position_embeddings')}
      d_model = ${C}
      layers = ${L}
      bias = true
      embedding { positions: rope(base: ${specNum(cfg.num('rope_theta', 10_000))}${frac !== 1 ? `, fraction: ${frac}` : ''}), tied: false }
      block {
        norm: layernorm(eps: ${eps})
        placement: pre
        parallel: true
        shared_norm: true
        attention { heads: ${H}, kv_heads: ${K}, causal }
        mlp { activation: ${ACT[act]}, hidden: ${F} }
      }
      final_norm = layernorm(eps: ${eps})
      head { bias: true }`;
  },
  weights(cfg, w) {
    const { C, H, K, D, L, F, V } = dims(cfg);
    w.copy('model.embed_tokens.weight', 'embed.tokens.weight', [V, C]);
    for (let i = 0; i < L; i++) {
      const h = `model.layers.${i}.`;
      const p = `layers.${i}.`;
      w.layerNorm(`${h}input_layernorm`, `${p}norm`, C);
      w.linear(`${h}self_attn.q_proj`, `${p}attn.q`, H * D, C);
      w.linear(`${h}self_attn.k_proj`, `${p}attn.k`, K * D, C);
      w.linear(`${h}self_attn.v_proj`, `${p}attn.v`, K * D, C);
      w.linear(`${h}self_attn.dense`, `${p}attn.o`, C, H * D);
      w.linear(`${h}mlp.fc1`, `${p}mlp.up`, F, C);
      w.linear(`${h}mlp.fc2`, `${p}mlp.down`, C, F);
      w.skip(`${h}self_attn.rotary_emb.inv_freq`);
    }
    w.layerNorm('model.final_layernorm', 'norm', C);
    w.linear('lm_head', 'lm_head', V, C);
  },
};
