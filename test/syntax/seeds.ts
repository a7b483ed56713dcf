/** Realistic spec texts shared by the syntax tests, the formatter tests and the fuzz test. */

export const GPT2 = `// specs/gpt2-small.model
model gpt2_small {
  vocab   = 50257
  context = 1024
  d_model = 768
  layers  = 12

  embedding { positions: learned, tied: true }

  block {                                  // repeated \`layers\` times
    norm: layernorm(eps: 1e-5), placement: pre
    attention { heads: 12, causal, bias: true }
    mlp { activation: gelu_tanh, hidden: 4 * d_model, bias: true }
  }
  final_norm: layernorm(eps: 1e-5)
}
`;

export const LLAMA = `// specs/llama2-7b.model
model llama2_7b {
  vocab = 32_000;  context = 4k;  d_model = 4Ki;  layers = 32
  embedding { positions: rope(base: 10000, fraction: 0.5), tied: false }
  block {
    norm: rmsnorm(eps: 1e-5), placement: pre
    attention { heads: 32, kv_heads: 32, causal, bias: false }
    mlp { activation: swiglu, hidden: round_to(8 * d_model / 3, 256), bias: false }
  }
  /* sliding window on odd layers,
     global attention on the rest */
  block[1::2, -1] { attention { window: 4096 } }
  block[0:6] { mlp { experts: 8, top_k: 2 } }
  final_norm: rmsnorm(eps: 1e-5)
}

model mistral_7b extends llama2_7b {
  context = 32768
  attention { kv_heads: 8, window: none }   // GQA
  mlp { hidden: 14336, }
}
`;

export const CHAR_GPT = `// examples/moby/char-gpt.model
import "../../specs/gpt2-small.model"

model char_gpt extends gpt2_small {
  vocab = tokenizer.vocab     // taken from the data's tokenizer
  context = 128;  d_model = 128;  layers = 4
  attention { heads: 4 }
}

train char_gpt {
  data      = "moby-dick"                  // a built-in corpus, or a path
  tokenizer = char
  objective = causal_lm
  batch = 32;  steps = 2000;  seed = 1337
  optimizer = adamw(lr: 3e-3, betas: (0.9, 0.95), weight_decay: 0.1)
  schedule  = cosine(warmup: 100, min_lr: 3e-4 * (1 - 0.5) % 2)
  clip      = 1.0
  eval { every: 200, batches: 20, }
}
`;

export const SEEDS = [GPT2, LLAMA, CHAR_GPT];
