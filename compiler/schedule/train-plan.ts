/**
 * The training step as one plan: the forward (each group keeping what its backward needs:
 * norm statistics, attention log-sum-exps, pre-activations), softmax + cross-entropy with its
 * gradient in the same kernel, the backward (each group's backward, walked in reverse), then
 * accumulation, global-norm clipping and AdamW over gradients packed into arenas (optimizer.ts,
 * grad-arena.ts). The host writes the Step and
 * Optim uniforms, submits the plan once per step and reads the loss back without waiting on it.
 */
import type { KernelTuning } from '../codegen/wgsl/matmul.js';
import type { Graph } from '../ir/graph.js';
import type { ModelSpec } from '../semantics/model.js';
import type { KernelPlan } from '../../runtime/plan-types.js';
import type { GradContext } from './context.js';
import { fuse } from './fuse.js';
import { type Group, groupModule } from './groups/index.js';
import { emitOptimizer } from './optimizer.js';
import { generateAdd } from '../codegen/wgsl/kernels/add.js';
import { MAX_STORAGE_BUFFERS } from '../codegen/wgsl/kernels/common.js';
import { encoderIo, logitChunksIo, moeIo, planContext, sourceIo, tokensInput } from './plan.js';
import { auxLossValues } from './groups/moe.js';
import { generateLossSeed } from '../codegen/wgsl/kernels/moe/aux-loss.js';

export interface TrainPlanOptions {
  readonly B: number;
  readonly T: number;
  /** An encoder–decoder's source length (default: context; sources are padded to it). */
  readonly S?: number;
  readonly clip: number;
  /** Micro-steps per optimizer step (default 1); see optimizer.ts. */
  readonly accumulation?: number;
  readonly tuning: KernelTuning;
  readonly subgroupMinSize?: number;
  /** Bind tensors larger than this in chunks: the token table, the LM head and its logits, their gradients and moments (default: bind every tensor whole). */
  readonly maxBinding?: number;
  /** minStorageBufferOffsetAlignment of the target (default 256). */
  readonly bindAlign?: number;
  /**
   * maxStorageBuffersPerShaderStage of the target (default 8, WebGPU's default): the
   * multi-tensor AdamW binds this many minus four parameters per dispatch (optimizer.ts).
   */
  readonly maxStorageBuffers?: number;
}

export function planTraining(model: ModelSpec, graph: Graph, opts: TrainPlanOptions): KernelPlan {
  const { B, T } = opts;
  const S = model.arch === 'encoder_decoder' ? (opts.S ?? model.context) : T;
  const c = planContext(model, graph, {
    mode: 'train',
    B,
    T,
    S,
    tuning: opts.tuning,
    subgroupMinSize: opts.subgroupMinSize,
    maxBinding: opts.maxBinding,
    bindAlign: opts.bindAlign,
  });
  const { P } = c;

  const saved: { g: Group; saved: unknown }[] = [];
  const groups = fuse(graph);
  for (const g of groups) saved.push({ g, saved: groupModule(g).forward(c, g) });

  const grads = new Map<string, string>(); // buffer → its gradient buffer (once written)
  let scratchN = 0;
  const d: GradContext = {
    of: (b) => grads.get(b),
    set: (b, grad) => void grads.set(b, grad),
    name: (b) => `d:${b}`,
    contribute(target, scope, write) {
      const shape = P.buffers.get(target)!.shape;
      const have = grads.get(target);
      if (!have) {
        const dst = P.scratch(`d:${target}`, shape);
        write(dst);
        grads.set(target, dst);
        return;
      }
      const tmp = P.scratch(`d~${scratchN++}:${target}`, shape);
      write(tmp);
      P.emit(generateAdd({ shape: [...shape], inPlace: true }), { a: have, b: tmp }, scope);
    },
    fusedPre: new Set(),
  };
  // d(loss)/d(logits) is in the logits buffer after the fused softmax-xent kernel.
  if (c.logits) grads.set(c.logits, c.logits);
  // With load-balancing losses the loss output is add(cross-entropy, Σ aux): its backward
  // starts from a buffer set to 1 each step (not a `d:` buffer, which the step clears).
  const auxLoss = auxLossValues(graph);
  if (auxLoss) {
    const seed = P.scratch('seed:loss', [1]);
    P.emit(generateLossSeed(), { seed }, 'head');
    grads.set(P.buf(auxLoss.loss), seed);
  }
  for (const { g, saved: s } of [...saved].reverse()) groupModule(g).backward(c, d, g, s);

  // Every gradient buffer starts each step at zero (accumulating kernels add into them).
  const cleared = [...P.buffers.values()].filter((b) => b.name.startsWith('d:') || b.name.startsWith('d~')).map((b) => b.name);
  const train = emitOptimizer(c, {
    clip: opts.clip,
    accumulation: Math.max(1, opts.accumulation ?? 1),
    grads,
    cleared,
    maxStorageBuffers: opts.maxStorageBuffers ?? MAX_STORAGE_BUFFERS,
  });

  return {
    model: model.name,
    mode: 'train',
    B,
    T,
    vocab: model.vocab,
    context: model.context,
    buffers: [...P.buffers.values()],
    kernels: P.kernels,
    steps: P.steps,
    io: {
      tokens: tokensInput(graph),
      targets: 'targets',
      logits: c.logits ?? '',
      ...logitChunksIo(c),
      loss: c.loss ?? '',
      step: P.step,
      ...sourceIo(graph),
      ...encoderIo(c),
      ...moeIo(c, groups),
    },
    train,
  };
}
