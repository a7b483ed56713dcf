/**
 * A resolved model as a small graph of named parts (the picture `mspec graph` draws): the
 * embedding, one cluster per distinct block of each stack (identical layers are drawn once
 * and labelled ×N), the final norm and the head. Nodes carry their text and the `parts` they
 * stand for (`decoder.attention`, `head`, …), which `diff --svg` uses to colour what changed.
 * Layout is left to Graphviz (render.ts): nothing here knows a coordinate.
 */
import type { Analysis, LayerAnalysis } from '../../passes/analyze.js';
import {
  type Activation,
  type AttentionSpec,
  GATED,
  type LayerSpec,
  type ModelSpec,
  type NormSpec,
  type Positions,
  type StackRole,
  type StackSpec,
} from '../../semantics/model.js';
import { exact, short } from '../units.js';

export type NodeKind = 'io' | 'embed' | 'norm' | 'attention' | 'mlp' | 'router' | 'experts' | 'add' | 'head' | 'point';

export interface GNode {
  readonly id: string;
  readonly kind: NodeKind;
  readonly lines: readonly string[];
  readonly cluster: string | null;
  readonly parts: readonly string[];
}

export interface GEdge {
  readonly from: string;
  readonly to: string;
  readonly label?: string;
  readonly style?: 'residual' | 'tied' | 'kv';
}

export interface GCluster {
  readonly id: string;
  readonly label: string;
  readonly parent: string | null;
  readonly kind: 'stack' | 'block' | 'moe';
  readonly parts: readonly string[];
}

export interface ArchGraph {
  readonly title: string;
  readonly nodes: GNode[];
  readonly edges: GEdge[];
  readonly clusters: GCluster[];
}

const ACTIVATION: Record<Activation, string> = {
  gelu: 'GELU',
  gelu_tanh: 'GELU (tanh)',
  relu: 'ReLU',
  silu: 'SiLU',
  swiglu: 'SwiGLU',
  geglu: 'GeGLU',
  geglu_tanh: 'GeGLU (tanh)',
  reglu: 'ReGLU',
};
const params = (n: number) => `${short(n)} params`;
const normName = (n: NormSpec) => (n.kind === 'layernorm' ? 'LayerNorm' : 'RMSNorm');
const normParams = (n: NormSpec, d: number) => d * ((n.scale ? 1 : 0) + (n.bias ? 1 : 0));

/** MHA / GQA / MQA in words: "GQA 32 q / 8 kv". */
export function headsLabel(a: AttentionSpec): string {
  if (a.kv_heads === a.heads) return `MHA ${a.heads} heads`;
  return `${a.kv_heads === 1 ? 'MQA' : 'GQA'} ${a.heads} q / ${a.kv_heads} kv`;
}

function positionsLine(p: Positions): string | null {
  switch (p.kind) {
    case 'rope':
      return `RoPE on q, k (base ${exact(p.base)}${p.fraction !== 1 ? `, ${p.fraction} of head_dim` : ''})`;
    case 'alibi':
      return 'ALiBi bias on scores';
    case 'relative':
      return `relative position bias (${p.buckets} buckets, max distance ${p.max_distance})`;
    default:
      return null;
  }
}

function attentionParams(a: AttentionSpec, d: number): number {
  const qkv = (a.heads + 2 * a.kv_heads) * a.head_dim;
  return d * qkv + a.heads * a.head_dim * d + (a.bias ? qkv + d : 0);
}

/** Layers that draw the same (every knob but the index equal), in order of first appearance. */
export function layerGroups(stack: StackSpec): LayerSpec[][] {
  const groups = new Map<string, LayerSpec[]>();
  for (const l of stack.layers) {
    const key = JSON.stringify({ ...l, index: 0 });
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  return [...groups.values()];
}

/** "0–5", "0, 2, 4": the layer indices a block stands for. */
export function ranges(ix: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ix.length; ) {
    let j = i;
    while (j + 1 < ix.length && ix[j + 1] === ix[j]! + 1) j++;
    out.push(j > i + 1 ? `${ix[i]}–${ix[j]}` : j === i + 1 ? `${ix[i]}, ${ix[j]}` : `${ix[i]}`);
    i = j + 1;
  }
  return out.join(', ');
}

