/**
 * The analytic cost model, computed from the lowered graph (parameters by walking the
 * parameter table, FLOPs and saved activations by asking the op table about every node), so
 * that what is counted is exactly what is built.
 *
 * Conventions:
 *   - Parameters are unique and trainable: a tied weight is one parameter; buffers (RoPE
 *     frequencies, ALiBi slopes, sinusoids) are not parameters at all.
 *   - `active` counts what one token touches: of each MoE layer's routed experts only top_k
 *     of `experts` (all experts have equal size); router, shared experts and everything else
 *     in full, embeddings included (the published Mixtral "12.9B active" counts them).
 *   - `non_embedding` is total minus the token, position (learned absolute, or the T5
 *     relative-bias tables) and segment embedding tables (Kaplan et al. 2020). A tied LM head
 *     is the token table, so it is excluded too; an untied one is kept.
 *   - A "token" of an encoder–decoder model is one source plus one target position, both
 *     sequences at the full context (S = T = context).
 */
import type { Component, Graph, LayerRef, Node } from '../ir/graph.js';
import { opDef } from '../ir/ops.js';
import { bytesOf, type DimEnv, type TensorType } from '../ir/tensor.js';
import type { ModelSpec, StackRole } from '../semantics/model.js';

/** Parameters grouped the way `info` prints them: experts and router belong to `mlp`. */
export interface ComponentParams {
  readonly embeddings: number;
  readonly attention: number;
  readonly mlp: number;
  readonly norms: number;
  /** Untied LM head, its bias, the pooler. */
  readonly head: number;
}

export interface LayerAnalysis {
  readonly stack: StackRole;
  readonly index: number;
  readonly params: number;
  readonly active: number;
  readonly by_component: ComponentParams;
  /** Matmul-class forward FLOPs per token of this layer (attention at the full context). */
  readonly flops_forward: number;
}

export interface ByDType {
  readonly f16: number;
  readonly f32: number;
  readonly bf16: number;
}

export interface Analysis {
  readonly model: string;
  readonly params: {
    readonly total: number;
    readonly active: number;
    readonly non_embedding: number;
    readonly by_component: ComponentParams;
    /** Finer grouping, as tagged in the graph (`experts` and `router` apart from `mlp`). */
    readonly by_kind: Readonly<Record<Component, number>>;
    /** Parameters AdamW decays (matrices and tables). */
    readonly decayed: number;
    readonly per_layer: readonly LayerAnalysis[];
  };
  readonly flops_per_token: {
    /** matmul + attention: what the 6N-style estimates count. */
    readonly forward: number;
    readonly train: number;
    readonly matmul: number;
    readonly attention: number;
    /** Norms, activations, residual adds, softmax, biases: rough, reported apart. */
    readonly elementwise_forward: number;
    /** Work done once per sequence (the pooler), not per token. */
    readonly per_sequence_forward: number;
    readonly context: number;
    readonly formula: string;
  };
  /** Decoder self-attention only; 0 for encoder-only models, which do not decode. */
  readonly kv_cache_bytes_per_token: ByDType;
  /** The whole cache at the full context; a sliding-window layer keeps only `window` tokens. */
  readonly kv_cache_bytes_at_context: ByDType & { readonly context: number };
  /** Encoder–decoder: cross-attention K/V per source token (computed once per input). */
  readonly cross_kv_bytes_per_source_token: ByDType | null;
  readonly train_memory_bytes: {
    readonly batch: number;
    readonly seq: number;
    readonly weights: number;
    readonly gradients: number;
    readonly optimizer: number;
    readonly activations: number;
    readonly total: number;
  };
  readonly compute_optimal: {
    readonly tokens_per_param: number;
    /** Which parameter count the token budget is 20 × of: always the total (see `note`). */
    readonly params_basis: 'total';
    readonly tokens: number;
    readonly flops: number;
    readonly source: string;
    /** For a mixture of experts: why total and not active parameters. */
    readonly note: string | null;
  };
}

export interface AnalyzeOptions {
  readonly batch?: number;
  readonly seq?: number;
}

const F32 = 4;
const TOKENS_PER_PARAM = 20;

export const FLOPS_FORMULA =
  'forward = Σ over linears of 2·in·out (MoE: top_k of the routed experts; router and shared experts always) ' +
  '+ Σ over attention layers of 2·2·heads·head_dim·min(context, window) (QKᵀ and AV at the full context, no causal discount); ' +
  'train = 3 × forward (≈ 6N + 12·L·T·d_attn, Kaplan et al. 2020); ' +
  'elementwise ops (norms, activations, softmax, residual adds) are in elementwise_forward, not in forward';

