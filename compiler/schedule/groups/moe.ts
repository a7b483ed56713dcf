/**
 * moe: one layer's routed experts as one group, from the router logits to the combined
 * output (the router linear before it stays a `linear` group; shared experts stay ordinary
 * groups). Forward:
 *   route   (softmax, top-k, gates; probs kept)          moe_select + moe_gates
 *   sort    (counting sort of the N·k slots by expert)
 *   up/gate grouped matmuls gathering x per sorted row     expert_linear
 *   activation or GLU on the sorted rows                    (the existing elementwise kernels)
 *   down    grouped matmul on the sorted rows               expert_linear
 *   combine (gather back to tokens, weighted by the gates)  moe_combine
 *   aux     (load-balancing loss, when the graph has one)   moe_aux_loss
 * Every expert runs in the same dispatch on exactly its own rows (no per-expert padding),
 * and nothing uses float atomics: every sum has one writer and a fixed order, so training is
 * bit-reproducible. The backward walks the same kernels in reverse (kernels/moe/*-bwd.ts).
 * Stacked weights larger than one storage binding (Mixtral's) are bound in chunks — runs of
 * experts, or runs of one expert's output rows (chunks.ts expertChunks) — one grouped-matmul
 * dispatch per chunk; the backward binds them whole, so training such a model reports MS4002.
 */
import { generateActivation, generateGlu } from '../../codegen/wgsl/kernels/activation.js';
import { generateActivationBackward, generateGluBackward } from '../../codegen/wgsl/kernels/backward/elementwise-bwd.js';
import { generateMoeAuxLoss } from '../../codegen/wgsl/kernels/moe/aux-loss.js';
import { generateMoeCombine } from '../../codegen/wgsl/kernels/moe/combine.js';
import { generateMoeCombineDgates, generateMoeCombineDys } from '../../codegen/wgsl/kernels/moe/combine-bwd.js';
import { generateGroupedMatmul, groupedTiled, type GroupedMatmulSpec } from '../../codegen/wgsl/kernels/moe/grouped-matmul.js';
import {
  generateGroupedBiasGrad,
  generateGroupedMatmulDw,
  generateGroupedMatmulDx,
} from '../../codegen/wgsl/kernels/moe/grouped-matmul-bwd.js';
import { generateMoeRoute } from '../../codegen/wgsl/kernels/moe/route.js';
import { generateMoeRouteBackward } from '../../codegen/wgsl/kernels/moe/route-bwd.js';
import { generateMoeSort } from '../../codegen/wgsl/kernels/moe/sort.js';
import type { WgslKernel } from '../../codegen/wgsl/kernel-types.js';
import type { Graph, Node } from '../../ir/graph.js';
import type { Act } from '../../ir/ops.js';
import { expertChunks } from '../chunks.js';
import type { GroupModule, PlanContext } from '../context.js';
import type { PlanBuilder } from '../plan-builder.js';
import type { BindingRange } from '../../../runtime/plan-types.js';

/** One routed projection: the stacked weight (E, out, in), its bias (E, out), and the IR value it produces. */
export interface ExpertProjection {
  readonly weight: number;
  readonly bias: number | null;
  readonly out: number;
}

export interface MoeGroup {
  readonly kind: 'moe';
  /** Router logits (B, T, E), written by the router's linear group. */
  readonly logits: number;
  /** The layer's input (B, T, C), read by the up (and gate) projections. */
  readonly x: number;
  readonly idx: number;
  readonly gates: number;
  readonly experts: number;
  readonly topK: number;
  readonly renormalize: boolean;
  readonly up: ExpertProjection;
  /** Gated MLPs (SwiGLU/GeGLU/ReGLU): out = fn(gate) · up. */
  readonly gate: ExpertProjection | null;
  /** The activation (fn(up), or the GLU's fn of the gate) and the hidden value it produces. */
  readonly act: { readonly fn: Act; readonly out: number };
  readonly down: ExpertProjection;
  /** moe_combine's output (B, T, C). */
  readonly out: number;
  /** The layer's load-balancing loss (a scalar), when the graph has one. */
  readonly aux: { readonly out: number; readonly coef: number } | null;
  readonly scope: string;
}

/**
 * The MoE group that starts at a moe_select node, and every node it takes; a string says
 * why the pattern does not match (fuse.ts reports it as unsupported).
 */
