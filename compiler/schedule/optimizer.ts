/**
 * The end of a training step, after the backward pass: gradient accumulation across
 * micro-batches, global-norm clipping (per-parameter partial sums of squares, then one
 * kernel that forms the norm and the clip scale and flags NaN/Inf) and AdamW (torch's order;
 * decoupled decay on matrices and tables).
 *
 * The parameter gradients are packed into arenas first (grad-arena.ts), with the
 * accumulators and moments laid out alike, so the step clears one buffer per arena,
 * accumulates with one add per arena, forms every arena tensor's Σ g² in one dispatch and
 * updates up to maxStorageBuffersPerShaderStage − 4 parameters per AdamW dispatch
 * (kernels/optim/arena.ts): each kernel computes exactly what the per-tensor kernels did, bit
 * for bit. A parameter larger than one storage binding keeps its own buffers and is updated
 * in element chunks, each its own dispatch over byte ranges of param, gradient and moments; a
 * tensor whose length is not a multiple of 4 takes the per-tensor kernels over its range.
 */
import { generateAdd } from '../codegen/wgsl/kernels/add.js';
import {
  generateAdamW,
  generateAdamWArena,
  generateClipScale,
  generateSumSquares,
  generateSumSquaresArena,
} from '../codegen/wgsl/kernels/optim/index.js';
import { DEFAULT_BINDING_LIMITS } from '../../runtime/gpu/limits.js';
import type { BindingRange, TrainIo } from '../../runtime/plan-types.js';
import { rowChunks } from './chunks.js';
import type { PlanContext } from './context.js';
import { arenaConflicts, layoutArenas, moveIntoArenas, type ArenaLayout, type Move } from './grad-arena.js';
import { numel } from './plan-builder.js';

export interface OptimizerOptions {
  readonly clip: number;
  /** Micro-batches per optimizer step (≥ 1). */
  readonly accumulation: number;
  /** The gradient buffer of each parameter. */
  readonly grads: ReadonlyMap<string, string>;
  /** Gradient buffers to zero at the start of each micro-step. */
  readonly cleared: readonly string[];
  /** maxStorageBuffersPerShaderStage of the target device (WebGPU's default is 8). */
  readonly maxStorageBuffers: number;
}

type Param = PlanContext['graph']['params'][number];

/** The arena buffer names: gradients, accumulators, first and second moments. */
const arenaName = (kind: 'grad' | 'acc' | 'm' | 'v', a: number) => `optim.${kind}.${a}`;