const sizeOf = (shape: readonly number[]) => shape.reduce((n, d) => n * d, 1);
const byDType = (elements: number): ByDType => ({ f16: 2 * elements, f32: 4 * elements, bf16: 2 * elements });

function group(c: Component): keyof ComponentParams {
  return c === 'experts' || c === 'router' ? 'mlp' : c;
}

function emptyComponents(): Record<keyof ComponentParams, number> {
  return { embeddings: 0, attention: 0, mlp: 0, norms: 0, head: 0 };
}

/** What a compact lowering stands for (lower.ts, `compactExperts`); empty maps for a full graph. */
export interface Multiplicity {
  /** Value id → how many identical values it stands for (shared experts; routed ones are stacked parameters). */
  readonly copies: ReadonlyMap<number, number>;
  /** Lowered layer `stack.index` → how many identical layers it stands for. */
  readonly layerCopies: ReadonlyMap<string, number>;
  /** Every layer `stack.index` → the lowered layer that stands for it. */
  readonly layerRep: ReadonlyMap<string, string>;
}

const FULL: Multiplicity = { copies: new Map(), layerCopies: new Map(), layerRep: new Map() };

/** How many times a value or node counts: its own copies times its layer's. */
class Counts {
  constructor(private readonly m: Multiplicity) {}
  layer(l: { stack: StackRole; index: number } | null): number {
    return l ? (this.m.layerCopies.get(`${l.stack}.${l.index}`) ?? 1) : 1;
  }
  value(v: number): number {
    return this.m.copies.get(v) ?? 1;
  }
}

/**
 * `multiplicity` comes from `lower(model, { compactExperts: true })`: a parameter or op that
 * stands for several identical ones (experts, layers) counts that many times.
 */
export function analyze(model: ModelSpec, graph: Graph, opts: AnalyzeOptions = {}, multiplicity: Multiplicity = FULL): Analysis {
  const counts = new Counts(multiplicity);
  const params = countParams(graph, counts);
  const flops = countFlops(graph, model.context, counts);
  const kv = kvCache(graph, model.context, counts);
  const batch = opts.batch ?? model.train?.batch ?? 1;
  const seq = opts.seq ?? model.train?.seq_len ?? model.context;
  const weights = params.total * F32;
  const activations = savedBytes(graph, { B: batch, T: seq, S: seq }, counts);
  const tokens = TOKENS_PER_PARAM * params.total;

  const lowered = params.perLayer.map((l) => ({ ...l, flops_forward: flops.perLayer.get(`${l.stack}.${l.index}`) ?? 0 }));
  // Every layer of the model, each a copy of the lowered layer that stands for it.
  const byKey = new Map(lowered.map((l) => [`${l.stack}.${l.index}`, l]));
  const perLayer =
    multiplicity.layerRep.size === 0
      ? lowered
      : [...multiplicity.layerRep].map(([k, rep]) => ({ ...byKey.get(rep)!, index: Number(k.slice(k.indexOf('.') + 1)) }));
  return {
    model: model.name,
    params: {
      total: params.total,
      active: params.active,
      non_embedding: params.nonEmbedding,
      by_component: params.byComponent,
      by_kind: params.byKind,
      decayed: params.decayed,
      per_layer: perLayer,
    },
    flops_per_token: {
      forward: flops.matmul + flops.attention,
      train: 3 * (flops.matmul + flops.attention),
      matmul: flops.matmul,
      attention: flops.attention,
      elementwise_forward: flops.elementwise,
      per_sequence_forward: flops.perSequence,
      context: model.context,
      formula: FLOPS_FORMULA,
    },
    kv_cache_bytes_per_token: byDType(kv.perToken),
    kv_cache_bytes_at_context: { context: model.context, ...byDType(kv.atContext) },
    cross_kv_bytes_per_source_token: model.arch === 'encoder_decoder' ? byDType(kv.crossPerSource) : null,
    train_memory_bytes: {
      batch,
      seq,
      weights,
      gradients: weights,
      optimizer: 2 * weights, // AdamW: first and second moments, f32
      activations,
      total: 4 * weights + activations,
    },
    compute_optimal: {
      tokens_per_param: TOKENS_PER_PARAM,
      params_basis: 'total',
      tokens,
      flops: 3 * (flops.matmul + flops.attention) * tokens,
      source: 'Hoffmann et al. 2022 (Chinchilla): about 20 training tokens per parameter',
      note:
        params.active === params.total
          ? null
          : `mixture of experts: tokens = 20 × total parameters (every expert is trained and needs data; Chinchilla fitted dense models, so this is a rough guide); ` +
            `FLOPs = train FLOPs per token (active experts only) × tokens; 20 × active parameters would be ${(TOKENS_PER_PARAM * params.active).toLocaleString('en-US')} tokens`,
    },
  };
}