export function matchMoe(
  select: Node,
  uses: ReadonlyMap<number, readonly Node[]>,
  graph: Graph,
): { group: MoeGroup; nodes: Node[] } | string {
  if (select.op !== 'moe_select') return 'not a moe_select';
  const idx = select.output;
  const users = uses.get(idx) ?? [];
  const gatesNode = users.find((u) => u.op === 'moe_gates');
  const combine = gatesNode && (uses.get(gatesNode.output) ?? []).find((u) => u.op === 'moe_combine');
  if (!gatesNode || gatesNode.op !== 'moe_gates' || !combine) return 'routing without moe_gates and moe_combine';
  const linears = users.filter((u) => u.op === 'expert_linear');
  const down = linears.find((u) => u.output === combine.inputs[0]);
  if (!down || down.op !== 'expert_linear') return 'moe_combine of something other than an expert projection';
  const actNode = graph.nodes.find((n) => n.output === down.inputs[0]);
  const proj = (n: Node | undefined): ExpertProjection | null => {
    if (!n || n.op !== 'expert_linear' || !linears.includes(n)) return null;
    return { weight: n.inputs[2]!, bias: n.attrs.bias ? n.inputs[3]! : null, out: n.output };
  };
  let up: ExpertProjection | null;
  let gate: ExpertProjection | null = null;
  let fn: Act;
  if (actNode?.op === 'glu') {
    gate = proj(linears.find((u) => u.output === actNode.inputs[0]));
    up = proj(linears.find((u) => u.output === actNode.inputs[1]));
    fn = actNode.attrs.fn;
    if (!gate) return 'a GLU whose gate is not an expert projection';
  } else if (actNode && (actNode.op === 'gelu' || actNode.op === 'gelu_tanh' || actNode.op === 'relu' || actNode.op === 'silu')) {
    up = proj(linears.find((u) => u.output === actNode.inputs[0]));
    fn = actNode.op;
  } else return 'expert hidden units without a supported activation';
  if (!up) return 'an activation of something other than an expert projection';
  const upNode = linears.find((u) => u.output === up.out)!;
  const x = upNode.inputs[0]!;
  if (linears.length !== (gate ? 3 : 2)) return 'more expert projections than up, gate and down';
  if (graph.values[x]!.type.shape.length !== graph.values[idx]!.type.shape.length) return 'per-slot input to the first expert projection';
  const auxNode = users.find((u) => u.op === 'moe_aux_loss');
  const nodes: Node[] = [select, gatesNode, ...linears, actNode, combine, ...(auxNode ? [auxNode] : [])];
  // Everything but the combined output (and the aux loss) lives inside the group's kernels.
  const inner = nodes.filter((n) => n !== combine && n !== auxNode).map((n) => n.output);
  const taken = new Set<Node>(nodes);
  for (const v of inner) {
    if (graph.outputs.includes(v) || (uses.get(v) ?? []).some((u) => !taken.has(u)))
      return `${graph.values[v]!.name} read outside the MoE layer`;
  }
  if (auxNode && auxNode.op === 'moe_aux_loss' && auxNode.inputs[0] !== select.inputs[0]) return 'an aux loss of other logits';
  return {
    group: {
      kind: 'moe',
      logits: select.inputs[0]!,
      x,
      idx,
      gates: gatesNode.output,
      experts: graph.values[down.inputs[2]!]!.type.shape[0] as number,
      topK: select.attrs.top_k,
      renormalize: gatesNode.attrs.renormalize,
      up,
      gate,
      act: { fn, out: actNode.output },
      down: proj(down)!,
      out: combine.output,
      aux: auxNode && auxNode.op === 'moe_aux_loss' ? { out: auxNode.output, coef: auxNode.attrs.coef } : null,
      scope: select.scope,
    },
    nodes,
  };
}

/** The u32 [E] buffer of a MoE layer's per-expert slot counts (io.expertCounts lists them). */
export function expertCountsBuffer(g: MoeGroup): string {
  return `${g.scope}.expert_counts`;
}

/** The buffers the forward writes and the backward reads. */
interface Saved {
  readonly N: number;
  readonly C: number;
  readonly F: number;
  readonly probs: string;
  readonly counts: string;
  readonly offsets: string;
  readonly order: string;
  readonly pos: string;
  readonly expert: string;
  readonly upS: string;
  readonly gateS: string | null;
  readonly hS: string;
  readonly downS: string;
}

/**
 * Emits k with the buffers of `all` it declares: the grouped matmuls read the row → expert
 * map (one value per invocation) or the expert offsets (register tiles), by their shapes.
 */
function emit(P: PlanBuilder, k: WgslKernel, all: Record<string, string>, scope: string, ranges?: Record<string, BindingRange>): void {
  P.emit(k, Object.fromEntries(k.bindings.filter((b) => b.name in all).map((b) => [b.name, all[b.name]!])), scope, {}, ranges);
}

