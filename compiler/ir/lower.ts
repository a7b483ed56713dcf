/**
 * ModelSpec → forward graph, for all three architectures, every layer spelled out.
 *
 * Conventions (they decide parameter names and counts, so they are written down here):
 *   - one token table `embed.tokens.weight`, shared by both stacks of an encoder–decoder
 *     model and read again by a tied LM head;
 *   - everything else of the embedding block (learned position table, segment table,
 *     embedding norm) and the T5 relative-bias table exist once per stack, shared by its
 *     layers; single-stack models have no `encoder.`/`decoder.` prefix;
 *   - a decoder layer with cross-attention runs self-attention, cross-attention, MLP; in a
 *     `parallel` layer only self-attention and MLP are parallel, cross-attention follows them;
 *   - a post-norm parallel layer has one norm after the summed branches (`shared_norm` has no
 *     second norm to share);
 *   - the BERT pooler is a dense layer with bias, then tanh, on the first position;
 *   - an LM head ends in softmax cross-entropy against `targets`, so the graph is the
 *     training forward; the logits are an output too;
 *   - a MoE layer's routed experts are stacked: one parameter `….moe.experts.<proj>.weight`
 *     (E, out, in) per projection (bias (E, out)); with aux_loss > 0 and an LM head, each MoE
 *     layer adds a `moe_aux_loss`, and the loss output (still named `head.loss`) is the
 *     cross-entropy (`head.xent`) plus their sum;
 *   - dropout (only where its rate is > 0) is a `dropout` node after the embeddings (after
 *     the embedding norm, as HF BERT) and on each residual branch's output before its add
 *     (attention, cross-attention, MLP/MoE; both branches of a parallel layer); attention-
 *     weight dropout is the attention op's own. A site's random stream is the hash of its
 *     value's name (`layers.0.mlp.dropout`, `layers.0.attn.attention`; runtime/counter-rng.ts).
 */
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.js';
import {
  type AttentionSpec,
  GATED,
  type LayerSpec,
  type MlpSpec,
  type ModelSpec,
  type NormSpec,
  type StackSpec,
} from '../semantics/model.js';
import { type Component, type Graph, GraphBuilder, IRError } from './graph.js';
import type { Act, AttentionAttrs } from './ops.js';
import type { Sym } from './tensor.js';
import { dropoutStream } from '../../runtime/counter-rng.js';

export interface Lowered {
  readonly graph: Graph;
  readonly diagnostics: readonly Diagnostic[];
  /**
   * With `compactExperts`: value id → how many identical values it stands for: a parameter or
   * op output of one shared expert for all of them (an op output's count is its node's).
   * Routed experts need none: each projection of all E is already one stacked parameter.
   * Empty otherwise.
   */
  readonly copies: ReadonlyMap<number, number>;
  /**
   * With `compactExperts`, identical layers are lowered once: lowered layer (`stack.index`) →
   * how many layers of its stack it stands for, and every layer → the lowered layer that
   * stands for it. Empty otherwise.
   */
  readonly layerCopies: ReadonlyMap<string, number>;
  readonly layerRep: ReadonlyMap<string, string>;
}

export interface LowerOptions {
  /**
   * For analysis only: one shared expert stands for all of them (recorded in `copies`), and
   * identical layers of a stack are lowered once (see `layerCopies`), so the graph's size
   * grows with neither experts nor layers (routed experts are stacked parameters either way).
   * Parameters, FLOPs and saved activations come out the same once `copies` is applied
   * (analyze.ts). Not for the interpreter or code generation, which need every layer.
   */
  readonly compactExperts?: boolean;
}

export function lower(model: ModelSpec, opts: LowerOptions = {}): Lowered {
  const b = new GraphBuilder();
  const copies = new Map<number, number>();
  const layers = { copies: new Map<string, number>(), rep: new Map<string, string>() };
  const result = (diagnostics: Diagnostic[]): Lowered => ({
    graph: b.finish(),
    diagnostics,
    copies,
    layerCopies: layers.copies,
    layerRep: layers.rep,
  });
  try {
    new Lowering(model, b, opts.compactExperts ? copies : null, opts.compactExperts ? layers : null).run();
    return result([]);
  } catch (e) {
    if (!(e instanceof IRError)) throw e;
    // The partial graph is returned for inspection; it will not pass verify().
    return result([diagnostic('MS9001', model.span, { detail: `lowering model '${model.name}': ${e.message}` })]);
  }
}

