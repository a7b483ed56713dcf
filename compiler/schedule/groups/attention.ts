/**
 * attention: softmax(scale·q·kᵀ + mask/bias)·v with an online softmax, GQA/MQA by head groups,
 * causal or bidirectional (windows either way), ALiBi, the T5 relative bias and unscaled
 * scores (T5), and cross-attention. Prefill/decode plans first copy K and V into this layer's
 * cache and attend over it (few-row plans write them there from the fused projection kernel
 * instead, see AttentionProjections); training keeps the log-sum-exp of each row so the backward
 * (FlashAttention-2 style: a dq kernel and a dk/dv kernel) recomputes the weights.
 *
 * Cross-attention (attrs.cross): T queries of the decoder over the S rows of K and V, the
 * encoder output's projections (ordinary linear groups of the memory). It claims no KV cache:
 * in the encode/prefill/decode plans of an encoder–decoder (plan.ts) the K and V projections
 * are source-side values that the encode plan computes once; prefill and decode skip those
 * groups and this group binds the same buffers by name (the value's buffer name, e.g.
 * `decoder.layers.0.cross_attn.k#<id>`, shape (1, S, kv_heads·head_dim)), which the runtime
 * shares between the plans of a model. All S keys are read (the kernel ignores Step.kv_len).
 *
 * T5 relative bias: the stack's (buckets, heads) table is the group's `table`; buckets are
 * bidirectional in a non-causal (encoder) layer and causal in a decoder. Its gradient: the dq
 * kernel leaves each row's Σ_j dS per bucket in a scratch, relative_bias_grad sums them per
 * (bucket, head) in a fixed order, and GradContext.contribute adds the layers sharing the table.
 *
 * Issue 10 status (all usable, forward and backward, in training, forward and prefill/decode
 * plans): (1) bidirectional self-attention, (2) cross-attention over S keys, (3) the T5
 * relative bias, (4) unscaled attention (`attention { scaled: false }`, attrs.scaled).
 */
import { generateAttention } from '../../codegen/wgsl/kernels/attention.js';
import type { RelativeBias } from '../../codegen/wgsl/kernels/attention-common.js';
import {
  generateAttentionBackwardDkv,
  generateAttentionBackwardDq,
  generateAttentionBackwardPre,
} from '../../codegen/wgsl/kernels/backward/attention-bwd.js';
import { generateRelativeBiasGrad } from '../../codegen/wgsl/kernels/backward/relative-bias-grad.js';
import type { RowsPart } from '../../codegen/wgsl/matmul-rows.js';
import { rowsPartBuffers, ROWS_MAX_STORAGE } from '../../codegen/wgsl/matmul-rows.js';
import type { AttentionAttrs } from '../../ir/ops.js';
import type { GroupModule, PlanContext } from '../context.js';
import { numel } from '../plan-builder.js';
import { linear, type LinearGroup, rowsKernel, rowsPlan } from './linear.js';
import { rope, type RopeGroup } from './rope.js';

/**
 * The Q, K and V projections of a self-attention layer (and the RoPE of Q and K), folded into
 * the attention group by fuse.ts for inference plans. A few-row cached plan (decode, the
 * speculative verify) computes them in one rows kernel (two when biases need more than 8
 * storage buffers) that rotates Q and K in its epilogue and writes K and V straight into this
 * layer's cache at Step.offset: no cache_write copies, so the decode step stays one compute pass.
 * Every other plan runs them as the separate groups they were.
 */
export interface AttentionProjections {
  readonly x: number;
  readonly q: LinearGroup;
  readonly k: LinearGroup;
  readonly v: LinearGroup;
  readonly ropeQ: RopeGroup | null;
  readonly ropeK: RopeGroup | null;
}

export interface AttentionGroup {
  readonly kind: 'attention';
  readonly q: number;
  readonly k: number;
  readonly v: number;
  /** The T5 relative-bias table (buckets, heads) when attrs.positions is 'relative'. */
  readonly table: number | null;
  readonly out: number;
  readonly attrs: AttentionAttrs;
  readonly scope: string;
  readonly proj?: AttentionProjections;
}

/** The kernel's view of a relative bias: bidirectional buckets in an encoder (non-causal) layer. */
const relativeOf = (a: AttentionAttrs): RelativeBias | null =>
  a.positions === 'relative' ? { buckets: a.buckets, maxDistance: a.max_distance, bidirectional: !a.causal } : null;

const shape = (c: PlanContext, a: AttentionAttrs) => ({
  heads: a.heads,
  kv_heads: a.kv_heads,
  head_dim: a.head_dim,
  causal: a.causal,
  window: a.window,
  alibi: a.positions === 'alibi',
  relative: relativeOf(a),
  cross: a.cross,
  ...(a.scaled === false ? { scale: 1 } : {}),
  tuning: c.tuning,
  subgroupMinSize: c.sg,
  // Weight dropout only in training (the mask needs the Step uniform's rng); inference kernels are unchanged.
  dropout: c.training && a.dropout > 0 ? { p: a.dropout, stream: a.stream ?? 0 } : null,
});