class Builder {
  readonly g: ArchGraph;
  constructor(
    title: string,
    readonly prefix: string,
  ) {
    this.g = { title, nodes: [], edges: [], clusters: [] };
  }
  node(id: string, kind: NodeKind, lines: (string | null | false)[], cluster: string | null, parts: string[] = []): string {
    const full = this.prefix + id;
    // d_model (part `model`) changes every part that has parameters.
    const all = kind === 'io' || kind === 'point' || kind === 'add' ? parts : [...parts, 'model'];
    this.g.nodes.push({ id: full, kind, lines: lines.filter((l): l is string => typeof l === 'string'), cluster, parts: all });
    return full;
  }
  cluster(id: string, label: string, parent: string | null, kind: GCluster['kind'], parts: string[] = []): string {
    const full = this.prefix + id;
    this.g.clusters.push({ id: full, label, parent, kind, parts });
    return full;
  }
  edge(from: string, to: string, label?: string, style?: GEdge['style']): void {
    this.g.edges.push({ from, to, ...(label ? { label } : {}), ...(style ? { style } : {}) });
  }
}

export interface ArchGraphOptions {
  /** Prefixed to every id (two models in one picture). */
  readonly prefix?: string;
}

export function archGraph(m: ModelSpec, a: Analysis, opts: ArchGraphOptions = {}): ArchGraph {
  const b = new Builder(m.name, opts.prefix ?? '');
  const d = m.d_model;
  const shape = (seq: string, width: number | string = d) => `[B, ${seq}, ${width}]`;
  const encDec = m.arch === 'encoder_decoder';
  const pos = m.embedding.positions;

  // ── embedding ──
  const emb = m.embedding;
  const addsPositions = pos.kind === 'learned' || pos.kind === 'sinusoidal';
  const embLines = [
    `token embedding ${exact(m.vocab)} × ${d}`,
    params(m.vocab * d),
    addsPositions &&
      (pos.kind === 'learned'
        ? `+ learned positions ${exact(m.context)} × ${d} (${params(m.context * d)})`
        : '+ sinusoidal positions (no params)'),
    !addsPositions &&
      (pos.kind === 'none'
        ? 'no positions'
        : `positions: ${pos.kind === 'rope' ? 'RoPE' : pos.kind === 'alibi' ? 'ALiBi' : 'relative bias'} (in attention)`),
    emb.segments > 0 && `+ ${emb.segments} segment embeddings (${params(emb.segments * d)})`,
    emb.norm && `${normName(emb.norm)} on the sum`,
    encDec && 'shared by encoder, decoder and head',
  ];
  const embed = b.node('embed', 'embed', embLines, null, ['embedding', 'positions', ...(pos.kind === 'learned' ? ['context'] : [])]);
  const stackIn = new Map<StackRole, { from: string; seq: string }>();
  if (encDec) {
    const src = b.node('src', 'io', ['source tokens', '[B, S]'], null);
    const tgt = b.node('tgt', 'io', ['target tokens', '[B, T]'], null);
    b.edge(src, embed);
    b.edge(tgt, embed);
    stackIn.set('encoder', { from: embed, seq: 'S' });
    stackIn.set('decoder', { from: embed, seq: 'T' });
  } else {
    const tok = b.node('tokens', 'io', ['tokens', '[B, T]'], null);
    b.edge(tok, embed);
    stackIn.set(m.arch === 'encoder' ? 'encoder' : 'decoder', { from: embed, seq: 'T' });
  }

  // ── stacks ──
  const perLayer = new Map(a.params.per_layer.map((l) => [`${l.stack}.${l.index}`, l]));
  let encoderOut: string | null = null;
  let last = '';
  for (const stack of [m.encoder, m.decoder]) {
    if (!stack) continue;
    const role = stack.role;
    const { from, seq } = stackIn.get(role)!;
    const n = stack.layers.length;
    const groups = layerGroups(stack);
    const sc = b.cluster(`${role}`, `${role} stack: ${n} layers`, null, 'stack', [`${role}.repeat`]);
    let prev = from;
    groups.forEach((layers, gi) => {
      const ix = layers.map((l) => l.index);
      const label = groups.length === 1 ? `${role} block ×${n}` : `${role} block, layers ${ranges(ix)} (×${layers.length} of ${n})`;
      const out = drawBlock(b, m, layers[0]!, perLayer.get(`${role}.${layers[0]!.index}`), {
        id: `${role}${gi}_`,
        cluster: b.cluster(`${role}${gi}`, label, sc, 'block', [`${role}.block`]),
        input: prev,
        inLabel: shape(seq),
        seq,
        encoderOut,
      });
      prev = out;
    });
    if (stack.final_norm) {
      const fn = b.node(
        `${role}_final_norm`,
        'norm',
        [`final ${normName(stack.final_norm)}`, params(normParams(stack.final_norm, d))],
        sc,
        [`${role}.final_norm`],
      );
      b.edge(prev, fn, shape(seq));
      prev = fn;
    }
    if (role === 'encoder' && encDec) {
      encoderOut = b.node('encoder_out', 'io', ['encoder output', shape('S')], null);
      b.edge(prev, encoderOut, shape('S'));
      // Cross-attention nodes were drawn before the encoder's output existed: connect them now.
    }
    last = prev;
  }
  if (encoderOut)
    for (const n of b.g.nodes.filter((x) => x.kind === 'attention' && x.id.includes('cross')))
      b.edge(encoderOut, n.id, `K, V from ${shape('S')}`, 'kv');

  // ── head ──
  const h = m.head;
  const seq = 'T';
  if (h.kind === 'lm') {
    let into = last;
    if (h.transform) {
      const t = b.node(
        'head_transform',
        'mlp',
        [
          `MLM transform: dense ${d} → ${d} + ${ACTIVATION[h.transform]} + ${normName(allNorm(m))}`,
          params(d * d + d + normParams(allNorm(m), d)),
        ],
        null,
        ['head'],
      );
      b.edge(into, t, shape(seq));
      into = t;
    }
    const lines = [
      `LM head ${d} → ${exact(m.vocab)}`,
      emb.tied ? `tied to the token embedding${h.bias ? ' (+ bias)' : ''}` : 'untied',
      a.params.by_component.head > 0 && params(a.params.by_component.head),
      h.logit_scale !== 1 && `input × ${+h.logit_scale.toPrecision(4)}`,
    ];
    const head = b.node('head', 'head', lines, null, ['head']);
    b.edge(into, head, shape(seq));
    const logits = b.node('logits', 'io', ['logits', `[B, ${seq}, ${m.vocab}]`], null);
    b.edge(head, logits);
  } else {
    const out = b.node('hidden', 'io', ['hidden states', shape(seq)], null);
    b.edge(last, out, shape(seq));
    if (h.pooler) {
      const p = b.node('pooler', 'head', [`pooler: first token, dense ${d} → ${d} + tanh`, params(d * d + d)], null, ['head']);
      b.edge(last, p, shape(seq));
      const po = b.node('pooled', 'io', ['pooled', `[B, ${d}]`], null);
      b.edge(p, po);
    }
  }
  return b.g;
}