/**
 * One routed projection's grouped matmul: one dispatch when its stacked weight fits a binding,
 * else one per chunk of it (each binding its byte range of w, all writing the same `out`).
 */
function emitProjection(c: PlanContext, spec: Omit<GroupedMatmulSpec, 'chunk'>, all: Record<string, string>, scope: string): void {
  const chunks = expertChunks(c, spec.experts, spec.outDim, spec.inDim, groupedTiled(spec.inDim, spec.outDim) ? 4 : 1);
  if (!chunks) return emit(c.P, generateGroupedMatmul(spec), all, scope);
  for (const { range, ...chunk } of chunks) emit(c.P, generateGroupedMatmul({ ...spec, chunk }), all, scope, { w: range });
}

function projBind(P: PlanBuilder, p: ExpertProjection, a: string, extra: Record<string, string>, out: string): Record<string, string> {
  return { a, w: P.buf(p.weight), ...(p.bias !== null ? { b: P.buf(p.bias) } : {}), ...extra, out };
}

export const moe: GroupModule<MoeGroup, Saved> = {
  forward(c: PlanContext, g) {
    const { P } = c;
    const { rows: N, width: C } = P.rowsOf(g.x);
    const E = g.experts;
    const k = g.topK;
    const S = N * k;
    const F = c.graph.values[g.up.out]!.type.shape.at(-1) as number;
    const s = g.scope;
    const probs = P.scratch(`${s}.router_probs`, [N, E]);
    const counts = P.scratchU32(expertCountsBuffer(g), E);
    const offsets = P.scratchU32(`${s}.expert_offsets`, E + 1);
    const order = P.scratchU32(`${s}.slot_order`, S);
    const pos = P.scratchU32(`${s}.slot_pos`, S);
    const expert = P.scratchU32(`${s}.row_expert`, S);
    // The projections' values live only in expert-sorted order (never in the IR's slot order).
    const sorted = (v: number, width: number) => P.scratch(`sorted:${c.graph.values[v]!.name}#${v}`, [S, width]);
    const upS = sorted(g.up.out, F);
    const gateS = g.gate ? sorted(g.gate.out, F) : null;
    const hS = sorted(g.act.out, F);
    const downS = sorted(g.down.out, C);

    const idx = P.buf(g.idx);
    const gates = P.buf(g.gates);
    P.emit(
      generateMoeRoute({ tokens: N, experts: E, topK: k, renormalize: g.renormalize }),
      { logits: P.buf(g.logits), idx, gates, probs },
      s,
    );
    P.emit(generateMoeSort({ slots: S, experts: E }), { idx, counts, offsets, order, pos, expert }, s);
    const x = P.buf(g.x);
    const upK = (p: ExpertProjection) => ({ rows: S, inDim: C, outDim: F, experts: E, bias: p.bias !== null, gather: k });
    emitProjection(c, upK(g.up), projBind(P, g.up, x, { expert, offsets, order }, upS), s);
    if (g.gate && gateS) {
      emitProjection(c, upK(g.gate), projBind(P, g.gate, x, { expert, offsets, order }, gateS), s);
      P.emit(generateGlu({ shape: [S, F], fn: g.act.fn }), { gate: gateS, up: upS, out: hS }, s);
    } else {
      P.emit(generateActivation({ shape: [S, F], fn: g.act.fn }), { x: upS, out: hS }, s);
    }
    const downK = { rows: S, inDim: F, outDim: C, experts: E, bias: g.down.bias !== null };
    emitProjection(c, downK, projBind(P, g.down, hS, { expert, offsets }, downS), s);
    P.emit(generateMoeCombine({ tokens: N, topK: k, C }), { ys: downS, gates, pos, out: P.buf(g.out) }, s);
    // Sampling plans never read the loss.
    if (g.aux && !c.cached) {
      P.emit(generateMoeAuxLoss({ tokens: N, experts: E, topK: k, coef: g.aux.coef }), { probs, counts, aux: P.buf(g.aux.out) }, s);
    }
    return { N, C, F, probs, counts, offsets, order, pos, expert, upS, gateS, hS, downS };
  },

  backward(c, d, g, sv) {
    const { P } = c;
    const dy = d.of(P.buf(g.out));
    if (!dy) return; // nothing downstream needs the layer (its output always feeds the residual stream)
    const { N, C, F } = sv;
    const E = g.experts;
    const k = g.topK;
    const S = N * k;
    const s = g.scope;
    const gates = P.buf(g.gates);
    const dgates = P.scratch(`${s}.d_gates`, [N, k]);
    const dDown = P.scratch(`${s}.d_down_sorted`, [S, C]);
    P.emit(generateMoeCombineDys({ tokens: N, topK: k, C }), { dy, gates, order: sv.order, dys: dDown }, s);
    P.emit(generateMoeCombineDgates({ tokens: N, topK: k, C }), { ys: sv.downS, dy, pos: sv.pos, dgates }, s);

    // Weight and bias gradients of one projection over its sorted rows (a: its input).
    const params = (p: ExpertProjection, dOut: string, a: string, inDim: number, outDim: number, gather: boolean) => {
      const dw = generateGroupedMatmulDw({ rows: S, inDim, outDim, experts: E, ...(gather ? { gather: k } : {}) });
      const bind = { dout: dOut, a, offsets: sv.offsets, ...(gather ? { order: sv.order } : {}) };
      d.contribute(P.buf(p.weight), s, (dst) => P.emit(dw, { ...bind, dw: dst }, s));
      if (p.bias !== null) {
        const db = generateGroupedBiasGrad({ rows: S, outDim, experts: E });
        d.contribute(P.buf(p.bias), s, (dst) => P.emit(db, { dout: dOut, offsets: sv.offsets, db: dst }, s));
      }
    };
    params(g.down, dDown, sv.hS, F, C, false);
    const dH = P.scratch(`${s}.d_hidden_sorted`, [S, F]);
    emit(
      P,
      generateGroupedMatmulDx({ rows: S, inDim: F, outDim: C, experts: E }),
      { dout: dDown, w: P.buf(g.down.weight), expert: sv.expert, offsets: sv.offsets, da: dH },
      s,
    );

    const dUp = P.scratch(`${s}.d_up_sorted`, [S, F]);
    let dGate: string | null = null;
    if (g.gate && sv.gateS) {
      dGate = P.scratch(`${s}.d_gate_sorted`, [S, F]);
      P.emit(generateGluBackward({ shape: [S, F], fn: g.act.fn }), { gate: sv.gateS, up: sv.upS, dout: dH, dgate: dGate, dup: dUp }, s);
    } else {
      P.emit(generateActivationBackward({ shape: [S, F], fn: g.act.fn }), { x: sv.upS, dout: dH, dx: dUp }, s);
    }
    const x = P.buf(g.x);
    params(g.up, dUp, x, C, F, true);
    if (g.gate && dGate) params(g.gate, dGate, x, C, F, true);

    // dx: the sorted rows' input gradients (up, plus gate), then each token's k rows summed.
    const dXs = P.scratch(`${s}.d_x_sorted`, [S, C]);
    const dx = (accumulate: boolean) => generateGroupedMatmulDx({ rows: S, inDim: C, outDim: F, experts: E, accumulate });
    emit(P, dx(false), { dout: dUp, w: P.buf(g.up.weight), expert: sv.expert, offsets: sv.offsets, da: dXs }, s);
    if (g.gate && dGate) emit(P, dx(true), { dout: dGate, w: P.buf(g.gate.weight), expert: sv.expert, offsets: sv.offsets, da: dXs }, s);
    d.contribute(x, s, (dst) => P.emit(generateMoeCombine({ tokens: N, topK: k, C, gates: false }), { ys: dXs, pos: sv.pos, out: dst }, s));

    // The router logits: through the gates, and the load-balancing loss scaled by d(aux).
    const dAux = g.aux ? d.of(P.buf(g.aux.out)) : undefined;
    const auxCoef = g.aux && dAux ? g.aux.coef : 0;
    const route = generateMoeRouteBackward({ tokens: N, experts: E, topK: k, renormalize: g.renormalize, auxCoef });
    const bind = { probs: sv.probs, idx: P.buf(g.idx), dgates, ...(auxCoef !== 0 ? { counts: sv.counts, daux: dAux! } : {}) };
    d.contribute(P.buf(g.logits), s, (dst) => P.emit(route, { ...bind, dlogits: dst }, s));
  },
};

/**
 * The value of the summed load-balancing losses: the loss output is add(cross-entropy, Σ aux)
 * when the graph has any (compiler/ir/lower.ts head()); null otherwise.
 */
export function auxLossValues(graph: Graph): { loss: number; aux: number } | null {
  for (const v of graph.outputs) {
    const n = graph.nodes.find((m) => m.output === v);
    if (n?.op !== 'add') continue;
    const xent = n.inputs.findIndex((i) => graph.nodes.find((m) => m.output === i)?.op === 'softmax_xent');
    if (xent >= 0) return { loss: v, aux: n.inputs[1 - xent]! };
  }
  return null;
}
