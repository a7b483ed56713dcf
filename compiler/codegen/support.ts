/**
 * What the WebGPU path can run today, checked on the resolved model before any code is
 * generated. A knob it cannot honour is an MS4001 error pointing at the knob's source (or at
 * the model when the value is a default), never silently ignored.
 */
import { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { allLayers, type ModelSpec } from '../semantics/model.js';

export function checkGpuSupport(m: ModelSpec): DiagnosticBag {
  const bag = new DiagnosticBag();
  const at = (path: string) => m.knobs.get(path)?.span ?? m.span;
  const reject = (path: string, what: string, hint: string) => bag.report('MS4001', at(path), { what }, { hint });
  if (m.arch !== 'decoder') reject('arch', `arch = ${m.arch} (only decoder-only models run on the GPU so far)`, 'check and size it with mspec info; GPU kernels cover the GPT-2 and Llama families');
  const p = m.embedding.positions.kind;
  if (p === 'relative' || p === 'sinusoidal') reject('embedding.positions', `${p} positions`, 'use learned, rope, alibi or none');
  if (m.embedding.segments > 0) reject('embedding.segments', 'segment embeddings', 'set segments: 0');
  if (m.embedding.norm) reject('embedding.norm', 'an embedding norm', 'set norm: none in embedding');
  if (m.head.kind !== 'lm') reject('head.kind', 'a model without an LM head', 'set head { kind: lm }');
  if (m.head.pooler) reject('head.pooler', 'the BERT pooler', 'set head { pooler: false }');
  const layers = allLayers(m);
  const moe = layers.find((l) => l.moe);
  if (moe) reject(m.knobs.has('block.mlp.experts') ? 'block.mlp.experts' : `layers[${moe.index}].mlp.experts`, 'mixture-of-experts layers', 'use a dense MLP (experts: 1)');
  for (const l of layers) {
    if (l.attention.head_dim > 256) reject('block.attention.head_dim', `head_dim ${l.attention.head_dim} (the attention kernel keeps at most 256 per head in registers)`, 'use more heads');
    if (!l.attention.causal) reject('block.attention.causal', 'bidirectional attention in a decoder', 'set causal: true');
  }
  return bag;
}
