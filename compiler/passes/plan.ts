/**
 * Plan: fused groups → concrete kernels (every dimension a constant in the shader), a buffer
 * for every value that crosses a kernel boundary, and the dispatch order. Three modes:
 *   forward  — training/eval shape (B, T), logits and the loss, no cache;
 *   prefill  — B = 1, T = context: a prompt in one pass, K and V copied into per-layer caches;
 *   decode   — B = 1, T = 1: one token at Step.offset, attention over the cache.
 * The prefill and decode plans of one model name their weights and caches alike, so the
 * runtime shares those buffers between them.
 */
import { generateMatmul, type KernelTuning } from '../codegen/wgsl/matmul.js';
import type { WgslKernel } from '../codegen/wgsl/kernel-types.js';
import { generateActivation, generateGlu } from '../codegen/wgsl/kernels/activation.js';
import { generateAdd } from '../codegen/wgsl/kernels/add.js';
import { generateAttention } from '../codegen/wgsl/kernels/attention.js';
import { generateEmbed } from '../codegen/wgsl/kernels/embed.js';
import { generateResidualNorm } from '../codegen/wgsl/kernels/residual-norm.js';
import { generateRope } from '../codegen/wgsl/kernels/rope.js';
import { generateSoftmaxXent, generateXentMean } from '../codegen/wgsl/kernels/softmax-xent.js';
import type { Graph } from '../ir/graph.js';
import type { ModelSpec } from '../semantics/model.js';
import type { KernelPlan, PlanBuffer } from '../../runtime/plan-types.js';
import { PlanBuilder } from './plan-builder.js';
import { type Fused, fuse } from './fuse.js';

export type PlanMode = KernelPlan['mode'];

export interface PlanOptions {
  readonly mode: PlanMode;
  /** forward mode only (prefill/decode use B = 1). */
  readonly B?: number;
  readonly T?: number;
  readonly tuning: KernelTuning;
  readonly subgroupMinSize?: number;
}