// ── parameters ──────────────────────────────────────────────────────────────────

interface LayerTally {
  stack: StackRole;
  index: number;
  params: number;
  active: number;
  by_component: Record<keyof ComponentParams, number>;
}

function countParams(g: Graph, counts: Counts) {
  // `size` is one layer's worth; `inModel` counts it once per identical layer.
  const size = (p: { value: number; shape: readonly number[] }) => sizeOf(p.shape) * counts.value(p.value);
  const inModel = (p: { value: number; shape: readonly number[]; layer: LayerRef | null }) => size(p) * counts.layer(p.layer);
  const byKind: Record<Component, number> = { embeddings: 0, attention: 0, mlp: 0, experts: 0, router: 0, norms: 0, head: 0 };
  const byComponent = emptyComponents();
  const layers = new Map<string, LayerTally>();
  const key = (stack: StackRole, index: number) => `${stack}.${index}`;
  let total = 0;
  let embeddingTables = 0;
  let decayed = 0;
  for (const p of g.params) {
    const one = size(p);
    const n = inModel(p);
    total += n;
    byKind[p.component] += n;
    byComponent[group(p.component)] += n;
    if (p.role) embeddingTables += n;
    if (p.decay) decayed += n;
    if (!p.layer) continue;
    const k = key(p.layer.stack, p.layer.index);
    let l = layers.get(k);
    if (!l) {
      l = { stack: p.layer.stack, index: p.layer.index, params: 0, active: 0, by_component: emptyComponents() };
      layers.set(k, l);
    }
    l.params += one;
    l.by_component[group(p.component)] += one;
    if (!p.expert) l.active += one;
  }

  // Routed experts: each expert_linear reads stacked weights (E, out, in) (and biases (E, out))
  // of which k experts' slices run per token.
  const paramSize = new Map(g.params.map((p) => [p.value, size(p)]));
  let expertActive = 0;
  for (const n of g.nodes) {
    if (n.op !== 'expert_linear') continue;
    const all = n.inputs.slice(2).reduce((s, v) => s + (paramSize.get(v) ?? 0), 0);
    const active = (all / n.attrs.experts) * n.attrs.top_k; // exact: all is E × one expert
    expertActive += active * counts.layer(n.layer);
    if (n.layer) layers.get(key(n.layer.stack, n.layer.index))!.active += active;
  }
  const expertTotal = g.params.filter((p) => p.expert).reduce((s, p) => s + inModel(p), 0);
  return {
    total,
    active: total - expertTotal + expertActive,
    nonEmbedding: total - embeddingTables,
    byComponent: byComponent as ComponentParams,
    byKind,
    decayed,
    perLayer: [...layers.values()],
  };
}

// ── FLOPs ───────────────────────────────────────────────────────────────────────

function inputTypes(g: Graph, n: Node): TensorType[] {
  return n.inputs.map((v) => g.values[v]!.type);
}

/** Per-token forward FLOPs: every op evaluated with one row per token and keys at the full context. */
function countFlops(g: Graph, context: number, counts: Counts) {
  const env: DimEnv = { B: 1, T: context, S: context };
  const out = { matmul: 0, attention: 0, elementwise: 0, perSequence: 0, perLayer: new Map<string, number>() };
  for (const n of g.nodes) {
    const def = opDef(n.op);
    const c = counts.value(n.output);
    const L = counts.layer(n.layer);
    const one = def.flops(inputTypes(g, n), n.attrs, env);
    const f = { rows: one.rows, mm: c * L * one.mm, ew: c * L * one.ew };
    // Token-wise ops repeat over T (or S); the rest (the pooler) runs once per sequence.
    if (!f.rows.includes('T') && !f.rows.includes('S')) {
      out.perSequence += f.mm;
      continue;
    }
    out.elementwise += f.ew;
    if (def.cls === 'attention') out.attention += f.mm;
    else out.matmul += f.mm;
    if (n.layer && f.mm > 0) {
      const k = `${n.layer.stack}.${n.layer.index}`;
      out.perLayer.set(k, (out.perLayer.get(k) ?? 0) + f.mm / L);
    }
  }
  return out;
}

