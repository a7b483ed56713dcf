/**
 * BERT (the inverse of import/bert.ts): learned positions, segment embeddings and an embedding
 * LayerNorm, post-LayerNorm layers. With the MLM head, the BertForPreTraining / BertForMaskedLM
 * layout (`bert.` before the encoder's names, `cls.predictions.*`; the decoder is the tied token
 * table and is not stored); without it, BertModel's (no prefix). The pooler when the spec has
 * one. The config has no field for either: `mspec import` reads them from the tensors present,
 * so a spec-only export states them only through `architectures`.
 */
import { ExportError, type ExportFamily, sizes } from './form.js';

export const bert: ExportFamily = {
  name: 'bert',
  form(spec, withWeights) {
    const { layer, att, C, H, F, L, V } = sizes(spec);
    const S = spec.embedding.segments;
    const mlm = spec.head.kind === 'lm';
    const pooler = spec.head.pooler;
    if (S === 0)
      throw new ExportError(`embedding.segments = 0 has no bert form: BERT always has token type embeddings (type_vocab_size ≥ 1)`);
    if (!withWeights && !(mlm && pooler))
      throw new ExportError(
        `${mlm ? 'head.pooler = false' : 'head.kind = none'} has no bert form without weights: a BERT config.json has no field for the MLM head or the pooler (mspec import reads them from the tensors present, and a config alone comes back with both); export a checkpoint of it instead`,
      );
    return {
      modelType: 'bert',
      autoClass: mlm ? 'AutoModelForMaskedLM' : 'AutoModel',
      decidedByTensors: ['head.kind', 'head.bias', 'head.transform', 'head.pooler'],
      config: {
        architectures: [mlm ? 'BertForMaskedLM' : 'BertModel'],
        attention_probs_dropout_prob: att.dropout,
        hidden_act: 'gelu',
        hidden_dropout_prob: layer.dropout,
        hidden_size: C,
        intermediate_size: F,
        layer_norm_eps: layer.norm.eps,
        max_position_embeddings: spec.context,
        num_attention_heads: H,
        num_hidden_layers: L,
        pad_token_id: 0,
        position_embedding_type: 'absolute',
        type_vocab_size: S,
        vocab_size: V,
      },
      tensors(t) {
        const b = mlm ? 'bert.' : '';
        const e = `${b}embeddings.`;
        t.copy('embed.tokens.weight', `${e}word_embeddings.weight`, [V, C]);
        t.copy('embed.positions.weight', `${e}position_embeddings.weight`, [spec.context, C]);
        t.copy('embed.segments.weight', `${e}token_type_embeddings.weight`, [S, C]);
        t.layerNorm('embed.norm', `${e}LayerNorm`, C);
        for (let i = 0; i < L; i++) {
          const m = `layers.${i}.`;
          const h = `${b}encoder.layer.${i}.`;
          t.linear(`${m}attn.q`, `${h}attention.self.query`, C, C, true);
          t.linear(`${m}attn.k`, `${h}attention.self.key`, C, C, true);
          t.linear(`${m}attn.v`, `${h}attention.self.value`, C, C, true);
          t.linear(`${m}attn.o`, `${h}attention.output.dense`, C, C, true);
          t.layerNorm(`${m}attn_norm`, `${h}attention.output.LayerNorm`, C);
          t.linear(`${m}mlp.up`, `${h}intermediate.dense`, F, C, true);
          t.linear(`${m}mlp.down`, `${h}output.dense`, C, F, true);
          t.layerNorm(`${m}mlp_norm`, `${h}output.LayerNorm`, C);
        }
        if (pooler) t.linear('pooler', `${b}pooler.dense`, C, C, true);
        if (mlm) {
          t.copy('lm_head.bias', 'cls.predictions.bias', [V]);
          t.linear('lm_head.transform', 'cls.predictions.transform.dense', C, C, true);
          t.layerNorm('lm_head.transform.norm', 'cls.predictions.transform.LayerNorm', C);
        }
      },
    };
  },
};
