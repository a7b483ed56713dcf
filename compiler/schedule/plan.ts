/**
 * Inference plans: fused groups → concrete kernels (every dimension a constant in the
 * shader), a buffer for every value that crosses a kernel boundary, and the dispatch order.
 * Three modes:
 *   forward  — training/eval shape (B, T), logits and the loss, no cache;
 *   prefill  — B = 1, T = context: a prompt in one pass, K and V copied into per-layer caches;
 *              or T = R < context rows (a chunked prefill, when context rows cannot be bound):
 *              the prompt in passes of R rows at Step.offset, each attending over the cache;
 *   decode   — B = 1, T = 1: one token at Step.offset, attention over the cache;
 *   encode   — encoder–decoders only: B = 1, S = context: the encoder stack and every decoder
 *              layer's cross-attention K and V, computed once per source. The prefill and
 *              decode plans skip those groups and read the K/V buffers by name (the runtime
 *              shares buffers of one name between the plans of a model), so generation
 *              encodes once and each decoder step attends over the kept cross K/V.
 * The prefill and decode plans of one model name their weights and caches alike, so the
 * runtime shares those buffers between them. Each group's kernels come from its module in the
 * group table (groups/index.ts).
 */
import type { KernelTuning } from '../codegen/wgsl/matmul.js';
import type { Graph } from '../ir/graph.js';
import type { AttentionAttrs } from '../ir/ops.js';
import type { ModelSpec } from '../semantics/model.js';
import type { KernelPlan } from '../../runtime/plan-types.js';
import type { PlanContext } from './context.js';
import { consumers, fuse } from './fuse.js';
import { type Group, groupModule } from './groups/index.js';
import { auxLossValues, expertCountsBuffer } from './groups/moe.js';
import { PlanBuilder } from './plan-builder.js';
import { appendSampleStep } from './sample-step.js';

export type PlanMode = KernelPlan['mode'];

export interface PlanOptions {
  readonly mode: Exclude<PlanMode, 'train'>;
  /** forward mode only (prefill/decode use B = 1). */
  readonly B?: number;
  readonly T?: number;
  /** forward mode of an encoder–decoder: the source length (default: context). */
  readonly S?: number;
  readonly tuning: KernelTuning;
  readonly subgroupMinSize?: number;
  /** Bind tensors larger than this in chunks (default: bind every tensor whole). */
  readonly maxBinding?: number;
  /** minStorageBufferOffsetAlignment of the target (default 256, the WebGPU default). */
  readonly bindAlign?: number;
  /**
   * decode and prefill: query rows per pass (default 1 for decode, the context for prefill).
   * Speculative decoding's verify plan has lookahead + 1 rows at Step.offset, attending over the
   * cache like a one-row decode step; a chunked prefill (compile-model.ts) has R < context rows
   * and runs a long prompt as several passes at offsets 0, R, 2R, … (the cache keeps the rest).
   */
  readonly rows?: number;
  /** prefill/decode of a decoder: end with the device-side sample step (./sample-step.ts; default true). */
  readonly sample?: boolean;
}

