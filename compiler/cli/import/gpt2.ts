/**
 * GPT-2 (modeling_gpt2): learned positions, pre-LayerNorm, tied head. Its projections are
 * Conv1D layers, whose weights are stored (in, out): transposed here to mspec's (out, in);
 * `c_attn` holds q, k, v side by side along `out`.
 */
import { type HfConfig, ImportError, specNum } from './config.js';
import type { Family } from './family.js';
import { pickRows, range, transpose } from './tensors.js';

const ACT: Record<string, string> = { gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', gelu: 'gelu', relu: 'relu' };

function dims(cfg: HfConfig) {
  const C = cfg.int('n_embd');
  return { C, H: cfg.int('n_head'), L: cfg.int('n_layer'), F: cfg.int('n_inner', 4 * C), V: cfg.int('vocab_size') };
}

export const gpt2: Family = {
  modelTypes: ['gpt2'],
  fields: [
    'n_embd',
    'n_head',
    'n_layer',
    'n_inner',
    'n_positions',
    'n_ctx',
    'vocab_size',
    'layer_norm_epsilon',
    'activation_function',
    'scale_attn_weights',
    'scale_attn_by_inverse_layer_idx',
    'reorder_and_upcast_attn',
    'add_cross_attention',
    'tie_word_embeddings',
  ],
  optionalPrefix: 'transformer.',
  spec(cfg) {
    const { C, H, L, F, V } = dims(cfg);
    const act = cfg.str('activation_function', 'gelu_new');
    if (!ACT[act]) throw new ImportError(`'${cfg.path}': activation_function = "${act}" has no mspec activation (gelu_new, gelu, relu)`);
    cfg.require('scale_attn_weights', (v) => v === true, 'mspec always scales attention by 1/√head_dim');
    cfg.require('scale_attn_by_inverse_layer_idx', (v) => v === false, 'no per-layer attention scale in mspec');
    cfg.require('add_cross_attention', (v) => v === false, 'a decoder-only import has no encoder to attend to');
    cfg.require('tie_word_embeddings', (v) => v === true, 'GPT-2 checkpoints store one shared token table');
    // reorder_and_upcast_attn only changes the precision of the scores; mspec computes them in f32.
    const eps = specNum(cfg.num('layer_norm_epsilon', 1e-5));
    return `vocab = ${V}
      context = ${cfg.int('n_positions')}
      d_model = ${C}
      layers = ${L}
      bias = true
      embedding { positions: learned, tied: true }
      block {
        norm: layernorm(eps: ${eps})
        placement: pre
        attention { heads: ${H}, causal }
        mlp { activation: ${ACT[act]}, hidden: ${F} }
      }
      final_norm = layernorm(eps: ${eps})`;
  },
  weights(cfg, w) {
    const { C, L, F, V } = dims(cfg);
    const P = cfg.int('n_positions');
    w.copy('wte.weight', 'embed.tokens.weight', [V, C]);
    w.copy('wpe.weight', 'embed.positions.weight', [P, C]);
    // Conv1D (in, out) → Linear (out, in).
    const conv = (hf: string, name: string, inDim: number, out: number) => {
      w.set(`${name}.weight`, [out, inDim], transpose(w.take(`${hf}.weight`, [inDim, out]), inDim, out));
      w.copy(`${hf}.bias`, `${name}.bias`, [out]);
    };
    for (let i = 0; i < L; i++) {
      const h = `h.${i}.`;
      const p = `layers.${i}.`;
      w.layerNorm(`${h}ln_1`, `${p}attn_norm`, C);
      w.layerNorm(`${h}ln_2`, `${p}mlp_norm`, C);
      const qkv = transpose(w.take(`${h}attn.c_attn.weight`, [C, 3 * C]), C, 3 * C); // (3C, C)
      const qkvBias = w.take(`${h}attn.c_attn.bias`, [3 * C]);
      ['q', 'k', 'v'].forEach((n, j) => {
        w.set(`${p}attn.${n}.weight`, [C, C], pickRows(qkv, C, range(j * C, C)));
        w.set(`${p}attn.${n}.bias`, [C], pickRows(qkvBias, 1, range(j * C, C)));
      });
      conv(`${h}attn.c_proj`, `${p}attn.o`, C, C);
      conv(`${h}mlp.c_fc`, `${p}mlp.up`, C, F);
      conv(`${h}mlp.c_proj`, `${p}mlp.down`, F, C);
      // The causal-mask buffers older checkpoints carry are no parameters.
      w.skip(`${h}attn.bias`);
      w.skip(`${h}attn.masked_bias`);
    }
    w.layerNorm('ln_f', 'norm', C);
    // A stored head is the tied token table again.
    w.skip('lm_head.weight');
  },
};