/**
 * Query and key rows per batch entry, read off the group's buffers: an encoder layer's are S
 * (the source length), a decoder layer's T, cross-attention's keys S.
 */
const rows = (c: PlanContext, g: AttentionGroup): { T: number; S: number } => ({ T: c.P.dims(g.q)[1]!, S: c.P.dims(g.k)[1]! });

/**
 * Keys over the source (an encoder layer, cross-attention): all S rows are valid, whatever the
 * Step uniform's kv_len (which counts the decoder's tokens) says.
 */
const overSource = (c: PlanContext, g: AttentionGroup): boolean => g.attrs.cross || c.graph.values[g.k]!.type.shape[1] === 'S';

/** The table binding of a relative bias, or nothing. */
const tableIo = (c: PlanContext, g: AttentionGroup): Record<string, string> => (g.table === null ? {} : { rel: c.P.buf(g.table) });

/** Training: the (B, heads, T) log-sum-exp buffer. */
type Saved = string | null;

export const attention: GroupModule<AttentionGroup, Saved> = {
  forward(c, g) {
    const { P, B } = c;
    const a = g.attrs;
    const { T, S } = rows(c, g);
    if (c.training) {
      if (g.proj) throw new Error(`internal: ${g.scope}: projections are fused into attention for inference plans only`);
      const lse = P.scratch(`lse:${P.buf(g.out)}`, [B, a.heads, T]);
      P.emit(
        generateAttention({ B, Tq: T, Tk: S, ...shape(c, a), allKeys: overSource(c, g), lse: true }),
        { q: P.buf(g.q), k: P.buf(g.k), v: P.buf(g.v), out: P.buf(g.out), lse, ...tableIo(c, g) },
        g.scope,
      );
      return lse;
    }
    // Cross-attention K/V are the encode plan's buffers, kept for the whole generation: no cache.
    const cached = c.cached && !a.cross;
    const caches = cached ? cacheBuffers(c, a) : null;
    const written = g.proj && caches ? fusedProjections(c, g, g.proj, T, caches) : false;
    if (g.proj && !written) separateProjections(c, g.proj);
    const kName = caches ? caches.k : P.buf(g.k);
    const vName = caches ? caches.v : P.buf(g.v);
    if (caches && !written) {
      const rowBytes = 4 * a.kv_heads * a.head_dim;
      P.steps.push({ kind: 'cache_write', src: P.buf(g.k), dst: caches.k, rowBytes, rows: T, scope: g.scope });
      P.steps.push({ kind: 'cache_write', src: P.buf(g.v), dst: caches.v, rowBytes, rows: T, scope: g.scope });
    }
    const k = generateAttention({ B, Tq: T, Tk: cached ? c.model.context : S, ...shape(c, a), allKeys: !cached && overSource(c, g) });
    P.emit(k, { q: P.buf(g.q), k: kName, v: vName, out: P.buf(g.out), ...tableIo(c, g) }, g.scope);
    if (cached) c.layer++;
    return null;
  },
  backward(c, d, g, lse) {
    const { P, B } = c;
    const dOut = d.of(P.buf(g.out));
    if (!dOut) return;
    const a = g.attrs;
    const { T, S } = rows(c, g);
    const spec = { B, T, S, ...shape(c, a) };
    const rel = relativeOf(a);
    const pre = { B, T, heads: a.heads, head_dim: a.head_dim };
    const qkv = { q: P.buf(g.q), k: P.buf(g.k), v: P.buf(g.v), dout: dOut, ...tableIo(c, g) };
    let io: Record<string, string>;
    if (rel) {
      // Out of storage bindings otherwise (attention-bwd-common.ts lseAt): lse and D packed per row.
      const stats = P.scratch(`stats:${P.buf(g.out)}`, [B, a.heads, T, 2]);
      P.emit(generateAttentionBackwardPre({ ...pre, stats: true }), { out: P.buf(g.out), dout: dOut, lse: lse!, stats }, g.scope);
      io = { ...qkv, stats };
    } else {
      const dterm = P.scratch(`dterm:${P.buf(g.out)}`, [B, a.heads, T]);
      P.emit(generateAttentionBackwardPre(pre), { out: P.buf(g.out), dout: dOut, dterm }, g.scope);
      io = { ...qkv, lse: lse!, dterm };
    }
    const dbias = rel ? P.scratch(`dbias:${P.buf(g.out)}`, [B, a.heads, T, rel.buckets]) : null;
    d.contribute(P.buf(g.q), g.scope, (dst) =>
      P.emit(generateAttentionBackwardDq(spec), { ...io, dq: dst, ...(dbias ? { dbias } : {}) }, g.scope),
    );
    if (rel && dbias && g.table !== null) {
      d.contribute(P.buf(g.table), g.scope, (dst) =>
        P.emit(generateRelativeBiasGrad({ B, T, heads: a.heads, buckets: rel.buckets }), { dbias, dtable: dst }, g.scope),
      );
    }
    const kShape = P.buffers.get(P.buf(g.k))!.shape;
    const dk = P.scratch(`dk:${P.buf(g.out)}`, kShape);
    const dv = P.scratch(`dv:${P.buf(g.out)}`, P.buffers.get(P.buf(g.v))!.shape);
    P.emit(generateAttentionBackwardDkv(spec), { ...io, dk, dv }, g.scope);
    const bytes = 4 * numel(kShape);
    d.contribute(P.buf(g.k), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dk, dst, bytes, scope: g.scope }));
    d.contribute(P.buf(g.v), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dv, dst, bytes, scope: g.scope }));
  },
};