function allNorm(m: ModelSpec): NormSpec {
  return (m.encoder ?? m.decoder)!.layers[0]!.norm;
}

interface BlockCtx {
  id: string;
  cluster: string;
  input: string;
  inLabel: string;
  seq: string;
  encoderOut: string | null;
}

/** One block drawn in full; returns the node its output leaves from. */
function drawBlock(b: Builder, m: ModelSpec, l: LayerSpec, la: LayerAnalysis | undefined, c: BlockCtx): string {
  const d = m.d_model;
  const role = c.id.startsWith('encoder') ? 'encoder' : 'decoder';
  const at = (id: string) => c.id + id;
  const pre = l.placement === 'pre';
  const norm = (id: string, what: string) =>
    b.node(at(id), 'norm', [`${normName(l.norm)} (${l.placement}${what ? `, ${what}` : ''})`, params(normParams(l.norm, d))], c.cluster, [
      `${role}.norm`,
    ]);
  const add = (id: string) => b.node(at(id), 'add', ['+'], c.cluster, [`${role}.block`]);
  const x = `[B, ${c.seq}, ${d}]`;

  const crossP = l.cross_attention ? attentionParams(l.cross_attention, d) : 0;
  const selfP = la ? la.by_component.attention - crossP : attentionParams(l.attention, d);
  const attn = attentionNode(b, m, l.attention, at('attn'), c.cluster, selfP, false, role);
  const mlp = mlpNodes(b, m, l, at('mlp'), c.cluster, la, role);

  const entry = b.node(at('in'), 'point', [], c.cluster);
  b.edge(c.input, entry, c.inLabel);

  if (l.parallel) {
    const sum = add('sum');
    if (pre) {
      if (l.shared_norm) {
        const n = norm('norm', 'shared');
        b.edge(entry, n, x);
        b.edge(n, attn, x);
        b.edge(n, mlp.in, x);
      } else {
        const n1 = norm('norm1', 'attention');
        const n2 = norm('norm2', 'MLP');
        b.edge(entry, n1, x);
        b.edge(entry, n2, x);
        b.edge(n1, attn, x);
        b.edge(n2, mlp.in, x);
      }
    } else {
      b.edge(entry, attn, x);
      b.edge(entry, mlp.in, x);
    }
    b.edge(attn, sum, x);
    b.edge(mlp.out, sum, x);
    b.edge(entry, sum, 'residual', 'residual');
    if (pre) return sum;
    const n = norm('norm', '');
    b.edge(sum, n, x);
    return n;
  }

  // Sequential: attention, (cross-attention), MLP; each a residual branch.
  const branches: { id: string; input: string; output: string }[] = [{ id: 'attn', input: attn, output: attn }];
  if (l.cross_attention) {
    const cross = attentionNode(b, m, l.cross_attention, at('cross'), c.cluster, crossP, true, role);
    branches.push({ id: 'cross', input: cross, output: cross });
  }
  branches.push({ id: 'mlp', input: mlp.in, output: mlp.out });
  let stream = entry;
  branches.forEach((br, i) => {
    const sum = add(`add${i + 1}`);
    if (pre) {
      const n = norm(`norm${i + 1}`, '');
      b.edge(stream, n, x);
      b.edge(n, br.input, x);
    } else {
      b.edge(stream, br.input, x);
    }
    b.edge(br.output, sum, x);
    b.edge(stream, sum, 'residual', 'residual');
    stream = sum;
    if (!pre) {
      const n = norm(`norm${i + 1}`, '');
      b.edge(sum, n, x);
      stream = n;
    }
  });
  return stream;
}