/** What the layers of one stack read besides the residual stream. */
interface StackCtx {
  readonly prefix: string;
  readonly role: StackSpec['role'];
  /** i32 positions (seq), when RoPE needs them. */
  readonly positions: number | null;
  /** The stack's shared T5 relative-bias table. */
  readonly relBias: number | null;
  /** Encoder output (B, S, C) for cross-attention. */
  readonly memory: number | null;
}

const GATE_FN: Readonly<Record<string, Act>> = { swiglu: 'silu', geglu: 'gelu', geglu_tanh: 'gelu_tanh', reglu: 'relu' };

function need<T>(v: T | null | undefined, what: string): T {
  if (v === null || v === undefined) throw new IRError(`missing ${what}`);
  return v;
}

class Lowering {
  private tokenTable: number | null = null;
  /** Each MoE layer's load-balancing loss (a scalar), in layer order. */
  private readonly auxLosses: number[] = [];
  private readonly C: number;

  constructor(
    private readonly m: ModelSpec,
    private readonly b: GraphBuilder,
    /** Set when shared experts are lowered compactly (LowerOptions.compactExperts). */
    private readonly copies: Map<number, number> | null,
    /** Set when identical layers are lowered once (compact mode). */
    private readonly layerGroups: { copies: Map<string, number>; rep: Map<string, string> } | null,
  ) {
    this.C = m.d_model;
  }

  run(): void {
    const m = this.m;
    if (m.arch === 'encoder_decoder') {
      const memory = this.stack(need(m.encoder, 'encoder stack'), 'encoder.', 'S', 'src_', null);
      this.head(this.stack(need(m.decoder, 'decoder stack'), 'decoder.', 'T', '', memory));
    } else {
      const s = m.arch === 'decoder' ? need(m.decoder, 'decoder stack') : need(m.encoder, 'encoder stack');
      this.head(this.stack(s, '', 'T', '', null));
    }
  }

  private tokens(): number {
    this.tokenTable ??= this.b.param({
      name: 'embed.tokens.weight',
      shape: [this.m.vocab, this.C],
      component: 'embeddings',
      role: 'token',
    });
    return this.tokenTable;
  }

  /** Embeddings, layers and final norm of one stack; returns its output (B, seq, C). */
  private stack(spec: StackSpec, prefix: string, seq: Sym, inPrefix: string, memory: number | null): number {
    const { b, m, C } = this;
    const pos = m.embedding.positions;
    b.layer = null;
    b.scope = `${prefix}embed`;
    let x = b.op('embedding', [this.tokens(), b.input(`${inPrefix}tokens`, 'i32', ['B', seq])], {}, 'tokens'); // (B, seq, C)
    const needsIds = pos.kind === 'learned' || pos.kind === 'sinusoidal' || pos.kind === 'rope';
    const positions = needsIds ? b.input(`${inPrefix}positions`, 'i32', [seq]) : null;
    if (pos.kind === 'learned') {
      const shape = [m.context, C];
      const table = b.param({ name: `${prefix}embed.positions.weight`, shape, component: 'embeddings', role: 'position' });
      x = b.op('add', [x, b.op('embedding', [table, positions!], {}, 'positions')], {}); // (B, seq, C) + (seq, C)
    } else if (pos.kind === 'sinusoidal') {
      x = b.op('add', [x, b.op('sinusoidal', [positions!], { dim: C })], {});
    }
    if (m.embedding.segments > 0) {
      const shape = [m.embedding.segments, C];
      const table = b.param({ name: `${prefix}embed.segments.weight`, shape, component: 'embeddings', role: 'segment' });
      const ids = b.input(`${inPrefix}segments`, 'i32', ['B', seq]);
      x = b.op('add', [x, b.op('embedding', [table, ids], {}, 'segments')], {});
    }
    if (m.embedding.norm) x = this.norm(`${prefix}embed.norm`, m.embedding.norm, x);
    x = this.dropout(`${prefix}embed`, m.embedding.dropout, x);

    // T5: one (buckets, heads) table per stack, read by every layer's self-attention.
    const relBias =
      pos.kind === 'relative' && spec.layers.length > 0
        ? b.param({
            name: `${prefix}rel_bias.weight`,
            shape: [pos.buckets, spec.layers[0]!.attention.heads],
            component: 'attention',
            role: 'position',
          })
        : null;

    const ctx: StackCtx = { prefix, role: spec.role, positions, relBias, memory };
    for (const layer of this.layerGroups ? this.representatives(spec) : spec.layers) x = this.layer(layer, x, ctx);
    b.layer = null;
    if (spec.final_norm) x = this.norm(`${prefix}norm`, spec.final_norm, x);
    return x;
  }

