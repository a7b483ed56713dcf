/**
 * What the WebGPU path can run today, checked on the resolved model before any code is
 * generated. A knob it cannot honour is an MS4001 error pointing at the knob's source (or at
 * the model when the value is a default), never silently ignored. Each message names the knob
 * and its value; each hint says what does run, and never suggests a change that would turn the
 * model into a different kind of model (a causal BERT is not BERT).
 */
import { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { allLayers, type ModelSpec } from '../semantics/model.js';

/** What runs on the GPU, for hints: one phrase, kept next to the checks it summarises. */
export const GPU_SCOPE =
  'decoder-only models (arch = decoder) with causal attention, like GPT-2 and Llama, encoder-only models (arch = encoder), like BERT, and encoder–decoders (arch = encoder_decoder), like T5';

/** The knob path a layer's value was recorded under: `layers[i].x` when layers differ, else `block.x`. */
export function layerKnob(m: ModelSpec, index: number, path: string): string {
  return m.knobs.has(`layers[${index}].${path}`) ? `layers[${index}].${path}` : `block.${path}`;
}

export function checkGpuSupport(m: ModelSpec): DiagnosticBag {
  const bag = new DiagnosticBag();
  const at = (path: string) => m.knobs.get(path)?.span ?? m.span;
  const reject = (path: string, what: string, hint: string) => bag.report('MS4001', at(path), { what }, { hint });

  // An encoder–decoder runs (encode once, then the decoder with its KV cache and the kept
  // cross-attention K/V); it generates, so it needs its LM head.
  if (m.arch === 'encoder_decoder' && m.head.kind !== 'lm')
    reject(
      'head.kind',
      `head.kind = ${m.head.kind} in an encoder–decoder (its decoder outputs hidden states, not tokens)`,
      'an encoder–decoder generates its output with head { kind: lm }',
    );

  // Positions run in every kind (the T5 relative bias in the attention kernels), and so does bidirectional attention.
  // Segment embeddings, the embedding norm, a pooler and head { kind: none } (hidden states out) all run.
  const layers = allLayers(m);
  const wide = layers.find((l) => l.attention.head_dim > 256);
  if (wide) {
    reject(
      layerKnob(m, wide.index, 'attention.head_dim'),
      `attention.head_dim = ${wide.attention.head_dim} (the attention kernel keeps at most 256 per head in registers)`,
      'use more heads (head_dim defaults to d_model / heads) or set head_dim to 256 or less',
    );
  }
  return bag;
}
