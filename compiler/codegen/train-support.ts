/**
 * What `mspec train` can run on the GPU today, beyond what inference needs (support.ts):
 * causal-LM training of a decoder, without dropout (the kernels have no random-number
 * generator yet), in f32. Each refusal is MS4001 at the knob that asks for it.
 *
 * The objective needs no check of its own: semantics (MS2108) only accepts mlm with
 * arch = encoder and seq2seq with arch = encoder_decoder, and support.ts refuses both
 * architectures, so a model that reaches the trainer is a decoder trained with causal_lm.
 */
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { allLayers, type ModelSpec, type TrainSpec } from '../semantics/model.js';
import { checkGpuSupport } from './support.js';

export function checkTrainSupport(m: ModelSpec, t: TrainSpec): DiagnosticBag {
  const bag = checkGpuSupport(m);
  // An encoder or encoder–decoder is refused as a whole (at arch); its dropout or dtype would only be noise.
  if (m.arch !== 'decoder') return bag;
  const at = (path: string) => m.knobs.get(path)?.span ?? m.span;
  const dropout = firstDropout(m);
  if (dropout) {
    bag.report(
      'MS4001',
      at(dropout.path),
      { what: `dropout during training (${dropout.path} = ${dropout.value})` },
      {
        hint: 'the GPU kernels have no random-number generator yet; set every dropout in the model to 0 (tiny models on small corpora train fine without it)',
      },
    );
  }
  if (t.dtype !== 'f32')
    bag.report(
      'MS4001',
      at('train.dtype'),
      { what: `train.dtype = ${t.dtype}` },
      { hint: 'the GPU trainer keeps weights, gradients and optimizer state in f32; set dtype = f32 or remove it' },
    );
  return bag;
}

/** The first dropout the model asks for, preferring a knob that was written (so the error points at it). */
function firstDropout(m: ModelSpec): { path: string; value: number } | undefined {
  const asked: { path: string; value: number; written: boolean }[] = [];
  if (m.embedding.dropout > 0) asked.push({ path: 'embedding.dropout', value: m.embedding.dropout, written: false });
  for (const l of allLayers(m)) {
    if (l.dropout > 0) asked.push({ path: `layers[${l.index}].dropout`, value: l.dropout, written: false });
    if (l.attention.dropout > 0) asked.push({ path: `layers[${l.index}].attention.dropout`, value: l.attention.dropout, written: false });
  }
  if (asked.length === 0) return undefined;
  // Layer values are recorded as `block.x` when every layer agrees.
  const named = asked.map((a) => {
    const path = m.knobs.has(a.path) ? a.path : a.path.replace(/^layers\[\d+\]\./, 'block.');
    return { path, value: a.value, written: m.knobs.get(path)?.span !== undefined };
  });
  return named.find((a) => a.written) ?? named[0];
}