  /**
   * Compact mode: one layer per group of identical layers, in order of first appearance, with
   * the stack's last layer always lowered on its own at the end. Every layer saves its input
   * for the backward pass, so a group's outputs are kept once per layer of the group; only the
   * last layer's output goes where no layer follows, exactly as in the full graph.
   */
  private representatives(spec: StackSpec): LayerSpec[] {
    const groups = this.layerGroups!;
    const key = (L: LayerSpec) => `${spec.role}.${L.index}`;
    const byShape = new Map<string, LayerSpec>();
    const last = spec.layers[spec.layers.length - 1];
    for (const L of spec.layers) {
      if (L === last) break;
      const shape = JSON.stringify({ ...L, index: 0 });
      const rep = byShape.get(shape) ?? L;
      byShape.set(shape, rep);
      groups.rep.set(key(L), key(rep));
      groups.copies.set(key(rep), (groups.copies.get(key(rep)) ?? 0) + 1);
    }
    if (!last) return [];
    groups.rep.set(key(last), key(last));
    groups.copies.set(key(last), 1);
    return [...byShape.values(), last];
  }

  private layer(L: LayerSpec, x: number, ctx: StackCtx): number {
    const b = this.b;
    const p = `${ctx.prefix}layers.${L.index}.`;
    b.layer = { stack: ctx.role, index: L.index };
    const attn = (y: number) => this.dropout(`${p}attn`, L.dropout, this.attention(`${p}attn`, L.attention, y, y, ctx, false));
    const ffn = (y: number) =>
      L.moe
        ? this.dropout(`${p}moe`, L.dropout, this.moe(`${p}moe`, L, y))
        : this.dropout(`${p}mlp`, L.dropout, this.mlp(`${p}mlp`, L.mlp, y, 'mlp'));
    const add = (r: number, y: number) => b.op('add', [r, y], {}, 'residual');

    if (!L.parallel) {
      x = this.sublayer(`${p}attn_norm`, L, x, attn);
      if (L.cross_attention) x = this.sublayer(`${p}cross_norm`, L, x, (y) => this.cross(p, L, y, ctx));
      return this.sublayer(`${p}mlp_norm`, L, x, ffn);
    }
    if (L.placement === 'post') {
      x = this.norm(`${p}norm`, L.norm, add(add(x, attn(x)), ffn(x)));
    } else if (L.shared_norm) {
      const n = this.norm(`${p}norm`, L.norm, x);
      x = add(add(x, attn(n)), ffn(n));
    } else {
      x = add(add(x, attn(this.norm(`${p}attn_norm`, L.norm, x))), ffn(this.norm(`${p}mlp_norm`, L.norm, x)));
    }
    if (L.cross_attention) x = this.sublayer(`${p}cross_norm`, L, x, (y) => this.cross(p, L, y, ctx));
    return x;
  }

  /** One residual branch: pre-norm x + f(norm(x)), or post-norm norm(x + f(x)). */
  private sublayer(normName: string, L: LayerSpec, x: number, f: (y: number) => number): number {
    if (L.placement === 'pre') return this.b.op('add', [x, f(this.norm(normName, L.norm, x))], {}, 'residual');
    return this.norm(normName, L.norm, this.b.op('add', [x, f(x)], {}, 'residual'));
  }

  private cross(p: string, L: LayerSpec, x: number, ctx: StackCtx): number {
    const spec = need(L.cross_attention, 'cross-attention spec');
    const y = this.attention(`${p}cross_attn`, spec, x, need(ctx.memory, 'encoder output for cross-attention'), ctx, true);
    return this.dropout(`${p}cross_attn`, L.dropout, y);
  }

  /** Inverted dropout of rate p on `x` at `site` (a scope name); nothing when p = 0. */
  private dropout(site: string, p: number, x: number): number {
    if (p === 0) return x;
    this.b.scope = site;
    return this.b.op('dropout', [x], { p, stream: dropoutStream(`${site}.dropout`) });
  }

