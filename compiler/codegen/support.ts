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
export const GPU_SCOPE = 'decoder-only models (arch = decoder) with causal attention and an LM head, like GPT-2 and Llama';

/** The knob path a layer's value was recorded under: `layers[i].x` when layers differ, else `block.x`. */
export function layerKnob(m: ModelSpec, index: number, path: string): string {
  return m.knobs.has(`layers[${index}].${path}`) ? `layers[${index}].${path}` : `block.${path}`;
}

export function checkGpuSupport(m: ModelSpec): DiagnosticBag {
  const bag = new DiagnosticBag();
  const at = (path: string) => m.knobs.get(path)?.span ?? m.span;
  const reject = (path: string, what: string, hint: string) => bag.report('MS4001', at(path), { what }, { hint });

  // An encoder or encoder–decoder is refused as a whole: no knob change makes it a decoder,
  // so its other unsupported knobs (segments, pooler, relative positions) would only be noise.
  if (m.arch !== 'decoder') {
    const what = {
      encoder: 'arch = encoder (encoder-only models with bidirectional attention, such as BERT)',
      encoder_decoder: 'arch = encoder_decoder (an encoder stack plus a decoder stack with cross-attention, as in T5)',
    }[m.arch];
    reject('arch', what, `the GPU path runs only ${GPU_SCOPE}; mspec check, info and diff handle this model fully`);
    return bag;
  }

  const p = m.embedding.positions.kind;
  if (p === 'relative')
    reject(
      'embedding.positions',
      'embedding.positions = relative (the T5 bucketed relative-position bias)',
      'the GPU path supports positions: learned, sinusoidal, rope, alibi or none; rope or alibi also encode relative distance',
    );
  if (m.embedding.segments > 0)
    reject(
      'embedding.segments',
      `embedding.segments = ${m.embedding.segments} (segment embeddings)`,
      'segment (token-type) embeddings are not implemented on the GPU; set segments: 0 in embedding',
    );
  if (m.embedding.norm)
    reject('embedding.norm', `embedding.norm = ${m.embedding.norm.kind} (a norm after the embeddings)`, 'set norm: none in embedding');
  if (m.head.kind !== 'lm')
    reject(
      'head.kind',
      `head.kind = ${m.head.kind} (a decoder without an LM head)`,
      'the GPU path generates tokens, which needs head { kind: lm }',
    );
  if (m.head.pooler) reject('head.pooler', 'head.pooler = true (the BERT pooler)', 'set pooler: false in head');
  const layers = allLayers(m);
  const wide = layers.find((l) => l.attention.head_dim > 256);
  if (wide) {
    reject(
      layerKnob(m, wide.index, 'attention.head_dim'),
      `attention.head_dim = ${wide.attention.head_dim} (the attention kernel keeps at most 256 per head in registers)`,
      'use more heads (head_dim defaults to d_model / heads) or set head_dim to 256 or less',
    );
  }
  const bidirectional = layers.find((l) => !l.attention.causal);
  if (bidirectional) {
    reject(
      layerKnob(m, bidirectional.index, 'attention.causal'),
      `attention.causal = false in a decoder (layer ${bidirectional.index} attends to later tokens)`,
      'the GPU attention kernel always masks later positions; remove causal: false (a decoder is causal by default)',
    );
  }
  return bag;
}