export function emitOptimizer(c: PlanContext, o: OptimizerOptions): TrainIo {
  const { P, graph } = c;
  const k = o.accumulation;
  if (o.maxStorageBuffers < 5) throw new Error(`internal: maxStorageBuffers ${o.maxStorageBuffers} leaves no binding for a parameter`);
  // With k > 1 each micro-step adds its gradients into per-parameter accumulators; the update
  // then clips the SUM at k·clip and AdamW runs with eps·k (the host scales it), which is
  // exactly AdamW on the mean gradient.
  // A parameter the loss does not reach (BERT's pooler under the MLM loss) is frozen, as
  // torch.optim skips a parameter whose .grad is None: its gradient is a buffer of zeros (never
  // written) and no AdamW kernel runs for it, so weight decay does not shrink it either.
  const frozen = new Set(graph.params.filter((p) => !o.grads.has(p.name)).map((p) => p.name));
  const zeros = new Map([...frozen].map((name) => [name, P.scratch(`d:${name}`, graph.params.find((p) => p.name === name)!.shape)]));
  const gradBuf = (name: string) => {
    const g = o.grads.get(name) ?? zeros.get(name);
    if (!g) throw new Error(`internal: parameter ${name} received no gradient`);
    return g;
  };
  const layout = packGradients(c, o, gradBuf, [...zeros.values()]);
  const place = (name: string) => layout.places.get(name);
  const floats = (a: number) => layout.arenas[a]! / 4;
  const arenaBuffers = (kind: 'acc' | 'm' | 'v') =>
    layout.arenas.map((bytes, a) => P.add({ name: arenaName(kind, a), kind: 'param', dtype: 'f32', shape: [bytes / 4], bytes }));
  const movedGrads = new Set([...layout.places.keys()].map(gradBuf));
  const cleared = [...new Set([...o.cleared, ...zeros.values()].map((b) => (movedGrads.has(b) ? null : b)).filter((b) => b !== null))];
  cleared.push(...layout.arenas.map((_, a) => arenaName('grad', a)));

  // A parameter larger than one binding (GPT-2's token table) is handled in element chunks.
  const pieces = (n: number) => rowChunks(n, 4, c.maxBinding, c.bindAlign) ?? [{ row0: 0, rows: n, range: { offset: 0, size: 4 * n } }];
  const chunked = (ranges: Record<string, BindingRange>, whole: boolean) => (whole ? undefined : ranges);
  const own = graph.params.filter((p) => !place(p.name));
  const accOf = new Map<string, string>();
  if (k > 1) {
    const accArenas = arenaBuffers('acc');
    accArenas.forEach((acc, a) => {
      P.emit(generateAdd({ shape: [floats(a)], inPlace: true }), { a: acc, b: arenaName('grad', a) }, 'accumulate');
    });
    for (const p of graph.params) if (place(p.name)) accOf.set(p.name, accArenas[place(p.name)!.arena]!);
    for (const p of own) {
      if (frozen.has(p.name)) continue;
      const acc = P.add({ name: `acc:${p.name}`, kind: 'param', dtype: 'f32', shape: p.shape, bytes: 4 * numel(p.shape) });
      const parts = pieces(numel(p.shape));
      for (const ch of parts)
        P.emit(
          generateAdd({ shape: [ch.rows], inPlace: true }),
          { a: acc, b: gradBuf(p.name) },
          'accumulate',
          {},
          chunked({ a: ch.range, b: ch.range }, parts.length === 1),
        );
      accOf.set(p.name, acc);
    }
  }
  const microSteps = P.steps.length + 1; // + the 'clear' step put first below
  // What AdamW reads: the accumulator, or the gradient (arena or own buffer).
  const gradOf = (name: string) => accOf.get(name) ?? (place(name) ? arenaName('grad', place(name)!.arena) : gradBuf(name));

  // Clipping: one partial sum per tensor (or chunk), in parameter order as the clip kernel sums them.
  const parts = new Map(graph.params.map((p) => [p.name, pieces(numel(p.shape))]));
  const slots = [...parts.values()].reduce((n, ps) => n + ps.length, 0);
  const partial = P.scratch('optim.partial', [slots]);
  const scale = P.scratch('optim.scale', [1]);
  const gradNorm = P.add({ name: 'optim.grad_norm', kind: 'output', dtype: 'f32', shape: [1], bytes: 4 });
  const nonfinite = P.add({ name: 'optim.nonfinite', kind: 'output', dtype: 'u32', shape: [1], bytes: 4 });
  const optim = P.add({ name: 'optim', kind: 'uniform', dtype: 'f32', shape: [8], bytes: 32 });
  const arenaSums = layout.arenas.map(() => [] as { offset: number; n: number; slot: number }[]);
  let slot = 0;
  for (const p of graph.params) {
    const n = numel(p.shape);
    const at = place(p.name);
    if (at && n % 4 === 0) arenaSums[at.arena]!.push({ offset: at.offset / 4, n, slot: slot++ });
    else if (at)
      P.emit(
        generateSumSquares({ n, slot: slot++, slots }),
        { grad: gradOf(p.name), partial },
        'optim',
        {},
        { grad: { offset: at.offset, size: 4 * n } },
      );
    else {
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
  }
  arenaSums.forEach((tensors, a) => {
    if (tensors.length === 0) return;
    const grad = k > 1 ? arenaName('acc', a) : arenaName('grad', a);
    P.emit(generateSumSquaresArena({ tensors, arenaFloats: floats(a), slots }), { grad, partial }, 'optim');
  });
  P.emit(generateClipScale({ slots, maxNorm: o.clip * k }), { partial, scale, norm: gradNorm, nonfinite }, 'optim');

  // AdamW: arena tensors K per dispatch, then the rest one tensor (or chunk) per dispatch.
  const mArenas = arenaBuffers('m');
  const vArenas = arenaBuffers('v');
  const K = o.maxStorageBuffers - 4; // grad, m, v and scale take four storage bindings
  const groups = layout.arenas.map(() => [] as Param[]);
  const params: TrainIo['params'][number][] = [];
  for (const p of graph.params) {
    const n = numel(p.shape);
    const at = place(p.name);
    const g = gradOf(p.name);
    if (at) {
      const m = mArenas[at.arena]!;
      const v = vArenas[at.arena]!;
      if (!frozen.has(p.name) && n % 4 === 0) groups[at.arena]!.push(p);
      else if (!frozen.has(p.name)) {
        const r = { offset: at.offset, size: 4 * n };
        P.emit(generateAdamW({ n, decay: p.decay }), { param: p.name, grad: g, m, v, scale }, 'optim', { optim }, { grad: r, m: r, v: r });
      }
      params.push({ name: p.name, grad: g, m, v, offset: at.offset, numel: n, decay: p.decay });
      continue;
    }
    const m = P.add({ name: `m:${p.name}`, kind: 'param', dtype: 'f32', shape: p.shape, bytes: 4 * n });
    const v = P.add({ name: `v:${p.name}`, kind: 'param', dtype: 'f32', shape: p.shape, bytes: 4 * n });
    const ps = parts.get(p.name)!;
    if (!frozen.has(p.name))
      for (const ch of ps) {
        const r = ch.range;
        const ranges = chunked({ param: r, grad: r, m: r, v: r }, ps.length === 1);
        P.emit(generateAdamW({ n: ch.rows, decay: p.decay }), { param: p.name, grad: g, m, v, scale }, 'optim', { optim }, ranges);
      }
    params.push({ name: p.name, grad: g, m, v, offset: 0, numel: n, decay: p.decay });
  }
  groups.forEach((members, a) => {
    for (let i = 0; i < members.length; i += K) {
      const batch = members.slice(i, i + K);
      const tensors = batch.map((p) => ({ offset: place(p.name)!.offset / 4, n: numel(p.shape), decay: p.decay }));
      const bind: Record<string, string> = { grad: gradOf(batch[0]!.name), m: mArenas[a]!, v: vArenas[a]!, scale };
      batch.forEach((p, j) => (bind[`param${j}`] = p.name));
      P.emit(generateAdamWArena({ tensors, arenaFloats: floats(a), maxStorageBuffers: o.maxStorageBuffers }), bind, 'optim', { optim });
    }
  });
  if (k > 1) P.steps.push({ kind: 'clear', buffers: [...new Set(accOf.values())], scope: 'zero accumulators' });
  P.steps.unshift({ kind: 'clear', buffers: cleared, scope: 'zero gradients' });
  return { optim, gradNorm, nonfinite, params, accumulation: k, microSteps };
}

/**
 * Lays the parameter gradients out in arenas and rewrites the backward's steps to them. Only a
 * parameter's own cleared gradient buffer of exactly its size moves (not, say, the logits
 * buffer a fused kernel leaves a gradient in), and a buffer a kernel reads while writing
 * another tensor of its arena stays out (WebGPU would refuse that binding).
 */
function packGradients(c: PlanContext, o: OptimizerOptions, gradBuf: (name: string) => string, zeros: readonly string[]): ArenaLayout {
  const { P, graph } = c;
  const clearedSet = new Set([...o.cleared, ...zeros]);
  const users = new Map<string, number>();
  for (const p of graph.params) users.set(gradBuf(p.name), (users.get(gradBuf(p.name)) ?? 0) + 1);
  let candidates = graph.params.filter((p) => {
    const g = gradBuf(p.name);
    return clearedSet.has(g) && users.get(g) === 1 && P.buffers.get(g)?.bytes === 4 * numel(p.shape);
  });
  const capacity = Math.min(c.maxBinding, DEFAULT_BINDING_LIMITS.maxStorageBufferBindingSize);
  const accessOf = (kernel: number, binding: string) => P.kernels[kernel]!.bindings.find((b) => b.name === binding)!.access;
  for (;;) {
    const layout = layoutArenas(
      candidates.map((p) => ({ name: p.name, bytes: 4 * numel(p.shape) })),
      capacity,
      c.bindAlign,
    );
    const moves = new Map<string, Move>();
    for (const [name, at] of layout.places)
      moves.set(gradBuf(name), { arena: arenaName('grad', at.arena), offset: at.offset, bytes: P.buffers.get(gradBuf(name))!.bytes });
    const conflicts = arenaConflicts(P.steps, accessOf, moves);
    if (conflicts.size === 0) {
      const arenas = layout.arenas.map((bytes, a) => ({
        name: arenaName('grad', a),
        kind: 'activation' as const,
        dtype: 'f32' as const,
        shape: [bytes / 4],
        bytes,
      }));
      moveIntoArenas(P, moves, arenas);
      return layout;
    }
    candidates = candidates.filter((p) => !conflicts.has(gradBuf(p.name)));
  }
}