  /** Projections, RoPE, the fused attention op and the output projection. */
  private attention(name: string, a: AttentionSpec, x: number, kvFrom: number, ctx: StackCtx, cross: boolean): number {
    const { b, C } = this;
    const pos = this.m.embedding.positions;
    const H = a.heads;
    const K = a.kv_heads;
    const D = a.head_dim;
    b.scope = name;
    let q = this.linear(`${name}.q`, x, C, H * D, a.bias, 'attention'); // (B, T, H·D)
    let k = this.linear(`${name}.k`, kvFrom, C, K * D, a.bias, 'attention'); // (B, Tk, K·D)
    const v = this.linear(`${name}.v`, kvFrom, C, K * D, a.bias, 'attention'); // (B, Tk, K·D)
    // Positions belong to self-attention; cross-attention compares unrelated sequences.
    if (!cross && pos.kind === 'rope') {
      const ids = need(ctx.positions, 'positions for RoPE');
      const rotary_dims = Math.round(D * pos.fraction);
      q = b.op('rope', [q, ids], { heads: H, head_dim: D, rotary_dims, base: pos.base }, 'q_rot');
      k = b.op('rope', [k, ids], { heads: K, head_dim: D, rotary_dims, base: pos.base }, 'k_rot');
    }
    const inKernel = !cross && (pos.kind === 'alibi' || pos.kind === 'relative') ? pos.kind : 'none';
    const attrs: AttentionAttrs = {
      heads: H,
      kv_heads: K,
      head_dim: D,
      causal: a.causal,
      window: a.window,
      positions: inKernel,
      buckets: inKernel === 'relative' && pos.kind === 'relative' ? pos.buckets : 0,
      max_distance: inKernel === 'relative' && pos.kind === 'relative' ? pos.max_distance : 0,
      dropout: a.dropout,
      ...(a.dropout > 0 ? { stream: dropoutStream(`${name}.attention`) } : {}),
      cross,
      // Only T5-style unscaled attention carries the attr (absent means 1/√head_dim).
      ...(a.scaled ? {} : { scaled: false }),
    };
    const ins = inKernel === 'relative' ? [q, k, v, need(ctx.relBias, 'relative-bias table')] : [q, k, v];
    const y = b.op('attention', ins, attrs); // (B, T, H·D)
    return this.linear(`${name}.o`, y, H * D, C, a.bias, 'attention');
  }

  /** Dense MLP: up (and gate) → activation → down. */
  private mlp(name: string, spec: MlpSpec, x: number, component: Component): number {
    const { b, C } = this;
    const F = spec.hidden;
    b.scope = name;
    let h: number; // (B, T, F)
    if (GATED.has(spec.activation)) {
      const gate = this.linear(`${name}.gate`, x, C, F, spec.bias, component);
      const up = this.linear(`${name}.up`, x, C, F, spec.bias, component);
      h = b.op('glu', [gate, up], { fn: GATE_FN[spec.activation]! });
    } else {
      h = b.op(spec.activation as Act, [this.linear(`${name}.up`, x, C, F, spec.bias, component)], {});
    }
    return this.linear(`${name}.down`, h, F, C, spec.bias, component);
  }

  /** Routed experts (each `mlp`-shaped) + shared experts; the router is a plain linear. */
  private moe(name: string, L: LayerSpec, x: number): number {
    const { b, C } = this;
    const moe = need(L.moe, 'MoE spec');
    const { experts: E, top_k: k } = moe;
    const F = L.mlp.hidden;
    b.scope = name;
    const logits = this.linear(`${name}.router`, x, C, E, moe.router_bias, 'router'); // (B, T, E)
    const idx = b.op('moe_select', [logits], { top_k: k }, 'experts_chosen'); // (B, T, k) i32
    const gates = b.op('moe_gates', [logits, idx], { renormalize: moe.renormalize }, 'gates'); // (B, T, k)
    // The load-balancing loss reads the logits and the choice; head() adds it to the LM loss.
    if (moe.aux_loss > 0 && this.m.head.kind === 'lm') {
      this.auxLosses.push(b.op('moe_aux_loss', [logits, idx], { coef: moe.aux_loss, top_k: k }, 'aux_loss')); // ()
    }
    const bias = L.mlp.bias;
    const copies = this.copies;
    // Each projection of the E experts is one stacked parameter (E, out, in) [+ bias (E, out)].
    const routed = (proj: string, src: number, inDim: number, out: number) => {
      b.scope = name;
      const p = (kind: string, shape: number[]) =>
        b.param({ name: `${name}.experts.${proj}.${kind}`, shape, component: 'experts', expert: true });
      const ins = [src, idx, p('weight', [E, out, inDim]), ...(bias ? [p('bias', [E, out])] : [])];
      return b.op('expert_linear', ins, { experts: E, top_k: k, bias }, proj); // (B, T, k, out)
    };
    let h: number; // (B, T, k, F)
    if (GATED.has(L.mlp.activation)) {
      h = b.op('glu', [routed('gate', x, C, F), routed('up', x, C, F)], { fn: GATE_FN[L.mlp.activation]! });
    } else {
      h = b.op(L.mlp.activation as Act, [routed('up', x, C, F)], {});
    }
    let y = b.op('moe_combine', [routed('down', h, F, C), gates], {}); // (B, T, C)
    if (copies && moe.shared_experts > 0) {
      // One shared expert and its add stand for all of them: every value created here
      // (parameters and op outputs) counts shared_experts times.
      const first = b.finish().values.length;
      y = b.op('add', [y, this.mlp(`${name}.shared.*`, L.mlp, x, 'mlp')], {});
      for (let v = first; v < b.finish().values.length; v++) copies.set(v, moe.shared_experts);
      return y;
    }
    for (let j = 0; j < moe.shared_experts; j++) {
      y = b.op('add', [y, this.mlp(`${name}.shared.${j}`, L.mlp, x, 'mlp')], {});
    }
    return y;
  }

