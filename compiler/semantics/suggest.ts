/**
 * "Did you mean …?" for misspelt names: optimal-string-alignment distance (Levenshtein plus
 * adjacent transpositions, so `activaton` and `atcivation` both find `activation`).
 */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => Array.from({ length: n + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[m]![n]!;
}

/** The closest candidate within a distance that scales with the word's length, or undefined. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD && dist <= limit) {
      best = c;
      bestD = dist;
    }
  }
  return best;
}

/**
 * Names other frameworks (Hugging Face configs, nanoGPT, PyTorch, papers) give to values and knobs
 * mspec spells differently: no edit distance finds `silu` from `swish` or `layers` from `n_layer`.
 */
const OTHER_NAMES: Readonly<Record<string, string>> = {
  swish: 'silu',
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu_fast: 'gelu_tanh',
  rotary: 'rope',
  absolute: 'learned',
  sin: 'sinusoidal',
  sincos: 'sinusoidal',
  t5: 'relative',
  nope: 'none',
  rms: 'rmsnorm',
  ln: 'layernorm',
  cos: 'cosine',
  seq2seq_lm: 'seq2seq',
  clm: 'causal_lm',
  masked_lm: 'mlm',
  // knobs, as GPT-2 / nanoGPT and Hugging Face configs name them
  n_layer: 'layers',
  num_layers: 'layers',
  num_hidden_layers: 'layers',
  n_embd: 'd_model',
  hidden_size: 'd_model',
  n_ctx: 'context',
  n_positions: 'context',
  block_size: 'context',
  max_position_embeddings: 'context',
  vocab_size: 'vocab',
  n_head: 'heads',
  num_attention_heads: 'heads',
  n_kv_heads: 'kv_heads',
  num_key_value_heads: 'kv_heads',
  intermediate_size: 'hidden',
  d_ff: 'hidden',
  ffn_dim: 'hidden',
  n_inner: 'hidden',
  hidden_act: 'activation',
  num_experts: 'experts',
  num_local_experts: 'experts',
  num_experts_per_tok: 'top_k',
  sliding_window: 'window',
  tie_word_embeddings: 'tied',
  rms_norm_eps: 'eps',
  layer_norm_eps: 'eps',
  layer_norm_epsilon: 'eps',
  // train knobs and their arguments
  learning_rate: 'lr',
  warmup_steps: 'warmup',
  batch_size: 'batch',
  max_steps: 'steps',
  max_iters: 'steps',
  grad_clip: 'clip',
  seq_length: 'seq_len',
};

/** mspec's name for `word` when another framework names the same thing so, else undefined. */
export function mspecName(word: string): string | undefined {
  return OTHER_NAMES[word.toLowerCase()];
}

/** `; did you mean 'x'?` or the empty string, ready to drop into a message template. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const list = [...candidates];
  const other = mspecName(word);
  if (other !== undefined && other !== word && list.includes(other)) return `; did you mean '${other}'? (mspec's name for ${word})`;
  const c = closest(word, list);
  return c === undefined ? '' : `; did you mean '${c}'?`;
}
