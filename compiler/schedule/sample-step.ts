/**
 * The post-pass that ends a decoder's prefill and decode plans with the sample kernel
 * (codegen/wgsl/kernels/sample.ts): the next token is chosen on the device from the row of
 * logits the plan just computed and written into the decode plan's token input, so the runtime
 * can encode many decode steps in one command buffer and read the chosen ids back once
 * (runtime/model-runtime.ts). The token input and the logits are named alike in both plans, and
 * the runtime shares buffers of one name, so the prefill's kernel feeds the first decode step.
 */
import { generateSample } from '../codegen/wgsl/kernels/sample.js';
import type { KernelPlan } from '../../runtime/plan-types.js';
import { SAMPLE_UNIFORM } from '../../runtime/uniforms.js';
import type { PlanContext } from './context.js';

/** Appends the sample step; returns the plan io naming its buffers (nothing when the plan has no logits to sample). */
export function appendSampleStep(c: PlanContext, tokens: string): Pick<KernelPlan['io'], 'sample'> {
  if (!c.logits || !(c.mode === 'prefill' || c.mode === 'decode') || c.model.arch !== 'decoder') return {};
  const { P } = c;
  const logits = P.buffers.get(c.logits)!;
  const width = c.model.vocab;
  const rows = logits.bytes / 4 / width;
  const history = c.model.context + 1;
  const sampled = P.add({ name: 'sampled', kind: 'output', dtype: 'u32', shape: [history], bytes: 4 * history });
  const uniform = P.add({ name: 'sample', kind: 'uniform', dtype: 'u32', shape: [8], bytes: SAMPLE_UNIFORM.bytes });
  const k = generateSample({
    vocab: c.model.vocab_raw,
    width,
    rows,
    history,
    prefill: c.mode === 'prefill',
    tuning: c.tuning,
  });
  P.emit(k, { logits: c.logits, tokens, sampled }, 'sample', { sample: uniform });
  return { sample: { uniform, sampled } };
}
