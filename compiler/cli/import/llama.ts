/**
 * Llama, Mistral and Mixtral (modeling_llama / mistral / mixtral): RMSNorm, SwiGLU, RoPE,
 * grouped-query attention. HF stores q_proj/k_proj already permuted for rotate_half, which is
 * the layout mspec's RoPE uses (compiler/ir/interpret/rope.ts), so no permutation is needed.
 * Mixtral's experts (w1 gate, w3 up, w2 down) are stacked per projection into mspec's
 * (E, out, in) parameters; its router is `block_sparse_moe.gate`.
 */
import { type HfConfig, ImportError, specNum } from './config.js';
import type { Family } from './family.js';
import { concat } from './tensors.js';

function dims(cfg: HfConfig) {
  const C = cfg.int('hidden_size');
  const H = cfg.int('num_attention_heads');
  const K = cfg.int('num_key_value_heads', H);
  const D = cfg.has('head_dim') ? cfg.int('head_dim') : C / H;
  const E = cfg.has('num_local_experts') ? cfg.int('num_local_experts') : 0;
  return { C, H, K, D, E, L: cfg.int('num_hidden_layers'), F: cfg.int('intermediate_size'), V: cfg.int('vocab_size') };
}

export const llama: Family = {
  modelTypes: ['llama', 'mistral', 'mixtral'],
  fields: [
    'hidden_size',
    'num_attention_heads',
    'num_key_value_heads',
    'head_dim',
    'num_hidden_layers',
    'intermediate_size',
    'vocab_size',
    'max_position_embeddings',
    'rms_norm_eps',
    'rope_theta',
    'rope_scaling',
    'hidden_act',
    'tie_word_embeddings',
    'attention_bias',
    'mlp_bias',
    'pretraining_tp',
    'sliding_window',
    'use_sliding_window',
    'num_local_experts',
    'num_experts_per_tok',
    'router_aux_loss_coef',
    'router_jitter_noise',
  ],
  spec(cfg) {
    const { C, H, K, D, E, L, F, V } = dims(cfg);
    if (!Number.isInteger(D)) throw new ImportError(`'${cfg.path}': hidden_size ${C} is not a multiple of num_attention_heads ${H}`);
    cfg.require('rope_scaling', () => false, 'mspec RoPE has no scaling (linear, dynamic, yarn, llama3)');
    cfg.require('hidden_act', (v) => v === 'silu', 'mspec gates the MLP with SwiGLU (silu) only in this family');
    cfg.require('pretraining_tp', (v) => v === 1, 'tensor-parallel slicing of the projections changes their summation');
    cfg.require('router_jitter_noise', (v) => v === 0, 'router jitter is a training-time noise mspec does not model');
    const context = cfg.int('max_position_embeddings');
    const slidingOn = cfg.bool('use_sliding_window', true);
    const window = slidingOn && cfg.has('sliding_window') ? cfg.int('sliding_window') : null;
    const windowText = window !== null && window < context ? `, window: ${window}` : '';
    const headDim = D !== C / H ? `, head_dim: ${D}` : '';
    const attnBias = cfg.bool('attention_bias', false) ? ', bias: true' : '';
    const mlpBias = cfg.bool('mlp_bias', false) ? ', bias: true' : '';
    const moe = E
      ? `, experts: ${E}, top_k: ${cfg.int('num_experts_per_tok')}, renormalize: true, aux_loss: ${specNum(cfg.num('router_aux_loss_coef', 0.001))}`
      : '';
    const eps = specNum(cfg.num('rms_norm_eps', 1e-6));
    return `vocab = ${V}
      context = ${context}
      d_model = ${C}
      layers = ${L}
      bias = false
      embedding { positions: rope(base: ${specNum(cfg.num('rope_theta', 10_000))}), tied: ${cfg.bool('tie_word_embeddings', false)} }
      block {
        norm: rmsnorm(eps: ${eps})
        placement: pre
        attention { heads: ${H}, kv_heads: ${K}${headDim}${windowText}${attnBias}, causal }
        mlp { activation: swiglu, hidden: ${F}${mlpBias}${moe} }
      }
      final_norm = rmsnorm(eps: ${eps})`;
  },
  weights(cfg, w) {
    const { C, H, K, D, E, L, F, V } = dims(cfg);
    const attnBias = cfg.bool('attention_bias', false);
    const mlpBias = cfg.bool('mlp_bias', false);
    w.copy('model.embed_tokens.weight', 'embed.tokens.weight', [V, C]);
    for (let i = 0; i < L; i++) {
      const h = `model.layers.${i}.`;
      const p = `layers.${i}.`;
      w.copy(`${h}input_layernorm.weight`, `${p}attn_norm.weight`, [C]);
      w.copy(`${h}post_attention_layernorm.weight`, `${p}mlp_norm.weight`, [C]);
      w.linear(`${h}self_attn.q_proj`, `${p}attn.q`, H * D, C, attnBias);
      w.linear(`${h}self_attn.k_proj`, `${p}attn.k`, K * D, C, attnBias);
      w.linear(`${h}self_attn.v_proj`, `${p}attn.v`, K * D, C, attnBias);
      w.linear(`${h}self_attn.o_proj`, `${p}attn.o`, C, H * D, attnBias);
      w.skip(`${h}self_attn.rotary_emb.inv_freq`);
      if (E) {
        const m = `${h}block_sparse_moe.`;
        w.copy(`${m}gate.weight`, `${p}moe.router.weight`, [E, C]);
        const experts = (proj: string, out: number, inDim: number) =>
          concat(Array.from({ length: E }, (_, e) => w.take(`${m}experts.${e}.${proj}.weight`, [out, inDim])));
        w.set(`${p}moe.experts.gate.weight`, [E, F, C], experts('w1', F, C));
        w.set(`${p}moe.experts.up.weight`, [E, F, C], experts('w3', F, C));
        w.set(`${p}moe.experts.down.weight`, [E, C, F], experts('w2', C, F));
      } else {
        w.linear(`${h}mlp.gate_proj`, `${p}mlp.gate`, F, C, mlpBias);
        w.linear(`${h}mlp.up_proj`, `${p}mlp.up`, F, C, mlpBias);
        w.linear(`${h}mlp.down_proj`, `${p}mlp.down`, C, F, mlpBias);
      }
    }
    w.copy('model.norm.weight', 'norm.weight', [C]);
    if (cfg.bool('tie_word_embeddings', false)) w.skip('lm_head.weight');
    else w.copy('lm_head.weight', 'lm_head.weight', [V, C]);
  },
};
