/**
 * The end of a training step, after the backward pass: gradient accumulation across
 * micro-batches, global-norm clipping (per-parameter partial sums of squares, then one
 * kernel that forms the norm and the clip scale and flags NaN/Inf) and one fused AdamW
 * kernel per parameter (torch's order; decoupled decay on matrices and tables), or per chunk
 * of a parameter larger than one storage binding.
 */
import { generateAdd } from '../codegen/wgsl/kernels/add.js';
import { generateAdamW, generateClipScale, generateSumSquares } from '../codegen/wgsl/kernels/optim/index.js';
import type { BindingRange, TrainIo } from '../../runtime/plan-types.js';
import { rowChunks } from './chunks.js';
import type { PlanContext } from './context.js';
import { numel } from './plan-builder.js';

export interface OptimizerOptions {
  readonly clip: number;
  /** Micro-batches per optimizer step (≥ 1). */
  readonly accumulation: number;
  /** The gradient buffer of each parameter. */
  readonly grads: ReadonlyMap<string, string>;
  /** Gradient buffers to zero at the start of each micro-step. */
  readonly cleared: readonly string[];
}

export function emitOptimizer(c: PlanContext, o: OptimizerOptions): TrainIo {
  const { P, graph } = c;
  const k = o.accumulation;
  // With k > 1 each micro-step adds its gradients into per-parameter accumulators; the update
  // then clips the SUM at k·clip and AdamW runs with eps·k (the host scales it), which is
  // exactly AdamW on the mean gradient.
  // A parameter the loss does not reach (BERT's pooler under the MLM loss) is frozen, as
  // torch.optim skips a parameter whose .grad is None: its gradient is a buffer of zeros (never
  // written) and no AdamW kernel runs for it, so weight decay does not shrink it either.
  const frozen = new Set(graph.params.filter((p) => !o.grads.has(p.name)).map((p) => p.name));
  const zeros = new Map([...frozen].map((name) => [name, P.scratch(`d:${name}`, graph.params.find((p) => p.name === name)!.shape)]));
  const accOf = new Map<string, string>();
  // A parameter larger than one binding (GPT-2's token table) is updated in element chunks,
  // each its own dispatch over byte ranges of param, gradient and moments alike.
  const pieces = (n: number) => rowChunks(n, 4, c.maxBinding, c.bindAlign) ?? [{ row0: 0, rows: n, range: { offset: 0, size: 4 * n } }];
  const chunked = (ranges: Record<string, BindingRange>, whole: boolean) => (whole ? undefined : ranges);
  if (k > 1) {
    for (const p of graph.params) {
      if (frozen.has(p.name)) continue;
      const acc = P.add({ name: `acc:${p.name}`, kind: 'param', dtype: 'f32', shape: p.shape, bytes: 4 * numel(p.shape) });
      const parts = pieces(numel(p.shape));
      for (const ch of parts)
        P.emit(
          generateAdd({ shape: [ch.rows], inPlace: true }),
          { a: acc, b: o.grads.get(p.name)! },
          'accumulate',
          {},
          chunked({ a: ch.range, b: ch.range }, parts.length === 1),
        );
      accOf.set(p.name, acc);
    }
  }
  const microSteps = P.steps.length + 1; // + the 'clear' step put first below

  const parts = new Map(graph.params.map((p) => [p.name, pieces(numel(p.shape))]));
  const slots = [...parts.values()].reduce((n, ps) => n + ps.length, 0);
  const partial = P.scratch('optim.partial', [slots]);
  const scale = P.scratch('optim.scale', [1]);
  const gradNorm = P.add({ name: 'optim.grad_norm', kind: 'output', dtype: 'f32', shape: [1], bytes: 4 });
  const nonfinite = P.add({ name: 'optim.nonfinite', kind: 'output', dtype: 'u32', shape: [1], bytes: 4 });
  const optim = P.add({ name: 'optim', kind: 'uniform', dtype: 'f32', shape: [8], bytes: 32 });
  const gradOf = (name: string) => {
    const g = accOf.get(name) ?? o.grads.get(name) ?? zeros.get(name);
    if (!g) throw new Error(`internal: parameter ${name} received no gradient`);
    return g;
  };
  let slot = 0;
  for (const p of graph.params) {
    const ps = parts.get(p.name)!;
    for (const ch of ps)
      P.emit(
        generateSumSquares({ n: ch.rows, slot: slot++, slots }),
        { grad: gradOf(p.name), partial },
        'optim',
        {},
        chunked({ grad: ch.range }, ps.length === 1),
      );
  }
  P.emit(generateClipScale({ slots, maxNorm: o.clip * k }), { partial, scale, norm: gradNorm, nonfinite }, 'optim');
  const params: TrainIo['params'][number][] = [];
  for (const p of graph.params) {
    const m = P.add({ name: `m:${p.name}`, kind: 'param', dtype: 'f32', shape: p.shape, bytes: 4 * numel(p.shape) });
    const v = P.add({ name: `v:${p.name}`, kind: 'param', dtype: 'f32', shape: p.shape, bytes: 4 * numel(p.shape) });
    const g = gradOf(p.name);
    const ps = parts.get(p.name)!;
    if (!frozen.has(p.name))
      for (const ch of ps) {
        const r = ch.range;
        const ranges = chunked({ param: r, grad: r, m: r, v: r }, ps.length === 1);
        P.emit(generateAdamW({ n: ch.rows, decay: p.decay }), { param: p.name, grad: g, m, v, scale }, 'optim', { optim }, ranges);
      }
    params.push({ name: p.name, grad: g, m, v, decay: p.decay });
  }
  if (k > 1) P.steps.push({ kind: 'clear', buffers: [...accOf.values()], scope: 'zero accumulators' });
  P.steps.unshift({ kind: 'clear', buffers: [...o.cleared, ...zeros.values()], scope: 'zero gradients' });
  return { optim, gradNorm, nonfinite, params, accumulation: k, microSteps };
}