/** A fresh plan context (shared with the training driver). */
export function planContext(
  model: ModelSpec,
  graph: Graph,
  o: {
    mode: PlanMode;
    B: number;
    T: number;
    S?: number | undefined;
    tuning: KernelTuning;
    subgroupMinSize?: number | undefined;
    maxBinding?: number | undefined;
    bindAlign?: number | undefined;
  },
): PlanContext {
  const S = o.S ?? o.T;
  return {
    P: new PlanBuilder(graph, o.B, o.T, S),
    graph,
    model,
    mode: o.mode,
    B: o.B,
    T: o.T,
    S,
    tuning: o.tuning,
    sg: o.subgroupMinSize ?? 0,
    maxBinding: o.maxBinding ?? Infinity,
    bindAlign: o.bindAlign ?? 256,
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

/**
 * The io of encoder models (BERT): the segment-id input, the hidden states of a model without
 * an LM head (head { kind: none }) and the pooler's output, each only where the model has it.
 */
export function encoderIo(c: PlanContext): { segments?: string; hidden?: string; pooled?: string } {
  const { graph, P } = c;
  const seg = graph.inputs.find((v) => graph.values[v]!.name === 'segments');
  const pooled = graph.outputs.find((v) => graph.values[v]!.name === 'pooler.pooled');
  const hidden = c.model.head.kind === 'none' ? graph.outputs.find((v) => v !== pooled) : undefined;
  return {
    ...(seg !== undefined ? { segments: graph.values[seg]!.name } : {}),
    ...(hidden !== undefined ? { hidden: P.buf(hidden) } : {}),
    ...(pooled !== undefined ? { pooled: P.buf(pooled) } : {}),
  };
}

/** An encoder–decoder's source input (`src_tokens`), for the plans' io; {} for single-stack graphs. */
export function sourceIo(graph: Graph): { src?: string } {
  const v = graph.inputs.find((i) => graph.values[i]!.name === 'src_tokens');
  return v === undefined ? {} : { src: graph.values[v]!.name };
}

/**
 * The values of an encoder–decoder graph computed from the source alone (the encoder stack and
 * the cross-attention K/V projections of its output): what the encode plan computes and the
 * decoder's prefill and decode plans take as given.
 */
export function sourceSide(graph: Graph): Set<number> {
  const SRC = 1;
  const TGT = 2;
  const flags = new Map<number, number>();
  for (const v of graph.inputs) flags.set(v, graph.values[v]!.name.startsWith('src_') ? SRC : TGT);
  for (const n of graph.nodes)
    flags.set(
      n.output,
      n.inputs.reduce((f, v) => f | (flags.get(v) ?? 0), 0),
    );
  return new Set([...flags].filter(([, f]) => f === SRC).map(([v]) => v));
}

export function planModel(model: ModelSpec, graph: Graph, opts: PlanOptions): KernelPlan {
  const mode = opts.mode;
  const seq2seq = model.arch === 'encoder_decoder';
  if (mode === 'encode' && !seq2seq) throw new Error(`internal: an encode plan for ${model.name}, which has no encoder–decoder`);
  const B = mode === 'forward' ? (opts.B ?? 1) : 1;
  // A prefill of fewer rows than the context is a chunked prefill: the runtime runs the prompt as passes at Step.offset.
  const T =
    mode === 'forward'
      ? (opts.T ?? model.context)
      : mode === 'encode'
        ? model.context
        : mode === 'prefill'
          ? (opts.rows ?? model.context)
          : (opts.rows ?? 1);
  // Sources are padded to the encoder's context in training and generation alike (runtime/data/pairs.ts).
  const S = mode === 'forward' ? (opts.S ?? model.context) : model.context;
  const c = planContext(model, graph, {
    mode,
    B,
    T,
    S,
    tuning: opts.tuning,
    subgroupMinSize: opts.subgroupMinSize,
    maxBinding: opts.maxBinding,
    bindAlign: opts.bindAlign,
  });
  const groups = fuse(graph, { gatedEpilogue: true });
  const source = seq2seq ? sourceSide(graph) : null;
  for (const g of groups) {
    // Sampling plans compute no loss: skip the scalar adds of cross-entropy and MoE aux losses.
    if (c.cached && g.kind === 'add' && graph.values[g.out]!.type.shape.length === 0) continue;
    if (source && (mode === 'encode' ? !source.has(g.out) : c.cached && source.has(g.out))) continue;
    groupModule(g).forward(c, g);
  }
  const encode = mode === 'encode';
  if (!encode && !c.logits && model.head.kind !== 'none') throw new Error(`internal: no logits in the plan of ${model.name}`);
  const hasTargets = !c.cached && graph.inputs.some((v) => graph.values[v]!.name === 'targets');
  // Issue 13: sampling on the device, appended after the logits (a post-pass; the groups are unchanged).
  const sample = !encode && opts.sample !== false ? appendSampleStep(c, tokensInput(graph)) : {};
  return {
    model: model.name,
    mode,
    B,
    T,
    vocab: model.vocab,
    ...(!encode && model.vocab_raw < model.vocab ? { vocabRaw: model.vocab_raw } : {}),
    context: model.context,
    buffers: [...c.P.buffers.values()],
    kernels: c.P.kernels,
    steps: c.P.steps,
    io: encode
      ? encodeIo(c)
      : {
          tokens: tokensInput(graph),
          targets: hasTargets ? 'targets' : null,
          logits: c.logits ?? '',
          ...logitChunksIo(c),
          loss: c.loss,
          step: c.P.step,
          ...(c.correct ? { correct: c.correct } : {}),
          ...(c.lastRow ? { lastRow: c.lastRow } : {}),
          ...sample,
          ...encoderIo(c),
          ...(c.cached ? {} : sourceIo(graph)),
          ...moeIo(c, groups),
        },
  };
}

/** The column count of each vocabulary chunk when the head wrote its logits chunk-major. */
export function logitChunksIo(c: PlanContext): { logitChunks?: number[] } {
  return c.logitChunks ? { logitChunks: c.logitChunks.chunks.map((ch) => ch.cols) } : {};
}

/** The encode plan's io: source in, the cross-attention K/V buffers (shared by name with prefill/decode) out. */
function encodeIo(c: PlanContext): KernelPlan['io'] {
  const src = sourceIo(c.graph).src!;
  // The encoder output is what the first cross-attention's K projection reads.
  const g = c.graph;
  const cross = g.nodes.find((n) => n.op === 'attention' && (n.attrs as AttentionAttrs).cross);
  const kProj = cross && g.nodes.find((n) => n.output === cross.inputs[1]);
  const memory = kProj ? c.P.buf(kProj.inputs[0]!) : null;
  return { tokens: src, targets: null, logits: '', loss: null, step: c.P.step, src, ...(memory ? { memory } : {}) };
}
