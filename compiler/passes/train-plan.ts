/**
 * The training step as one plan: forward (saving what the backward needs: norm statistics,
 * attention log-sum-exps, pre-activations), softmax + cross-entropy with its gradient in the
 * same kernel, the backward pass (each fused forward group paired with its backward kernels,
 * walked in reverse), global-norm clipping and one fused AdamW update per parameter. The host
 * writes the Step and Optim uniforms, submits the plan once per step and reads the loss back
 * without waiting on it.
 *
 * Gradient bookkeeping: every value has a gradient buffer `d:<buffer>`. The first
 * contribution (in reverse order) writes it; later ones go to a scratch buffer and are added
 * in, so values read by several groups (the residual stream, a tied embedding table) sum
 * their gradients in a fixed, deterministic order.
 */
import type { WgslKernel } from '../codegen/wgsl/kernel-types.js';
import { generateActivation, generateGlu } from '../codegen/wgsl/kernels/activation.js';
import { generateAdd } from '../codegen/wgsl/kernels/add.js';
import { generateAttention } from '../codegen/wgsl/kernels/attention.js';
import { generateAttentionBackwardDkv, generateAttentionBackwardDq, generateAttentionBackwardPre } from '../codegen/wgsl/kernels/backward/attention-bwd.js';
import { generateColumnSum } from '../codegen/wgsl/kernels/backward/bias-grad.js';
import { generateActivationBackward, generateGluBackward } from '../codegen/wgsl/kernels/backward/elementwise-bwd.js';
import { generateEmbedBackward } from '../codegen/wgsl/kernels/backward/embed-bwd.js';
import { generateNormParamGrad, generateResidualNormBackward } from '../codegen/wgsl/kernels/backward/residual-norm-bwd.js';
import { generateRopeBackward } from '../codegen/wgsl/kernels/backward/rope-bwd.js';
import { generateEmbed } from '../codegen/wgsl/kernels/embed.js';
import { generateAdamW, generateClipScale, generateSumSquares } from '../codegen/wgsl/kernels/optim/index.js';
import { generateResidualNorm } from '../codegen/wgsl/kernels/residual-norm.js';
import { generateRope } from '../codegen/wgsl/kernels/rope.js';
import { generateSoftmaxXent, generateXentMean } from '../codegen/wgsl/kernels/softmax-xent.js';
import { generateMatmul, type KernelTuning } from '../codegen/wgsl/matmul.js';
import type { Graph } from '../ir/graph.js';
import type { ModelSpec } from '../semantics/model.js';
import type { KernelPlan, TrainIo } from '../../runtime/plan-types.js';
import { consumers, type Fused, fuse } from './fuse.js';
import { numel, PlanBuilder } from './plan-builder.js';

export interface TrainPlanOptions {
  readonly B: number;
  readonly T: number;
  readonly clip: number;
  /**
   * Micro-steps per optimizer step (default 1). With k > 1 each micro-step adds its gradients
   * into per-parameter accumulators; the update then clips the SUM at k·clip and AdamW runs
   * with eps·k (the host scales it), which is exactly AdamW on the mean gradient.
   */
  readonly accumulation?: number;
  readonly tuning: KernelTuning;
  readonly subgroupMinSize?: number;
}

/** Forward groups remember what their backward needs. */
interface Saved {
  readonly g: Fused;
  /** residual_norm: stats buffer; linear with activation: pre-activation buffer; attention: lse. */
  readonly extra?: string;
}

