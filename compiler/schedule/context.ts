/**
 * What a kernel group's emitters see while a plan is written: the plan builder, the shapes
 * of this plan, the kernel tuning, and the few facts groups hand each other (which buffer
 * holds the logits, how many attention layers have claimed a KV cache, which activations
 * kept their pre-activation for a fused backward).
 */
import { generateMatmul, type KernelTuning, type MatmulSpec } from '../codegen/wgsl/matmul.js';
import type { WgslKernel } from '../codegen/wgsl/kernel-types.js';
import type { Graph, Node } from '../ir/graph.js';
import type { Act } from '../ir/ops.js';
import type { ModelSpec } from '../semantics/model.js';
import type { KernelPlan } from '../../runtime/plan-types.js';
import type { VocabChunk } from './chunks.js';
import type { PlanBuilder } from './plan-builder.js';

export interface PlanContext {
  readonly P: PlanBuilder;
  readonly graph: Graph;
  readonly model: ModelSpec;
  readonly mode: KernelPlan['mode'];
  readonly B: number;
  readonly T: number;
  /** An encoder–decoder's source length (encoder positions, cross-attention keys); T otherwise. */
  readonly S: number;
  readonly tuning: KernelTuning;
  /** The device's minimum subgroup size the kernels may assume (0: no subgroup operations). */
  readonly sg: number;
  /**
   * Storage bindings of at most this many bytes, offsets aligned to `bindAlign`: larger tables
   * (the token embedding, the LM head) are bound in chunks. Infinity: bind every tensor whole.
   */
  readonly maxBinding: number;
  readonly bindAlign: number;
  /** prefill/decode: attention reads K and V from per-layer caches. */
  readonly cached: boolean;
  /** A training plan: the forward keeps what the backward needs. */
  readonly training: boolean;
  /** Consumers of every IR value. */
  readonly uses: ReadonlyMap<number, readonly Node[]>;
  /** Set by the groups that produce them. */
  logits: string | null;
  loss: string | null;
  /** Forward (evaluation) plans: f32 [rows], 1 where the target's logit is the row maximum (accuracy). */
  correct?: string;
  /** Training/evaluation plans whose LM head runs in vocabulary chunks: the logits buffer, chunk-major (chunks.ts). */
  logitChunks?: { readonly buffer: string; readonly chunks: readonly VocabChunk[] };
  /** Prefill plans computing only the last prompt row's logits: the i32 [1] input naming that row. */
  lastRow?: string;
  /** Attention layers seen so far (each claims cache.<layer>.k/v). */
  layer: number;
  /** Training: outputs of linear + activation groups → their pre-activation and function. */
  readonly activated: Map<string, { readonly pre: string; readonly fn: Act }>;
}

/** A matmul kernel with this plan's tuning. */
export function matmul(c: PlanContext, spec: Omit<MatmulSpec, 'tuning' | 'subgroupMinSize'>): WgslKernel {
  return generateMatmul({ ...spec, tuning: c.tuning, subgroupMinSize: c.sg });
}

/**
 * The backward pass's gradient bookkeeping: every buffer has a gradient buffer `d:<buffer>`.
 * The first contribution (in reverse order) writes it; later ones go to a scratch buffer and
 * are added in, so values read by several groups (the residual stream, a tied table) sum
 * their gradients in a fixed, deterministic order.
 */
export interface GradContext {
  /** The gradient buffer of `b`, once something wrote it. */
  of(b: string): string | undefined;
  /** Records that `grad` holds the whole gradient of `b` (a kernel wrote it directly). */
  set(b: string, grad: string): void;
  /** Adds a contribution to d:target: `write(dst)` writes into dst; the first goes straight in. */
  contribute(target: string, scope: string, write: (dst: string) => void): void;
  /** The name of b's gradient buffer. */
  name(b: string): string;
  /** Pre-activations whose gradient a matmul epilogue already produced (fused activation backward). */
  readonly fusedPre: Set<string>;
}

/**
 * One kind of kernel group: its forward emission (inference, or training keeping what the
 * backward needs, returned as `S`) and its backward emission, side by side.
 */
export interface GroupModule<G, S = void> {
  forward(c: PlanContext, g: G): S;
  backward(c: PlanContext, d: GradContext, g: G, saved: S): void;
}
