/**
 * Inference plans: fused groups → concrete kernels (every dimension a constant in the
 * shader), a buffer for every value that crosses a kernel boundary, and the dispatch order.
 * Three modes:
 *   forward  — training/eval shape (B, T), logits and the loss, no cache;
 *   prefill  — B = 1, T = context: a prompt in one pass, K and V copied into per-layer caches;
 *   decode   — B = 1, T = 1: one token at Step.offset, attention over the cache.
 * The prefill and decode plans of one model name their weights and caches alike, so the
 * runtime shares those buffers between them. Each group's kernels come from its module in the
 * group table (groups/index.ts).
 */
import type { KernelTuning } from '../codegen/wgsl/matmul.js';
import type { Graph } from '../ir/graph.js';
import type { ModelSpec } from '../semantics/model.js';
import type { KernelPlan } from '../../runtime/plan-types.js';
import type { PlanContext } from './context.js';
import { consumers, fuse } from './fuse.js';
import { type Group, groupModule } from './groups/index.js';
import { auxLossValues, expertCountsBuffer } from './groups/moe.js';
import { PlanBuilder } from './plan-builder.js';

export type PlanMode = KernelPlan['mode'];

export interface PlanOptions {
  readonly mode: Exclude<PlanMode, 'train'>;
  /** forward mode only (prefill/decode use B = 1). */
  readonly B?: number;
  readonly T?: number;
  readonly tuning: KernelTuning;
  readonly subgroupMinSize?: number;
}

/** A fresh plan context (shared with the training driver). */
export function planContext(
  model: ModelSpec,
  graph: Graph,
  o: { mode: PlanMode; B: number; T: number; tuning: KernelTuning; subgroupMinSize?: number | undefined },
): PlanContext {
  return {
    P: new PlanBuilder(graph, o.B, o.T),
    graph,
    model,
    mode: o.mode,
    B: o.B,
    T: o.T,
    tuning: o.tuning,
    sg: o.subgroupMinSize ?? 0,
    cached: o.mode === 'prefill' || o.mode === 'decode',
    training: o.mode === 'train',
    uses: consumers(graph),
    logits: null,
    loss: null,
    layer: 0,
    activated: new Map(),
  };
}

/** MoE models: the summed load-balancing loss (plans that compute the loss) and each layer's expert counts. */
export function moeIo(c: PlanContext, groups: readonly Group[]): { aux?: string; expertCounts?: string[] } {
  const counts = groups.flatMap((g) => (g.kind === 'moe' ? [expertCountsBuffer(g)] : []));
  if (counts.length === 0) return {};
  const aux = auxLossValues(c.graph);
  return { ...(aux && !c.cached ? { aux: c.P.buf(aux.aux) } : {}), expertCounts: counts };
}

/** The graph input named `tokens` (every language-model graph has one). */
export function tokensInput(graph: Graph): string {
  return graph.values[graph.inputs.find((v) => graph.values[v]!.name === 'tokens')!]!.name;
}

export function planModel(model: ModelSpec, graph: Graph, opts: PlanOptions): KernelPlan {
  const mode = opts.mode;
  const B = mode === 'forward' ? (opts.B ?? 1) : 1;
  const T = mode === 'forward' ? (opts.T ?? model.context) : mode === 'prefill' ? model.context : 1;
  const c = planContext(model, graph, { mode, B, T, tuning: opts.tuning, subgroupMinSize: opts.subgroupMinSize });
  const groups = fuse(graph, { gatedEpilogue: true });
  for (const g of groups) {
    // Sampling plans compute no loss: skip the scalar adds of cross-entropy and MoE aux losses.
    if (c.cached && g.kind === 'add' && graph.values[g.out]!.type.shape.length === 0) continue;
    groupModule(g).forward(c, g);
  }
  if (!c.logits) throw new Error(`internal: no logits in the plan of ${model.name}`);
  const hasTargets = !c.cached && graph.inputs.some((v) => graph.values[v]!.name === 'targets');
  return {
    model: model.name,
    mode,
    B,
    T,
    vocab: model.vocab,
    ...(model.vocab_raw < model.vocab ? { vocabRaw: model.vocab_raw } : {}),
    context: model.context,
    buffers: [...c.P.buffers.values()],
    kernels: c.P.kernels,
    steps: c.P.steps,
    io: {
      tokens: tokensInput(graph),
      targets: hasTargets ? 'targets' : null,
      logits: c.logits,
      loss: c.loss,
      step: c.P.step,
      ...moeIo(c, groups),
    },
  };
}
