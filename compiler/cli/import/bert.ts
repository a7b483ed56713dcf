/**
 * BERT (modeling_bert): an encoder with learned positions, segment (token type) embeddings
 * and an embedding LayerNorm, post-LayerNorm layers, exact GELU, biases; the MLM head (dense,
 * GELU, LayerNorm, the tied token table, a bias) when the checkpoint has `cls.predictions`, the
 * pooler when it has one. BertModel files name tensors without the `bert.` prefix that
 * BertForMaskedLM / BertForPreTraining files use; the next-sentence head
 * (`cls.seq_relationship`) has no mspec counterpart and is left out with a warning.
 */
import { type HfConfig, ImportError, specNum } from './config.js';
import type { Family } from './family.js';
import { SHARED_FIELDS, sizes } from './sizes.js';

function dims(cfg: HfConfig) {
  return { ...sizes(cfg), P: cfg.int('max_position_embeddings'), S: cfg.int('type_vocab_size', 2) };
}

const has = (tensors: ReadonlySet<string> | null, name: string) => !tensors || tensors.has(`bert.${name}`) || tensors.has(name);

export const bert: Family = {
  modelTypes: ['bert'],
  fields: [
    ...SHARED_FIELDS,
    'type_vocab_size',
    'position_embedding_type',
    'is_decoder',
    'add_cross_attention',
    'attention_probs_dropout_prob',
    'hidden_dropout_prob',
    'gradient_checkpointing',
  ],
  spec(cfg, tensors) {
    const { C, H, L, F, V, P, S } = dims(cfg);
    if (C % H !== 0) throw new ImportError(`'${cfg.path}': hidden_size ${C} is not a multiple of num_attention_heads ${H}`);
    cfg.require('position_embedding_type', (v) => v === 'absolute', 'mspec BERT uses learned absolute positions');
    cfg.require('is_decoder', (v) => v === false, 'a causal BERT is not imported');
    cfg.require('add_cross_attention', (v) => v === false, 'BERT with cross-attention is not imported');
    cfg.require('hidden_act', (v) => v === 'gelu', 'mspec imports BERT with exact GELU');
    const mlm = has(tensors, 'cls.predictions.bias');
    const pooler = has(tensors, 'pooler.dense.weight');
    if (!mlm && !pooler) throw new ImportError(`the checkpoint has neither an MLM head (cls.predictions) nor a pooler; nothing to run`);
    const eps = specNum(cfg.num('layer_norm_eps', 1e-12));
    return `arch = encoder
      vocab = ${V}
      context = ${P}
      d_model = ${C}
      layers = ${L}
      bias = true
      embedding { positions: learned, segments: ${S}, norm: layernorm(eps: ${eps}), tied: true }
      block {
        norm: layernorm(eps: ${eps})
        placement: post
        attention { heads: ${H} }
        mlp { activation: gelu, hidden: ${F} }
      }
      final_norm = none
      head { ${mlm ? 'kind: lm, bias: true, transform: gelu' : 'kind: none'}, pooler: ${pooler} }`;
  },
  weights(cfg, w) {
    const { C, L, F, V, P, S } = dims(cfg);
    const b = w.has('bert.embeddings.word_embeddings.weight') ? 'bert.' : '';
    const e = `${b}embeddings.`;
    w.copy(`${e}word_embeddings.weight`, 'embed.tokens.weight', [V, C]);
    w.copy(`${e}position_embeddings.weight`, 'embed.positions.weight', [P, C]);
    w.copy(`${e}token_type_embeddings.weight`, 'embed.segments.weight', [S, C]);
    w.layerNorm(`${e}LayerNorm`, 'embed.norm', C);
    w.skip(`${e}position_ids`);
    for (let i = 0; i < L; i++) {
      const h = `${b}encoder.layer.${i}.`;
      const p = `layers.${i}.`;
      w.linear(`${h}attention.self.query`, `${p}attn.q`, C, C);
      w.linear(`${h}attention.self.key`, `${p}attn.k`, C, C);
      w.linear(`${h}attention.self.value`, `${p}attn.v`, C, C);
      w.linear(`${h}attention.output.dense`, `${p}attn.o`, C, C);
      w.layerNorm(`${h}attention.output.LayerNorm`, `${p}attn_norm`, C);
      w.linear(`${h}intermediate.dense`, `${p}mlp.up`, F, C);
      w.linear(`${h}output.dense`, `${p}mlp.down`, C, F);
      w.layerNorm(`${h}output.LayerNorm`, `${p}mlp_norm`, C);
    }
    if (w.has(`${b}pooler.dense.weight`)) w.linear(`${b}pooler.dense`, 'pooler', C, C);
    if (w.has('cls.predictions.bias')) {
      w.copy('cls.predictions.bias', 'lm_head.bias', [V]);
      w.linear('cls.predictions.transform.dense', 'lm_head.transform', C, C);
      w.layerNorm('cls.predictions.transform.LayerNorm', 'lm_head.transform.norm', C);
      // The decoder is the tied token table and the bias above again.
      w.skip('cls.predictions.decoder.weight');
      w.skip('cls.predictions.decoder.bias');
    }
    for (const x of ['weight', 'bias']) w.drop(`cls.seq_relationship.${x}`, 'the next-sentence-prediction head has no mspec counterpart');
  },
};