  private linear(name: string, x: number, inDim: number, out: number, bias: boolean, component: Component): number {
    const b = this.b;
    const ins = [x, b.param({ name: `${name}.weight`, shape: [out, inDim], component })];
    if (bias) ins.push(b.param({ name: `${name}.bias`, shape: [out], component }));
    return b.op('linear', ins, { bias, activation: null }, name.slice(name.lastIndexOf('.') + 1));
  }

  private norm(name: string, spec: NormSpec, x: number, component: Component = 'norms'): number {
    const b = this.b;
    b.scope = name;
    const ins = [x];
    if (spec.scale) ins.push(b.param({ name: `${name}.weight`, shape: [this.C], component }));
    if (spec.bias) ins.push(b.param({ name: `${name}.bias`, shape: [this.C], component }));
    const attrs = { eps: spec.eps, scale: spec.scale, bias: spec.bias };
    return spec.kind === 'layernorm' ? b.op('layernorm', ins, attrs) : b.op('rmsnorm', ins, attrs);
  }

  /**
   * BERT's masked-LM transform before the LM projection (head.transform): dense with bias, the
   * activation, then a norm with the last layer's settings (BERT: LayerNorm, eps 1e-12), all
   * counted as head parameters. The identity without one.
   */
  private transform(h: number): number {
    const { b, m, C } = this;
    const fn = m.head.transform;
    if (fn === null) return h;
    const layers = (m.arch === 'encoder' ? m.encoder : m.decoder)?.layers ?? [];
    const spec: NormSpec = layers[layers.length - 1]?.norm ?? { kind: 'layernorm', eps: 1e-5, scale: true, bias: true };
    b.scope = 'lm_head.transform';
    const y = b.op(fn, [this.linear('lm_head.transform', h, C, C, true, 'head')], {}, 'transform_act');
    return this.norm('lm_head.transform.norm', spec, y, 'head');
  }

  /** LM head + loss, and/or the pooler; the hidden states are an output when there is no LM head. */
  private head(h: number): void {
    const { b, m, C } = this;
    b.layer = null;
    b.scope = 'head';
    if (m.head.kind === 'lm') {
      const weight = m.embedding.tied ? this.tokens() : b.param({ name: 'lm_head.weight', shape: [m.vocab, C], component: 'head' });
      let x = this.transform(h);
      b.scope = 'head';
      // logit_scale (T5 tied: d_model^-0.5) scales what enters the bias-free projection, as HF does.
      if (m.head.logit_scale !== 1) x = b.op('scale', [x], { factor: m.head.logit_scale }, 'scaled'); // (B, T, C)
      const ins = [x, weight];
      if (m.head.bias) ins.push(b.param({ name: 'lm_head.bias', shape: [m.vocab], component: 'head' }));
      const logits = b.op('linear', ins, { bias: m.head.bias, activation: null }, 'logits'); // (B, T, V)
      const targets = b.input('targets', 'i32', ['B', 'T']);
      const aux = this.auxLosses;
      // With load-balancing losses the cross-entropy is one term; the sum keeps the name `loss`.
      // Padding rows of a vocab_multiple vocabulary are no classes: they never win and never enter the loss.
      const classes = m.vocab_raw < m.vocab ? { classes: m.vocab_raw } : {};
      let loss = b.op('softmax_xent', [logits, targets], classes, aux.length > 0 ? 'xent' : 'loss'); // ()
      if (aux.length > 0) {
        const auxSum = aux.slice(1).reduce((s, a) => b.op('add', [s, a], {}, 'aux_loss'), aux[0]!);
        loss = b.op('add', [loss, auxSum], {}, 'loss');
      }
      b.output(logits);
      b.output(loss);
    } else {
      b.output(h);
    }
    if (m.head.pooler) {
      b.scope = 'pooler';
      const first = b.op('take_first', [h], {}); // (B, C)
      b.output(b.op('tanh', [this.linear('pooler', first, C, C, true, 'head')], {}, 'pooled'));
    }
  }
}
