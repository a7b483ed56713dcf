/**
 * attention: softmax(scale·q·kᵀ + mask/bias)·v with an online softmax, GQA/MQA by head groups,
 * causal or bidirectional (windows either way), ALiBi, the T5 relative bias and unscaled
 * scores (T5), and cross-attention. Prefill/decode plans first copy K and V into this layer's
 * cache and attend over it; training keeps the log-sum-exp of each row so the backward
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
import type { AttentionAttrs } from '../../ir/ops.js';
import type { GroupModule, PlanContext } from '../context.js';
import { numel } from '../plan-builder.js';

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
      const lse = P.scratch(`lse:${P.buf(g.out)}`, [B, a.heads, T]);
      P.emit(
        generateAttention({ B, Tq: T, Tk: S, ...shape(c, a), allKeys: overSource(c, g), lse: true }),
        { q: P.buf(g.q), k: P.buf(g.k), v: P.buf(g.v), out: P.buf(g.out), lse, ...tableIo(c, g) },
        g.scope,
      );
      return lse;
    }
    let kName = P.buf(g.k);
    let vName = P.buf(g.v);
    // Cross-attention K/V are the encode plan's buffers, kept for the whole generation: no cache.
    const cached = c.cached && !a.cross;
    if (cached) {
      const context = c.model.context;
      const rowBytes = 4 * a.kv_heads * a.head_dim;
      const cache = (kv: 'k' | 'v') =>
        P.add({
          name: `cache.${c.layer}.${kv}`,
          kind: 'cache',
          dtype: 'f32',
          shape: [context, a.kv_heads * a.head_dim],
          bytes: rowBytes * context,
        });
      const kc = cache('k');
      const vc = cache('v');
      P.steps.push({ kind: 'cache_write', src: kName, dst: kc, rowBytes, rows: T, scope: g.scope });
      P.steps.push({ kind: 'cache_write', src: vName, dst: vc, rowBytes, rows: T, scope: g.scope });
      kName = kc;
      vName = vc;
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