export function planTraining(model: ModelSpec, graph: Graph, opts: TrainPlanOptions): KernelPlan {
  const { B, T, tuning } = opts;
  const sg = opts.subgroupMinSize ?? 0;
  const P = new PlanBuilder(graph, B, T);
  const groups = fuse(graph);
  const saved: Saved[] = [];
  const mm = (M: number, N: number, K: number, variant: 'nn' | 'nt' | 'tn', extra: { bias?: boolean; activation?: 'none' | 'relu' | 'gelu' | 'gelu_tanh' } = {}) =>
    generateMatmul({ M, N, K, variant, bias: extra.bias ?? false, activation: extra.activation ?? 'none', tuning, subgroupMinSize: sg, name: `mm_${variant}_${M}x${N}x${K}` }) as unknown as WgslKernel;
  let logits = '';
  let loss = '';
  /** Outputs of linear+activation groups: their pre-activation and function (for the fused backward). */
  const activated = new Map<string, { pre: string; fn: string }>();
  const uses = consumers(graph);

  // ── forward ──────────────────────────────────────────────────────────────────
  for (const g of groups) {
    switch (g.kind) {
      case 'embed': {
        const [V, C] = graph.values[g.table]!.type.shape as number[];
        const Pn = g.posTable === null ? undefined : (graph.values[g.posTable]!.type.shape[0] as number);
        P.emit(generateEmbed({ B, T, C: C!, vocab: V!, ...(Pn ? { positions: Pn } : {}) }), { ids: P.buf(g.ids), tokens: P.buf(g.table), ...(g.posTable !== null ? { positions: P.buf(g.posTable) } : {}), out: P.buf(g.out) }, g.scope);
        saved.push({ g });
        break;
      }
      case 'residual_norm': {
        const { rows, width } = P.rowsOf(g.x);
        // The backward needs the normalised input: the residual sum (always written here) and (mean, rstd).
        const sumName = g.branch !== null ? (g.sum !== null ? P.buf(g.sum) : P.scratch(`sum:${P.buf(g.out)}`, [rows, width])) : P.buf(g.x);
        const stats = P.scratch(`stats:${P.buf(g.out)}`, [rows, 2]);
        const k = generateResidualNorm({ rows, C: width, norm: g.norm, eps: g.eps, branch: g.branch !== null, sum: g.branch === null ? 'none' : 'separate', weight: g.weight !== null, bias: g.bias !== null, stats: true, tuning, subgroupMinSize: sg });
        const bind: Record<string, string> = { x: P.buf(g.x), out: P.buf(g.out), stats };
        if (g.branch !== null) {
          bind.y = P.buf(g.branch);
          bind.sum = sumName;
        }
        if (g.weight !== null) bind.weight = P.buf(g.weight);
        if (g.bias !== null) bind.bias = P.buf(g.bias);
        P.emit(k, bind, g.scope);
        saved.push({ g, extra: `${stats}|${sumName}` });
        break;
      }
      case 'linear': {
        const { rows } = P.rowsOf(g.x);
        const [N, K] = graph.values[g.weight]!.type.shape as number[];
        // With an activation the pre-activation is kept for the backward (the matmul writes it,
        // a separate kernel applies the activation).
        const pre = g.activation ? P.scratch(`pre:${P.buf(g.out)}`, [rows, N!]) : P.buf(g.out);
        const bind: Record<string, string> = { A: P.buf(g.x), B: P.buf(g.weight), C: pre };
        if (g.bias !== null) bind.bias = P.buf(g.bias);
        P.emit(mm(rows, N!, K!, 'nt', { bias: g.bias !== null }), bind, g.scope);
        if (g.activation) {
          P.emit(generateActivation({ shape: [rows, N!], fn: g.activation }), { x: pre, out: P.buf(g.out) }, g.scope);
          activated.set(P.buf(g.out), { pre, fn: g.activation });
        }
        if (g.scope === 'head') logits = P.buf(g.out);
        saved.push({ g, extra: pre });
        break;
      }
      case 'glu':
        P.emit(generateGlu({ shape: P.dims(g.out), fn: g.fn }), { gate: P.buf(g.gate), up: P.buf(g.up), out: P.buf(g.out) }, g.scope);
        saved.push({ g });
        break;
      case 'activation':
        P.emit(generateActivation({ shape: P.dims(g.out), fn: g.fn }), { x: P.buf(g.x), out: P.buf(g.out) }, g.scope);
        saved.push({ g });
        break;
      case 'add':
        P.emit(generateAdd({ shape: P.dims(g.out) }), { a: P.buf(g.a), b: P.buf(g.b), out: P.buf(g.out) }, g.scope);
        saved.push({ g });
        break;
      case 'rope':
        P.emit(generateRope({ B, T, heads: g.heads, head_dim: g.head_dim, rotary_dims: g.rotary_dims, base: g.base }), { x: P.buf(g.x), out: P.buf(g.out) }, g.scope);
        saved.push({ g });
        break;
      case 'attention': {
        const a = g.attrs;
        const lse = P.scratch(`lse:${P.buf(g.out)}`, [B, a.heads, T]);
        P.emit(
          generateAttention({ B, Tq: T, Tk: T, heads: a.heads, kv_heads: a.kv_heads, head_dim: a.head_dim, causal: a.causal, window: a.window, alibi: a.positions === 'alibi', lse: true, tuning, subgroupMinSize: sg }),
          { q: P.buf(g.q), k: P.buf(g.k), v: P.buf(g.v), out: P.buf(g.out), lse },
          g.scope,
        );
        saved.push({ g, extra: lse });
        break;
      }
      case 'softmax_xent': {
        const { rows, width } = P.rowsOf(g.logits);
        const lossRows = P.scratch(`loss_rows:${P.buf(g.out)}`, [rows]);
        // Writes the loss rows and, over the logits, d(mean loss)/d(logits): the probabilities are never stored apart.
        P.emit(generateSoftmaxXent({ rows, V: width, dlogits: 'in_place', mean: 'separate', tuning, subgroupMinSize: sg }), { logits: P.buf(g.logits), targets: P.buf(g.targets), loss_rows: lossRows }, g.scope);
        P.emit(generateXentMean({ rows, V: width, tuning, subgroupMinSize: sg }), { loss_rows: lossRows, targets: P.buf(g.targets), loss: P.buf(g.out) }, g.scope);
        loss = P.buf(g.out);
        saved.push({ g });
        break;
      }
    }
  }

  // ── backward ─────────────────────────────────────────────────────────────────
  const grad = new Map<string, string>(); // buffer → its gradient buffer (once written)
  const gradName = (b: string) => `d:${b}`;
  const shapeOf = (b: string) => P.buffers.get(b)!.shape;
  const cleared: string[] = [];
  let scratchN = 0;
  /** Adds a contribution to d:target: `write(dst)` writes into dst; the first goes straight in. */
  const contribute = (target: string, scope: string, write: (dst: string) => void) => {
    const have = grad.get(target);
    if (!have) {
      const d = P.scratch(gradName(target), shapeOf(target));
      write(d);
      grad.set(target, d);
      return;
    }
    const tmp = P.scratch(`d~${scratchN++}:${target}`, shapeOf(target));
    write(tmp);
    P.emit(generateAdd({ shape: [...shapeOf(target)], inPlace: true }), { a: have, b: tmp }, scope);
  };
  const gradOf = (b: string): string | undefined => grad.get(b);

  /** Activation outputs whose gradient already went through the activation backward (fused). */
  const fusedPre = new Set<string>();
  // d(loss)/d(logits) is in the logits buffer after the fused softmax-xent kernel.
  if (logits) grad.set(logits, logits);

  for (const { g, extra } of [...saved].reverse()) {
    switch (g.kind) {
      case 'softmax_xent':
        break;
      case 'linear': {
        const out = P.buf(g.out);
        const dOut = gradOf(out);
        if (!dOut) break; // nothing downstream needs it
        const { rows } = P.rowsOf(g.x);
        const [N, K] = graph.values[g.weight]!.type.shape as number[];
        let dPre = dOut;
        if (g.activation && !fusedPre.has(out)) {
          dPre = P.scratch(`d:${extra}`, [rows, N!]);
          P.emit(generateActivationBackward({ shape: [rows, N!], fn: g.activation }), { x: extra!, dout: dOut, dx: dPre }, g.scope);
        }
        const x = P.buf(g.x);
        const w = P.buf(g.weight);
        // dW = dPreᵀ · X   [N, K]
        contribute(w, g.scope, (dst) => P.emit(mm(N!, K!, rows, 'tn'), { A: dPre, B: x, C: dst }, g.scope));
        if (g.bias !== null) {
          const b = P.buf(g.bias);
          contribute(b, g.scope, (dst) => P.emit(generateColumnSum({ rows, cols: N! }), { x: dPre, out: dst }, g.scope));
        }
        // dX = dPre · W   [M, K]. When X is the activation of a linear read by nothing else, the
        // same matmul applies that activation's backward in its epilogue (llm.c's fused GELU
        // backward): it writes d(pre-activation) = act'(pre) · (dPre · W) straight away.
        const act = activated.get(x);
        if (act && (uses.get(g.x)?.length ?? 0) === 1 && !grad.has(x) && !graph.outputs.includes(g.x)) {
          const dst = P.scratch(`d:${act.pre}`, [rows, K!]);
          const k = generateMatmul({ M: rows, N: K!, K: N!, variant: 'nn', gate: { fn: `d${act.fn}` as 'dgelu' }, tuning, subgroupMinSize: sg, name: `mm_nn_${rows}x${K}x${N}_d${act.fn}` }) as unknown as WgslKernel;
          P.emit(k, { A: dPre, B: w, gate: act.pre, C: dst }, g.scope);
          grad.set(x, dst);
          fusedPre.add(x);
        } else if (graph.values[g.x]!.source !== 'input') contribute(x, g.scope, (dst) => P.emit(mm(rows, K!, N!, 'nn'), { A: dPre, B: w, C: dst }, g.scope));
        break;
      }
      case 'glu': {
        const dOut = gradOf(P.buf(g.out));
        if (!dOut) break;
        const shape = P.dims(g.out);
        const dg = P.scratch(`dg:${P.buf(g.out)}`, shape);
        const du = P.scratch(`du:${P.buf(g.out)}`, shape);
        P.emit(generateGluBackward({ shape, fn: g.fn }), { gate: P.buf(g.gate), up: P.buf(g.up), dout: dOut, dgate: dg, dup: du }, g.scope);
        contribute(P.buf(g.gate), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dg, dst, bytes: 4 * numel(shape), scope: g.scope }));
        contribute(P.buf(g.up), g.scope, (dst) => P.steps.push({ kind: 'copy', src: du, dst, bytes: 4 * numel(shape), scope: g.scope }));
        break;
      }
      case 'activation': {
        const dOut = gradOf(P.buf(g.out));
        if (!dOut || g.fn === 'tanh') break;
        contribute(P.buf(g.x), g.scope, (dst) => P.emit(generateActivationBackward({ shape: P.dims(g.out), fn: g.fn as 'gelu' }), { x: P.buf(g.x), dout: dOut, dx: dst }, g.scope));
        break;
      }
      case 'add': {
        const dOut = gradOf(P.buf(g.out));
        if (!dOut) break;
        const bytes = 4 * numel(P.dims(g.out));
        for (const v of [g.a, g.b]) contribute(P.buf(v), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dOut, dst, bytes, scope: g.scope }));
        break;
      }
      case 'rope': {
        const dOut = gradOf(P.buf(g.out));
        if (!dOut) break;
        contribute(P.buf(g.x), g.scope, (dst) => P.emit(generateRopeBackward({ B, T, heads: g.heads, head_dim: g.head_dim, rotary_dims: g.rotary_dims, base: g.base }), { dout: dOut, dx: dst }, g.scope));
        break;
      }
      case 'attention': {
        const dOut = gradOf(P.buf(g.out));
        if (!dOut) break;
        const a = g.attrs;
        const spec = { B, T, heads: a.heads, kv_heads: a.kv_heads, head_dim: a.head_dim, causal: a.causal, window: a.window, alibi: a.positions === 'alibi', tuning, subgroupMinSize: sg };
        const dterm = P.scratch(`dterm:${P.buf(g.out)}`, [B, a.heads, T]);
        const io = { q: P.buf(g.q), k: P.buf(g.k), v: P.buf(g.v), dout: dOut, lse: extra!, dterm };
        P.emit(generateAttentionBackwardPre({ B, T, heads: a.heads, head_dim: a.head_dim }), { out: P.buf(g.out), dout: dOut, dterm }, g.scope);
        contribute(P.buf(g.q), g.scope, (dst) => P.emit(generateAttentionBackwardDq(spec), { ...io, dq: dst }, g.scope));
        const dk = P.scratch(`dk:${P.buf(g.out)}`, shapeOf(P.buf(g.k)));
        const dv = P.scratch(`dv:${P.buf(g.out)}`, shapeOf(P.buf(g.v)));
        P.emit(generateAttentionBackwardDkv(spec), { ...io, dk, dv }, g.scope);
        const kb = 4 * numel(shapeOf(P.buf(g.k)));
        contribute(P.buf(g.k), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dk, dst, bytes: kb, scope: g.scope }));
        contribute(P.buf(g.v), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dv, dst, bytes: kb, scope: g.scope }));
        break;
      }
      case 'residual_norm': {
        const out = P.buf(g.out);
        const dOut = gradOf(out);
        const [stats, sumName] = extra!.split('|') as [string, string];
        const { rows, width } = P.rowsOf(g.x);
        const dResid = g.sum !== null ? gradOf(P.buf(g.sum)) : undefined;
        if (!dOut && !dResid) break;
        // d(sum) = d(residual, if read downstream) + the norm's backward.
        const dSum = P.scratch(`dsum:${out}`, [rows, width]);
        if (dOut) {
          P.emit(
            generateResidualNormBackward({ rows, C: width, norm: g.norm, eps: g.eps, weight: g.weight !== null, bias: g.bias !== null, accumulate: dResid !== undefined, tuning, subgroupMinSize: sg }),
            { x: sumName, stats, ...(g.weight !== null ? { weight: P.buf(g.weight) } : {}), dout: dOut, ...(dResid ? { dresid: dResid } : {}), dx: dSum },
            g.scope,
          );
          if (g.weight !== null || g.bias !== null) {
            const bind: Record<string, string> = { dout: dOut };
            if (g.weight !== null) {
              bind.x = sumName;
              bind.stats = stats;
              bind.dweight = P.scratch(gradName(P.buf(g.weight)), [width]);
              grad.set(P.buf(g.weight), bind.dweight);
            }
            if (g.bias !== null) {
              bind.dbias = P.scratch(gradName(P.buf(g.bias)), [width]);
              grad.set(P.buf(g.bias), bind.dbias);
            }
            P.emit(generateNormParamGrad({ rows, C: width, norm: g.norm, weight: g.weight !== null, bias: g.bias !== null }), bind, g.scope);
          }
        } else P.steps.push({ kind: 'copy', src: dResid!, dst: dSum, bytes: 4 * rows * width, scope: g.scope });
        const bytes = 4 * rows * width;
        for (const v of g.branch !== null ? [g.x, g.branch] : [g.x]) {
          if (graph.values[v]!.source === 'input') continue;
          contribute(P.buf(v), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dSum, dst, bytes, scope: g.scope }));
        }
        break;
      }
      case 'embed': {
        const dOut = gradOf(P.buf(g.out));
        if (!dOut) break;
        const [V, C] = graph.values[g.table]!.type.shape as number[];
        const table = P.buf(g.table);
        const Pn = g.posTable === null ? undefined : (graph.values[g.posTable]!.type.shape[0] as number);
        const existing = grad.get(table);
        const dTable = existing ?? P.scratch(gradName(table), [V!, C!]);
        const bind: Record<string, string> = { ids: P.buf(g.ids), dout: dOut, dtokens: dTable };
        if (g.posTable !== null) {
          const dp = P.scratch(gradName(P.buf(g.posTable)), shapeOf(P.buf(g.posTable)));
          bind.dpositions = dp;
          grad.set(P.buf(g.posTable), dp);
        }
        P.emit(generateEmbedBackward({ B, T, C: C!, vocab: V!, ...(Pn ? { positions: Pn } : {}), accumulate: existing !== undefined }), bind, g.scope);
        grad.set(table, dTable);
        break;
      }
    }
  }

  // Every gradient buffer starts each step at zero (accumulating kernels add into them).
  const gradBuffers = [...P.buffers.values()].filter((b) => b.name.startsWith('d:') || b.name.startsWith('d~')).map((b) => b.name);
  cleared.push(...gradBuffers);

  // ── gradient accumulation ────────────────────────────────────────────────────
  const k = Math.max(1, opts.accumulation ?? 1);
  const accOf = new Map<string, string>();
  if (k > 1) {
    for (const p of graph.params) {
      const acc = P.add({ name: `acc:${p.name}`, kind: 'param', dtype: 'f32', shape: p.shape, bytes: 4 * numel(p.shape) });
      P.emit(generateAdd({ shape: [numel(p.shape)], inPlace: true }), { a: acc, b: grad.get(p.name)! }, 'accumulate');
      accOf.set(p.name, acc);
    }
  }
  const microSteps = P.steps.length + 1; // + the 'clear' step put first below

  // ── clip + AdamW ─────────────────────────────────────────────────────────────
  const slots = graph.params.length;
  const partial = P.scratch('optim.partial', [slots]);
  const scale = P.scratch('optim.scale', [1]);
  const gradNorm = P.add({ name: 'optim.grad_norm', kind: 'output', dtype: 'f32', shape: [1], bytes: 4 });
  const nonfinite = P.add({ name: 'optim.nonfinite', kind: 'output', dtype: 'u32', shape: [1], bytes: 4 });
  const optim = P.add({ name: 'optim', kind: 'uniform', dtype: 'f32', shape: [8], bytes: 32 });
  const params: TrainIo['params'][number][] = [];
  graph.params.forEach((p, slot) => {
    const g = accOf.get(p.name) ?? grad.get(p.name);
    if (!g) throw new Error(`internal: parameter ${p.name} received no gradient`);
    P.emit(generateSumSquares({ n: numel(p.shape), slot, slots }), { grad: g, partial }, 'optim');
  });
  P.emit(generateClipScale({ slots, maxNorm: opts.clip * k }), { partial, scale, norm: gradNorm, nonfinite }, 'optim');
  for (const p of graph.params) {
    const m = P.add({ name: `m:${p.name}`, kind: 'param', dtype: 'f32', shape: p.shape, bytes: 4 * numel(p.shape) });
    const v = P.add({ name: `v:${p.name}`, kind: 'param', dtype: 'f32', shape: p.shape, bytes: 4 * numel(p.shape) });
    const g = accOf.get(p.name) ?? grad.get(p.name)!;
    P.emit(generateAdamW({ n: numel(p.shape), decay: p.decay }), { param: p.name, grad: g, m, v, scale }, 'optim', { optim });
    params.push({ name: p.name, grad: g, m, v, decay: p.decay });
  }
  if (k > 1) P.steps.push({ kind: 'clear', buffers: [...accOf.values()], scope: 'zero accumulators' });
  P.steps.unshift({ kind: 'clear', buffers: cleared, scope: 'zero gradients' });

  const tokens = graph.values[graph.inputs.find((v) => graph.values[v]!.name === 'tokens')!]!.name;
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
    io: { tokens, targets: 'targets', logits, loss, step: P.step },
    train: { optim, gradNorm, nonfinite, params, accumulation: k, microSteps },
  };
}
