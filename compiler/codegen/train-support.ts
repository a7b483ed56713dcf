/**
 * What `mspec train` can run on the GPU today, beyond what inference needs (support.ts):
 * causal-LM training of a decoder and masked-LM training of an encoder, in f32. Each refusal
 * is MS4001 at the knob that asks for it. Dropout (embedding, residual branches, attention
 * weights) runs: the kernels draw counter-based masks from the run's seed and the micro-batch
 * counter (runtime/counter-rng.ts).
 *
 * The objective needs no check of its own: semantics (MS2108) only accepts mlm with
 * arch = encoder (and an LM head: head { kind: none } has no loss) and seq2seq with
 * arch = encoder_decoder (trained on (source, target) pairs, runtime/data/pairs.ts).
 */
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { ModelSpec, TrainSpec } from '../semantics/model.js';
import { checkGpuSupport } from './support.js';

export function checkTrainSupport(m: ModelSpec, t: TrainSpec): DiagnosticBag {
  const bag = checkGpuSupport(m);
  const at = (path: string) => m.knobs.get(path)?.span ?? m.span;
  if (t.dtype !== 'f32')
    bag.report(
      'MS4001',
      at('train.dtype'),
      { what: `train.dtype = ${t.dtype}` },
      { hint: 'the GPU trainer keeps weights, gradients and optimizer state in f32; set dtype = f32 or remove it' },
    );
  return bag;
}