/** This layer's K and V caches, [context, kv_heads·head_dim] each, named alike in every plan of the model. */
function cacheBuffers(c: PlanContext, a: AttentionAttrs): { k: string; v: string } {
  const context = c.model.context;
  const width = a.kv_heads * a.head_dim;
  const cache = (kv: 'k' | 'v') =>
    c.P.add({ name: `cache.${c.layer}.${kv}`, kind: 'cache', dtype: 'f32', shape: [context, width], bytes: 4 * width * context });
  return { k: cache('k'), v: cache('v') };
}

/** The projections as the groups they were: three linears, then the rotations. */
function separateProjections(c: PlanContext, p: AttentionProjections): void {
  for (const l of [p.q, p.k, p.v]) linear.forward(c, l);
  for (const r of [p.ropeQ, p.ropeK]) if (r) rope.forward(c, r);
}

/**
 * A few-row cached plan: Q (rotated) into the attention's q buffer, K (rotated) and V into the
 * caches at Step.offset, in as few rows kernels as the storage-buffer budget allows. False (and
 * nothing emitted) when the rows kernel cannot take them.
 */
function fusedProjections(
  c: PlanContext,
  g: AttentionGroup,
  p: AttentionProjections,
  T: number,
  caches: { k: string; v: string },
): boolean {
  const { P, graph } = c;
  if (!rowsPlan(c, T)) return false;
  const K = P.rowsOf(p.x).width;
  const ropeOf = (r: RopeGroup | null) => {
    if (!r) return null;
    return r.rotary_dims === r.head_dim ? { heads: r.heads, head_dim: r.head_dim, base: r.base } : undefined;
  };
  const rq = ropeOf(p.ropeQ);
  const rk = ropeOf(p.ropeK);
  if (rq === undefined || rk === undefined) return false; // partial rotary: the rope kernel's pass-through
  const N = (l: LinearGroup) => graph.values[l.weight]!.type.shape[0] as number;
  const context = c.model.context;
  const parts: { part: RowsPart; l: LinearGroup; out: string }[] = [
    { part: { name: 'q', N: N(p.q), bias: p.q.bias !== null, rope: rq }, l: p.q, out: P.buf(g.q) },
    { part: { name: 'k', N: N(p.k), bias: p.k.bias !== null, rope: rk, cacheRows: context }, l: p.k, out: caches.k },
    { part: { name: 'v', N: N(p.v), bias: p.v.bias !== null, cacheRows: context }, l: p.v, out: caches.v },
  ];
  // Kernels of consecutive parts within the storage budget (A once, then each part's weight, bias, output).
  const batches: (typeof parts)[] = [];
  for (const e of parts) {
    const last = batches.at(-1);
    if (last && 1 + [...last, e].reduce((n, x) => n + rowsPartBuffers(x.part), 0) <= ROWS_MAX_STORAGE) last.push(e);
    else batches.push([e]);
  }
  const kernels = batches.map((b) =>
    rowsKernel(
      c,
      T,
      K,
      b.map((e) => e.part),
      `${b.map((e) => e.part.name).join('')}_${T}x${K}${b.some((e) => e.part.rope) ? '_rope' : ''}`,
    ),
  );
  if (kernels.some((k) => k === null)) return false;
  batches.forEach((b, i) => {
    const bind: Record<string, string> = { A: P.buf(p.x) };
    for (const { part, l, out } of b) {
      bind[`B_${part.name}`] = P.buf(l.weight);
      if (l.bias !== null) bind[`bias_${part.name}`] = P.buf(l.bias);
      bind[`C_${part.name}`] = out;
    }
    P.emit(kernels[i]!, bind, g.scope);
  });
  return true;
}