export function planModel(model: ModelSpec, graph: Graph, opts: PlanOptions): KernelPlan {
  const mode = opts.mode;
  const B = mode === 'forward' ? (opts.B ?? 1) : 1;
  const T = mode === 'forward' ? (opts.T ?? model.context) : mode === 'prefill' ? model.context : 1;
  const cached = mode !== 'forward';
  const groups = fuse(graph, { gatedEpilogue: true });
  const P = new PlanBuilder(graph, B, T);
  const { buffers, kernels, steps } = P;
  const add = (b: PlanBuffer) => P.add(b);
  const buf = (v: number) => P.buf(v);
  const dims = (v: number) => P.dims(v);
  const rowsOf = (v: number) => P.rowsOf(v);
  const step = P.step;
  const emit = (k: WgslKernel, bind: Record<string, string>, scope: string) => P.emit(k, bind, scope);

  let logits: string | null = null;
  let loss: string | null = null;
  let layer = 0;
  for (const g of groups) {
    emitGroup(g);
  }

  function emitGroup(g: Fused): void {
    const tuning = opts.tuning;
    switch (g.kind) {
      case 'embed': {
        const [V, C] = graph.values[g.table]!.type.shape as number[];
        const P = g.posTable === null ? undefined : (graph.values[g.posTable]!.type.shape[0] as number);
        const k = generateEmbed({ B, T, C: C!, vocab: V!, ...(P ? { positions: P } : {}) });
        emit(k, { ids: buf(g.ids), tokens: buf(g.table), ...(g.posTable !== null ? { positions: buf(g.posTable) } : {}), out: buf(g.out) }, g.scope);
        return;
      }
      case 'residual_norm': {
        const { rows, width } = rowsOf(g.x);
        const k = generateResidualNorm({ rows, C: width, norm: g.norm, eps: g.eps, branch: g.branch !== null, sum: g.branch === null ? 'none' : g.sum === null ? 'none' : 'separate', weight: g.weight !== null, bias: g.bias !== null, tuning, subgroupMinSize: opts.subgroupMinSize ?? 0 });
        const bind: Record<string, string> = { x: buf(g.x), out: buf(g.out) };
        if (g.branch !== null) bind.y = buf(g.branch);
        if (g.branch !== null && g.sum !== null) bind.sum = buf(g.sum);
        if (g.weight !== null) bind.weight = buf(g.weight);
        if (g.bias !== null) bind.bias = buf(g.bias);
        emit(k, bind, g.scope);
        return;
      }
      case 'linear': {
        const { rows } = rowsOf(g.x);
        const [N, K] = graph.values[g.weight]!.type.shape as number[];
        const k = generateMatmul({
          M: rows, N: N!, K: K!, variant: 'nt', bias: g.bias !== null,
          activation: (g.activation ?? 'none') as 'none' | 'relu' | 'gelu' | 'gelu_tanh',
          ...(g.gate ? { gate: { fn: g.gate.fn } } : {}),
          tuning, subgroupMinSize: opts.subgroupMinSize ?? 0, name: `linear_${rows}x${N}x${K}`,
        }) as unknown as WgslKernel;
        const bind: Record<string, string> = { A: buf(g.x), B: buf(g.weight), C: buf(g.out) };
        if (g.gate) bind.gate = buf(g.gate.value);
        if (g.bias !== null) bind.bias = buf(g.bias);
        emit(k, bind, g.scope);
        if (graph.outputs.includes(g.out) && g.scope === 'head') logits = buf(g.out);
        return;
      }
      case 'glu': {
        const k = generateGlu({ shape: dims(g.out), fn: g.fn });
        emit(k, { gate: buf(g.gate), up: buf(g.up), out: buf(g.out) }, g.scope);
        return;
      }
      case 'activation': {
        const k = generateActivation({ shape: dims(g.out), fn: g.fn });
        emit(k, { x: buf(g.x), out: buf(g.out) }, g.scope);
        return;
      }
      case 'add': {
        const k = generateAdd({ shape: dims(g.out) });
        emit(k, { a: buf(g.a), b: buf(g.b), out: buf(g.out) }, g.scope);
        return;
      }
      case 'rope': {
        const k = generateRope({ B, T, heads: g.heads, head_dim: g.head_dim, rotary_dims: g.rotary_dims, base: g.base });
        emit(k, { x: buf(g.x), out: buf(g.out) }, g.scope);
        return;
      }
      case 'attention': {
        const a = g.attrs;
        const capacity = cached ? model.context : T;
        let kName = buf(g.k);
        let vName = buf(g.v);
        if (cached) {
          const rowBytes = 4 * a.kv_heads * a.head_dim;
          const kc = add({ name: `cache.${layer}.k`, kind: 'cache', dtype: 'f32', shape: [model.context, a.kv_heads * a.head_dim], bytes: rowBytes * model.context });
          const vc = add({ name: `cache.${layer}.v`, kind: 'cache', dtype: 'f32', shape: [model.context, a.kv_heads * a.head_dim], bytes: rowBytes * model.context });
          steps.push({ kind: 'cache_write', src: kName, dst: kc, rowBytes, rows: T, scope: g.scope });
          steps.push({ kind: 'cache_write', src: vName, dst: vc, rowBytes, rows: T, scope: g.scope });
          kName = kc;
          vName = vc;
        }
        const k = generateAttention({ B, Tq: T, Tk: capacity, heads: a.heads, kv_heads: a.kv_heads, head_dim: a.head_dim, causal: a.causal, window: a.window, alibi: a.positions === 'alibi', tuning, subgroupMinSize: opts.subgroupMinSize ?? 0 });
        emit(k, { q: buf(g.q), k: kName, v: vName, out: buf(g.out) }, g.scope);
        layer++;
        return;
      }
      case 'softmax_xent': {
        if (cached) return; // sampling reads logits only
        const { rows, width } = rowsOf(g.logits);
        const lossRows = add({ name: `${graph.values[g.out]!.name}.rows#${g.out}`, kind: 'activation', dtype: 'f32', shape: [rows], bytes: 4 * rows });
        emit(generateSoftmaxXent({ rows, V: width, mean: 'separate', tuning, subgroupMinSize: opts.subgroupMinSize ?? 0 }), { logits: buf(g.logits), targets: buf(g.targets), loss_rows: lossRows }, g.scope);
        emit(generateXentMean({ rows, V: width, tuning, subgroupMinSize: opts.subgroupMinSize ?? 0 }), { loss_rows: lossRows, targets: buf(g.targets), loss: buf(g.out) }, g.scope);
        loss = buf(g.out);
        return;
      }
    }
  }

  const tokens = graph.values[graph.inputs.find((v) => graph.values[v]!.name === 'tokens')!]!.name;
  const hasTargets = !cached && graph.inputs.some((v) => graph.values[v]!.name === 'targets');
  if (!logits) throw new Error(`internal: no logits in the plan of ${model.name}`);
  return {
    model: model.name,
    mode,
    B,
    T,
    vocab: model.vocab,
    context: model.context,
    buffers: [...buffers.values()],
    kernels,
    steps,
    io: { tokens, targets: hasTargets ? 'targets' : null, logits, loss, step },
  };
}