// ── KV cache ────────────────────────────────────────────────────────────────────

/** Elements of K and V per token, summed over decoder attention layers. */
function kvCache(g: Graph, context: number, counts: Counts) {
  let perToken = 0;
  let atContext = 0;
  let crossPerSource = 0;
  for (const n of g.nodes) {
    if (n.op !== 'attention' || n.layer?.stack !== 'decoder') continue;
    const { kv_heads, head_dim, window, cross } = n.attrs;
    const elements = 2 * kv_heads * head_dim * counts.layer(n.layer);
    if (cross) {
      crossPerSource += elements;
    } else {
      perToken += elements;
      atContext += elements * (window === null ? context : Math.min(context, window));
    }
  }
  return { perToken, atContext, crossPerSource };
}

// ── activations ─────────────────────────────────────────────────────────────────

/** Bytes of every tensor some op saves for the backward (each value once) plus op scratch. */
function savedBytes(g: Graph, env: DimEnv, counts: Counts): number {
  const params = new Set(g.params.map((p) => p.value));
  const producer = new Map(g.nodes.map((n) => [n.output, n.layer]));
  const kept = new Set<number>();
  let scratch = 0;
  for (const n of g.nodes) {
    const s = opDef(n.op).saved(inputTypes(g, n), n.attrs);
    for (const i of s.inputs) if (!params.has(n.inputs[i]!)) kept.add(n.inputs[i]!);
    if (s.output) kept.add(n.output);
    for (const t of s.extra) scratch += counts.value(n.output) * counts.layer(n.layer) * bytesOf(t, env);
  }
  let bytes = scratch;
  // A value that stands for several (compact lowering: experts, identical layers) is kept once per copy.
  for (const v of kept) bytes += counts.value(v) * counts.layer(producer.get(v) ?? null) * bytesOf(g.values[v]!.type, env);
  return bytes;
}

// ── JSON ────────────────────────────────────────────────────────────────────────

/** The analysis as a plain JSON-able object, in a stable key order (`info --json`, `diff`). */
export function toJson(a: Analysis): Record<string, unknown> {
  return {
    model: a.model,
    params: {
      total: a.params.total,
      active: a.params.active,
      non_embedding: a.params.non_embedding,
      by_component: { ...a.params.by_component },
      by_kind: { ...a.params.by_kind },
      decayed: a.params.decayed,
      per_layer: a.params.per_layer.map((l) => ({ ...l, by_component: { ...l.by_component } })),
    },
    flops_per_token: { ...a.flops_per_token },
    kv_cache_bytes_per_token: { ...a.kv_cache_bytes_per_token },
    kv_cache_bytes_at_context: { ...a.kv_cache_bytes_at_context },
    cross_kv_bytes_per_source_token: a.cross_kv_bytes_per_source_token && { ...a.cross_kv_bytes_per_source_token },
    train_memory_bytes: { ...a.train_memory_bytes },
    compute_optimal: { ...a.compute_optimal },
  };
}

// ── exactness ───────────────────────────────────────────────────────────────────

/**
 * The counts that must be exact integers, with their values, when one is not: beyond 2^53 a
 * double no longer holds every integer. Each knob has a range (schema.ts), but products of
 * in-range knobs can still pass 2^53 (1,024 layers × 4,096 experts × 2^17 × 2^20), so the
 * totals are checked here. (Compute-optimal FLOPs are a float estimate and are left out.)
 */
export function inexactCounts(a: Analysis): { what: string; value: number; hint: string }[] {
  const sizes = 'every knob is in its range but their product is not; make d_model, hidden, layers, experts or vocab smaller';
  const counts: [string, number, string][] = [
    ['the total parameter count', a.params.total, sizes],
    ['the train FLOPs per token', a.flops_per_token.train, `${sizes}, or context`],
    ['the elementwise FLOPs per token', a.flops_per_token.elementwise_forward, `${sizes}, or context`],
    [
      'the KV cache at full context (f32 bytes)',
      a.kv_cache_bytes_at_context.f32,
      'make context, layers, kv_heads or head_dim smaller, or use a sliding window',
    ],
    [
      'the training memory (bytes)',
      a.train_memory_bytes.total,
      "use a smaller --batch or --seq (or the train section's batch and seq_len), or a smaller model",
    ],
    ['the compute-optimal token count', a.compute_optimal.tokens, sizes],
  ];
  return counts.filter(([, v]) => !Number.isSafeInteger(v)).map(([what, value, hint]) => ({ what, value, hint }));
}
