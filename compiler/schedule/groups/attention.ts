/**
 * attention: softmax(q·kᵀ/√d + mask/bias)·v with an online softmax, GQA/MQA by head groups,
 * causal or bidirectional, sliding windows and ALiBi. Prefill/decode plans first copy K and V
 * into this layer's cache and attend over it; training keeps the log-sum-exp of each row so
 * the backward (FlashAttention-2 style: a dq kernel and a dk/dv kernel) recomputes the weights.
 */
import { generateAttention } from '../../codegen/wgsl/kernels/attention.js';
import {
  generateAttentionBackwardDkv,
  generateAttentionBackwardDq,
  generateAttentionBackwardPre,
} from '../../codegen/wgsl/kernels/backward/attention-bwd.js';
import type { AttentionAttrs } from '../../ir/ops.js';
import type { GroupModule, PlanContext } from '../context.js';
import { numel } from '../plan-builder.js';

export interface AttentionGroup {
  readonly kind: 'attention';
  readonly q: number;
  readonly k: number;
  readonly v: number;
  readonly out: number;
  readonly attrs: AttentionAttrs;
  readonly scope: string;
}

const shape = (c: PlanContext, a: AttentionAttrs) => ({
  heads: a.heads,
  kv_heads: a.kv_heads,
  head_dim: a.head_dim,
  causal: a.causal,
  window: a.window,
  alibi: a.positions === 'alibi',
  tuning: c.tuning,
  subgroupMinSize: c.sg,
  // Weight dropout only in training (the mask needs the Step uniform's rng); inference kernels are unchanged.
  dropout: c.training && a.dropout > 0 ? { p: a.dropout, stream: a.stream ?? 0 } : null,
});

/** Training: the (B, heads, T) log-sum-exp buffer. */
type Saved = string | null;

export const attention: GroupModule<AttentionGroup, Saved> = {
  forward(c, g) {
    const { P, B, T } = c;
    const a = g.attrs;
    if (c.training) {
      const lse = P.scratch(`lse:${P.buf(g.out)}`, [B, a.heads, T]);
      P.emit(
        generateAttention({ B, Tq: T, Tk: T, ...shape(c, a), lse: true }),
        { q: P.buf(g.q), k: P.buf(g.k), v: P.buf(g.v), out: P.buf(g.out), lse },
        g.scope,
      );
      return lse;
    }
    let kName = P.buf(g.k);
    let vName = P.buf(g.v);
    if (c.cached) {
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
    const k = generateAttention({ B, Tq: T, Tk: c.cached ? c.model.context : T, ...shape(c, a) });
    P.emit(k, { q: P.buf(g.q), k: kName, v: vName, out: P.buf(g.out) }, g.scope);
    c.layer++;
    return null;
  },
  backward(c, d, g, lse) {
    const { P, B, T } = c;
    const dOut = d.of(P.buf(g.out));
    if (!dOut) return;
    const a = g.attrs;
    const spec = { B, T, ...shape(c, a) };
    const dterm = P.scratch(`dterm:${P.buf(g.out)}`, [B, a.heads, T]);
    const io = { q: P.buf(g.q), k: P.buf(g.k), v: P.buf(g.v), dout: dOut, lse: lse!, dterm };
    P.emit(generateAttentionBackwardPre({ B, T, heads: a.heads, head_dim: a.head_dim }), { out: P.buf(g.out), dout: dOut, dterm }, g.scope);
    d.contribute(P.buf(g.q), g.scope, (dst) => P.emit(generateAttentionBackwardDq(spec), { ...io, dq: dst }, g.scope));
    const kShape = P.buffers.get(P.buf(g.k))!.shape;
    const dk = P.scratch(`dk:${P.buf(g.out)}`, kShape);
    const dv = P.scratch(`dv:${P.buf(g.out)}`, P.buffers.get(P.buf(g.v))!.shape);
    P.emit(generateAttentionBackwardDkv(spec), { ...io, dk, dv }, g.scope);
    const bytes = 4 * numel(kShape);
    d.contribute(P.buf(g.k), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dk, dst, bytes, scope: g.scope }));
    d.contribute(P.buf(g.v), g.scope, (dst) => P.steps.push({ kind: 'copy', src: dv, dst, bytes, scope: g.scope }));
  },
};