function attentionNode(
  b: Builder,
  m: ModelSpec,
  a: AttentionSpec,
  id: string,
  cluster: string,
  p: number,
  cross: boolean,
  role: StackRole,
): string {
  const lines = [
    cross ? 'cross-attention (over the encoder)' : `self-attention (${a.causal ? 'causal' : 'bidirectional'})`,
    `${headsLabel(a)} · head_dim ${a.head_dim}`,
    `q ${a.heads}×${a.head_dim} · k, v ${a.kv_heads}×${a.head_dim}${a.bias ? ' · bias' : ''}`,
    a.window !== null && `sliding window ${exact(a.window)}`,
    !cross && positionsLine(m.embedding.positions),
    !a.scaled && 'unscaled scores (no 1/√d)',
    params(p),
  ];
  return b.node(id, 'attention', lines, cluster, cross ? ['decoder.cross'] : [`${role}.attention`, 'positions']);
}

function mlpNodes(
  b: Builder,
  m: ModelSpec,
  l: LayerSpec,
  id: string,
  cluster: string,
  la: LayerAnalysis | undefined,
  role: StackRole,
): { in: string; out: string } {
  const d = m.d_model;
  const { activation, hidden } = l.mlp;
  const gated = GATED.has(activation);
  const act = `${ACTIVATION[activation]}${gated ? ', gated' : ''}`;
  const shapeLine = `${exact(d)} → ${gated ? '2×' : ''}${exact(hidden)} → ${exact(d)}${l.mlp.bias ? ' · bias' : ''}`;
  const total = la?.by_component.mlp;
  if (!l.moe) {
    const n = b.node(id, 'mlp', [`MLP · ${act}`, shapeLine, total !== undefined && params(total)], cluster, [`${role}.mlp`]);
    return { in: n, out: n };
  }
  const e = l.moe;
  const moe = b.cluster(id, `mixture of experts: top-${e.top_k} of ${e.experts} experts`, cluster, 'moe', [`${role}.mlp`]);
  const routerP = d * e.experts + (e.router_bias ? e.experts : 0);
  const router = b.node(
    `${id}_router`,
    'router',
    [
      `router ${d} → ${e.experts}, softmax`,
      `top-${e.top_k} of ${e.experts} experts${e.renormalize ? ', renormalised' : ''}`,
      e.aux_loss > 0 && `load-balancing loss × ${e.aux_loss}`,
      params(routerP),
    ],
    moe,
    [`${role}.mlp`],
  );
  const expertP = total !== undefined ? (total - routerP) / (e.experts + e.shared_experts) : undefined;
  const experts = b.node(
    `${id}_experts`,
    'experts',
    [
      `${e.experts} experts · MLP ${act}`,
      shapeLine,
      expertP !== undefined && `${params(expertP * e.experts)} (${short(expertP)} each)`,
      la ? `active per token: ${short(la.active)} of ${short(la.params)} in this layer` : null,
    ],
    moe,
    [`${role}.mlp`],
  );
  const combine = b.node(`${id}_sum`, 'add', ['Σ weighted'], moe, [`${role}.mlp`]);
  const split = b.node(`${id}_in`, 'point', [], moe);
  b.edge(split, router);
  b.edge(split, experts, `[B·T, ${d}]`);
  b.edge(router, experts, `top-${e.top_k} ids, weights`);
  b.edge(experts, combine, `top-${e.top_k} outputs`);
  if (e.shared_experts > 0) {
    const shared = b.node(
      `${id}_shared`,
      'experts',
      [
        `${e.shared_experts} shared expert${e.shared_experts > 1 ? 's' : ''} (every token)`,
        shapeLine,
        expertP !== undefined && params(expertP * e.shared_experts),
      ],
      moe,
      [`${role}.mlp`],
    );
    b.edge(split, shared);
    b.edge(shared, combine);
  }
  return { in: split, out: combine };
}
