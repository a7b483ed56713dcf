/**
 * GPT-2 (the inverse of import/gpt2.ts): Conv1D projections stored (in, out), so mspec's
 * (out, in) weights are transposed back, and q, k, v fused side by side into `c_attn`. Tensors
 * without the `transformer.` prefix, as the Hub's gpt2 files name them (GPT2LMHeadModel loads
 * both); no `lm_head.weight` (the head is the tied token table).
 */
import { concat, transpose } from '../../import/tensors.js';
import { type ExportFamily, mapped, sizes } from './form.js';

const ACT: Record<string, string> = { gelu_tanh: 'gelu_new', gelu: 'gelu', relu: 'relu' };

export const gpt2: ExportFamily = {
  name: 'gpt2',
  form(spec) {
    const { layer, att, C, H, F, L, V } = sizes(spec);
    return {
      modelType: 'gpt2',
      autoClass: 'AutoModelForCausalLM',
      config: {
        architectures: ['GPT2LMHeadModel'],
        activation_function: mapped(ACT, layer.mlp.activation, 'block.mlp.activation', 'gpt2'),
        attn_pdrop: att.dropout,
        embd_pdrop: spec.embedding.dropout,
        resid_pdrop: layer.dropout,
        layer_norm_epsilon: layer.norm.eps,
        n_ctx: spec.context,
        n_embd: C,
        n_head: H,
        n_inner: F === 4 * C ? null : F,
        n_layer: L,
        n_positions: spec.context,
        reorder_and_upcast_attn: false,
        scale_attn_by_inverse_layer_idx: false,
        scale_attn_weights: true,
        summary_activation: null,
        summary_first_dropout: 0.1,
        summary_proj_to_labels: true,
        summary_type: 'cls_index',
        summary_use_proj: true,
        vocab_size: V,
      },
      tensors(t) {
        const p = t.p;
        t.copy('embed.tokens.weight', 'wte.weight', [V, C]);
        t.copy('embed.positions.weight', 'wpe.weight', [spec.context, C]);
        // Linear (out, in) → Conv1D (in, out).
        const conv = (from: string, hf: string, out: number, inDim: number) => {
          t.set(`${hf}.weight`, [inDim, out], transpose(p.take(`${from}.weight`, [out, inDim]), out, inDim));
          t.copy(`${from}.bias`, `${hf}.bias`, [out]);
        };
        for (let i = 0; i < L; i++) {
          const m = `layers.${i}.`;
          const h = `h.${i}.`;
          t.layerNorm(`${m}attn_norm`, `${h}ln_1`, C);
          t.layerNorm(`${m}mlp_norm`, `${h}ln_2`, C);
          const qkv = concat(['q', 'k', 'v'].map((n) => p.take(`${m}attn.${n}.weight`, [C, C]))); // (3C, C)
          t.set(`${h}attn.c_attn.weight`, [C, 3 * C], transpose(qkv, 3 * C, C));
          t.set(`${h}attn.c_attn.bias`, [3 * C], concat(['q', 'k', 'v'].map((n) => p.take(`${m}attn.${n}.bias`, [C]))));
          conv(`${m}attn.o`, `${h}attn.c_proj`, C, C);
          conv(`${m}mlp.up`, `${h}mlp.c_fc`, F, C);
          conv(`${m}mlp.down`, `${h}mlp.c_proj`, C, F);
        }
        t.layerNorm('norm', 'ln_f', C);
      },
    };
  },
};
