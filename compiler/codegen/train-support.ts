/**
 * What `mspec train` can run on the GPU today, beyond what inference needs (support.ts):
 * causal LM only, no dropout (the kernels have no RNG yet).
 * Each refusal is MS4001 at the knob that asks for it.
 */
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { allLayers, type ModelSpec, type TrainSpec } from '../semantics/model.js';
import { checkGpuSupport } from './support.js';

export function checkTrainSupport(m: ModelSpec, t: TrainSpec): DiagnosticBag {
  const bag = checkGpuSupport(m);
  const at = (path: string) => m.knobs.get(path)?.span ?? m.span;
  if (t.objective !== 'causal_lm') bag.report('MS4001', at('train.objective'), { what: `training with objective = ${t.objective}` }, { hint: 'train decoder-only models with objective = causal_lm' });
  const dropout = m.embedding.dropout > 0 || allLayers(m).some((l) => l.dropout > 0 || l.attention.dropout > 0);
  if (dropout) bag.report('MS4001', at('block.dropout') ?? at('embedding.dropout'), { what: 'dropout during training' }, { hint: 'set dropout = 0 (tiny models on small corpora train fine without it)' });
  if (t.dtype !== 'f32') bag.report('MS4001', at('train.dtype'), { what: `dtype = ${t.dtype}` }, { hint: 'train in f32' });
  return bag;
}
