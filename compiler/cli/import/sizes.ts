/** What the BERT, GPT-NeoX and Phi importers read alike. */
import type { HfConfig } from './config.js';

/** Config fields all three understand (Family.fields is a set: the order means nothing). */
export const SHARED_FIELDS = [
  'hidden_size',
  'num_attention_heads',
  'num_hidden_layers',
  'intermediate_size',
  'vocab_size',
  'max_position_embeddings',
  'layer_norm_eps',
  'hidden_act',
];

/** The sizes, read in this order (a config with several bad fields is reported by the first). */
export function sizes(cfg: HfConfig) {
  const C = cfg.int('hidden_size');
  const H = cfg.int('num_attention_heads');
  return { C, H, D: C / H, L: cfg.int('num_hidden_layers'), F: cfg.int('intermediate_size'), V: cfg.int('vocab_size') };
}
