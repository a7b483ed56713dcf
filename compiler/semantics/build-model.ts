/**
 * Knob tree → ModelSpec: applies contextual defaults, resolves each stack layer by layer,
 * checks the architecture's constraints, and records every resolved value for `diff`.
 */
import type { Expr, ModelNode, TrainNode } from '../ast/nodes.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { Span } from '../diagnostics/span.js';
import { Access, argNum, KnobRecorder } from './access.js';
import { buildLayer, type LayerEnv, normFrom } from './build-layer.js';
import { buildTrain, type DataHost, tokenizerVocab } from './build-train.js';
import { type EvalContext, type Frame, fmtNum, frame } from './evaluate.js';
import type {
  Architecture,
  EmbeddingSpec,
  HeadSpec,
  LayerSpec,
  ModelSpec,
  NormSpec,
  Objective,
  Positions,
  ResolvedKnob,
  StackRole,
  StackSpec,
} from './model.js';
import { classifyLicense, isCustomLicenseRef, licenseSuggestion, type LicenseInfo } from './licenses.js';
import { modelSchema } from './schema.js';
import { selectLayers } from './selectors.js';
import { overlay, type Tree } from './tree.js';

export interface ModelInput {
  readonly node: ModelNode;
  readonly file: string;
  /** Model nodes from the farthest base to this one. */
  readonly chain: readonly ModelNode[];
  readonly tree: Tree;
  /** The train section for this model (its own or its nearest base's), already merged. */
  readonly train?: { readonly node: TrainNode; readonly tree: Tree; readonly file: string };
  readonly rejectedKeys?: ReadonlySet<string>;
}

export function buildModel(bag: DiagnosticBag, input: ModelInput, host: DataHost): ModelSpec {
  const trainTok = input.train ? trainTokenizer(input.train.tree) : undefined;
  const ctx: EvalContext = {
    bag,
    active: [],
    memo: new Map(),
    ...(input.rejectedKeys ? { rejectedKeys: input.rejectedKeys } : {}),
    tokenizerVocab: (span) =>
      tokenizerVocab(bag, span, input.node.name.name, input.train, trainTok, host, trainObjective(input.train?.tree, input.tree)),
  };
  const a = new Access(ctx);
  const rec = new KnobRecorder();
  const name = input.node.name;
  const lets = frame(input.tree.sections.get('let'), modelSchema.sections.let!, 'let', null, true);
  const top: Frame = frame(input.tree, modelSchema, 'model', lets);

  const arch = a.str<Architecture>(top, 'arch', 'decoder');
  rec.set('arch', 'model', arch.value, arch.span);
  const d = a.required(top, 'd_model', name.span);
  const ctxLen = a.required(top, 'context', name.span);
  const vocab = a.required(top, 'vocab', name.span);
  const positive = (g: { value: number; span?: Span | undefined } | undefined, knob: string, fallback: number) => {
    if (!g) return fallback;
    if (g.value < 1) {
      bag.report('MS2109', g.span, { knob, value: fmtNum(g.value) });
      return fallback;
    }
    return g.value;
  };
  const d_model = positive(d, 'd_model', 1);
  const context = positive(ctxLen, 'context', 1);
  const vocab_raw = positive(vocab, 'vocab', 1);
  const multiple = a.positive(top, 'vocab_multiple', 1);
  const padded = Math.ceil(vocab_raw / multiple.value) * multiple.value;
  warnDecimalK(bag, input.tree.knobs.get('context')?.expr);
  rec.set('d_model', 'model', d_model, d?.span);
  rec.set('context', 'model', context, ctxLen?.span);
  rec.set('vocab', 'model', vocab_raw, vocab?.span);
  if (multiple.span) rec.set('vocab_padded', 'model', padded, multiple.span);
  const license = buildLicense(a, top, input.tree, name.name, rec);
  const defaultBias = a.bool(top, 'bias', true).value;
  const defaultDropout = a.rate(top, 'dropout', 0).value;

  const embedding = buildEmbedding(a, top, input.tree, rec, context, defaultDropout);
  const head = buildHead(a, input.tree, top, rec);
  const envBase = {
    dimsKnown: d !== undefined && vocab !== undefined && ctxLen !== undefined,
    access: a,
    bag,
    arch: arch.value,
    d_model,
    context,
    positions: embedding.positions,
    defaultBias,
    defaultDropout,
    modelSpan: name.span,
  };

  let encoder: StackSpec | null = null;
  let decoder: StackSpec | null = null;
  if (arch.value === 'encoder_decoder') {
    encoder = buildStack({ ...envBase, role: 'encoder' }, top, input.tree, input.tree.sections.get('encoder'), rec);
    decoder = buildStack({ ...envBase, role: 'decoder' }, top, input.tree, input.tree.sections.get('decoder'), rec);
  } else {
    for (const s of ['encoder', 'decoder'] as const) {
      const t = input.tree.sections.get(s);
      const first = t && [...t.knobs.values(), ...[...t.sections.values()].flatMap((x) => [...x.knobs.values()])][0];
      if (first)
        bag.report(
          'MS2020',
          first.keySpan,
          { name: s, reason: `separate ${s} stacks need arch = encoder_decoder` },
          { hint: 'set arch = encoder_decoder, or move these knobs to the top-level block' },
        );
    }
    const stack = buildStack({ ...envBase, role: arch.value }, top, input.tree, undefined, rec);
    if (arch.value === 'encoder') encoder = stack;
    else decoder = stack;
  }

  const knobs = new Map<string, ResolvedKnob>(rec.map);
  const train = input.train ? buildTrain(bag, ctx, top, input.train, arch.value, decoder ?? encoder, head, context, knobs, trainTok) : null;
  return {
    name: name.name,
    file: input.file,
    span: name.span,
    lineage: input.chain
      .slice(0, -1)
      .map((m) => m.name.name)
      .reverse(),
    arch: arch.value,
    vocab: padded,
    vocab_raw,
    context,
    d_model,
    embedding,
    encoder,
    decoder,
    head,
    train,
    license,
    knobs,
  };
}

/**
 * The model's own `license` (null when it states none). A base's is not inherited, since an
 * architecture is not licensed weights (ModelSpec.license); an id outside the table is kept as
 * written and warned about (MS3004) unless it is SPDX's `LicenseRef-` form for custom licenses.
 */
function buildLicense(a: Access, top: Frame, tree: Tree, model: string, rec: KnobRecorder): LicenseInfo | null {
  const setting = tree.knobs.get('license');
  const own = setting?.model === model;
  const g = own ? a.str<string>(top, 'license', '') : undefined;
  const info = g?.span ? classifyLicense(g.value) : null;
  if (g?.span && info?.kind === 'unknown' && !isCustomLicenseRef(g.value))
    a.ctx.bag.report(
      'MS3004',
      setting && setting.expr !== true ? setting.expr.span : g.span,
      { id: g.value, suggestion: licenseSuggestion(g.value) },
      {
        hint: 'use an SPDX id ("Apache-2.0", "MIT", "CC-BY-NC-4.0"), a model license ("llama2", "gemma", "openrail") or "LicenseRef-<name>" for a custom one',
      },
    );
  rec.set('license', 'model', info?.id ?? null, g?.span);
  return info;
}

/** `context = 4k` is 4,000 tokens; people who write it usually mean 4,096. */
function warnDecimalK(bag: DiagnosticBag, e: Expr | true | undefined): void {
  if (!e || e === true || e.kind !== 'Number') return;
  const m = /^([0-9][0-9_]*)k$/i.exec(e.raw);
  if (!m) return;
  const n = Number(m[1]!.replace(/_/g, ''));
  const binary = n * 1024;
  if ((binary & (binary - 1)) === 0) bag.report('MS3001', e.span, { text: e.raw, value: e.value, binary, suggestion: `${n}Ki` });
}

/**
 * The objective as written (or defaulted from arch), read from the knob trees before they are
 * evaluated: `tokenizer.vocab` needs it (a masked LM's vocabulary counts its [MASK]) while
 * the model's own knobs are still being resolved.
 */
function trainObjective(train: Tree | undefined, model: Tree): Objective {
  const named = (t: Tree | undefined, k: string) => {
    const s = t?.knobs.get(k);
    return s && s.expr !== true && s.expr.kind === 'Name' ? s.expr.name : undefined;
  };
  const written = named(train, 'objective');
  if (written === 'causal_lm' || written === 'mlm' || written === 'seq2seq') return written;
  const arch = named(model, 'arch');
  return arch === 'encoder' ? 'mlm' : arch === 'encoder_decoder' ? 'seq2seq' : 'causal_lm';
}

function trainTokenizer(tree: Tree): string | undefined {
  const s = tree.knobs.get('tokenizer');
  if (!s) return 'char';
  return s.expr !== true && s.expr.kind === 'Name' ? s.expr.name : undefined;
}

function buildEmbedding(a: Access, top: Frame, tree: Tree, rec: KnobRecorder, context: number, dropout: number): EmbeddingSpec {
  const f = frame(tree.sections.get('embedding'), modelSchema.sections.embedding!, 'embedding', top);
  const pv = a.variant(f, 'positions');
  let positions: Positions = { kind: 'learned' };
  if (pv?.value) {
    const v = pv.value;
    if (v.name === 'rope') {
      const base = argNum(v, 'base', 10000);
      const fraction = argNum(v, 'fraction', 1);
      if (!(base > 0)) a.ctx.bag.report('MS2106', pv.span, { knob: 'rope base', value: fmtNum(base) });
      if (!(fraction > 0 && fraction <= 1))
        a.ctx.bag.report('MS2110', pv.span, { knob: 'rope fraction', range: '(0, 1]', value: fmtNum(fraction) });
      positions = { kind: 'rope', base, fraction };
    } else if (v.name === 'relative') {
      const buckets = argNum(v, 'buckets', 32);
      const max_distance = argNum(v, 'max_distance', 128);
      if (buckets < 2 || max_distance < 1)
        a.ctx.bag.report('MS2109', pv.span, { knob: 'relative buckets and max_distance', value: `${buckets}, ${max_distance}` });
      // T5's buckets: the first half of a direction's buckets are exact distances, the rest
      // logarithmic up to max_distance, so max_distance must lie beyond the exact ones (the
      // causal decoder has buckets/2 exact ones; Hugging Face divides by zero otherwise).
      else if (max_distance <= Math.floor(buckets / 2))
        a.ctx.bag.report(
          'MS2112',
          pv.span,
          {
            what: `relative(buckets: ${buckets}, max_distance: ${max_distance})`,
            needs: `max_distance > buckets / 2 (${Math.floor(buckets / 2)})`,
          },
          {
            hint: 'distances below buckets/2 get a bucket each and the rest share logarithmic buckets up to max_distance; T5 uses buckets 32, max_distance 128',
          },
        );
      positions = { kind: 'relative', buckets, max_distance };
    } else positions = { kind: v.name as 'learned' | 'sinusoidal' | 'alibi' | 'none' };
  }
  rec.set('embedding.positions', 'embedding', positionsText(positions), pv?.span);
  const tied = a.bool(f, 'tied', true);
  rec.set('embedding.tied', 'embedding', tied.value, tied.span);
  const segments = a.positive(f, 'segments', 0, true);
  rec.set('embedding.segments', 'embedding', segments.value, segments.span);
  const nv = a.variant(f, 'norm');
  const norm: NormSpec | null = nv?.value ? normFrom(a, nv.value, nv.span) : null;
  rec.set('embedding.norm', 'embedding', normText(norm), nv?.span);
  const drop = a.rate(f, 'dropout', dropout);
  rec.set('embedding.dropout', 'embedding', drop.value, drop.span);
  void context;
  return { positions, tied: tied.value, segments: segments.value, norm, dropout: drop.value };
}

function buildHead(a: Access, tree: Tree, top: Frame, rec: KnobRecorder): HeadSpec {
  const f = frame(tree.sections.get('head'), modelSchema.sections.head!, 'head', top);
  const kind = a.str<'lm' | 'none'>(f, 'kind', 'lm');
  const bias = a.bool(f, 'bias', false);
  const transform = a.str<NonNullable<HeadSpec['transform']> | 'none'>(f, 'transform', 'none');
  const pooler = a.bool(f, 'pooler', false);
  rec.set('head.kind', 'head', kind.value, kind.span);
  rec.set('head.bias', 'head', bias.value, bias.span);
  rec.set('head.transform', 'head', transform.value, transform.span);
  rec.set('head.pooler', 'head', pooler.value, pooler.span);
  if (kind.value === 'none' && bias.value && bias.span) a.ctx.bag.report('MS2112', bias.span, { what: 'head bias', needs: 'kind: lm' });
  // The transform feeds the LM projection: without one there is nothing for it to transform.
  if (kind.value === 'none' && transform.value !== 'none' && transform.span)
    a.ctx.bag.report('MS2112', transform.span, { what: 'head transform', needs: 'kind: lm' });
  const t = transform.value === 'none' || kind.value === 'none' ? null : transform.value;
  return {
    kind: kind.value,
    bias: bias.value,
    transform: t,
    pooler: pooler.value,
    logit_scale: logitScale(a, top, kind.value, bias.value, rec),
  };
}

/** Upper end of `logit_scale`: past it the logits of any trained head overflow the softmax's exp in f32. */
const LOGIT_SCALE_MAX = 1000;

/**
 * The model-level `logit_scale` (default 1), in (0, LOGIT_SCALE_MAX]. It scales the hidden
 * state entering the LM projection (lower.ts), which is scaling the logits only when the head
 * has no bias, so a biased head with a scale ≠ 1 is an error rather than a silent difference.
 */
function logitScale(a: Access, top: Frame, kind: 'lm' | 'none', bias: boolean, rec: KnobRecorder): number {
  const g = a.num(top, 'logit_scale', 1);
  rec.set('logit_scale', 'head', g.value, g.span);
  if (!g.span) return 1;
  if (!(g.value > 0 && g.value <= LOGIT_SCALE_MAX)) {
    a.ctx.bag.report(
      'MS2110',
      g.span,
      { knob: 'logit_scale', range: `(0, ${LOGIT_SCALE_MAX}]`, value: fmtNum(g.value) },
      { hint: 'the logits are multiplied by logit_scale: 1 leaves them as they are; T5 with a tied head uses 1 / sqrt(d_model)' },
    );
    return 1;
  }
  if (g.value !== 1 && kind === 'none') {
    a.ctx.bag.report('MS2112', g.span, { what: `logit_scale = ${fmtNum(g.value)}`, needs: 'an LM head (head kind: lm)' });
    return 1;
  }
  if (g.value !== 1 && bias) {
    a.ctx.bag.report(
      'MS2112',
      g.span,
      { what: `logit_scale = ${fmtNum(g.value)}`, needs: 'an LM head without a bias (head bias: false)' },
      { hint: 'mspec scales the hidden state entering the LM projection, which scales the logits only when the head adds no bias' },
    );
    return 1;
  }
  return g.value;
}

function buildStack(env: LayerEnv, top: Frame, tree: Tree, stackTree: Tree | undefined, rec: KnobRecorder): StackSpec {
  const a = env.access;
  const prefix = env.arch === 'encoder_decoder' ? `${env.role}.` : '';
  const stackSchema = modelSchema.sections[env.role]!;
  const sf = stackTree ? frame(stackTree, stackSchema, env.role, top) : top;
  let n: number;
  let nSpan: Span | undefined;
  if (stackTree?.knobs.has('layers')) {
    const g = a.positive(sf, 'layers', 1);
    n = g.value;
    nSpan = g.span;
  } else {
    const g = a.required(top, 'layers', env.modelSpan);
    n = g && g.value >= 1 ? g.value : 1;
    if (g && g.value < 1) env.bag.report('MS2109', g.span, { knob: 'layers', value: fmtNum(g.value) });
    nSpan = g?.span;
  }
  rec.set(`${prefix}layers`, 'model', n, nSpan);
  if (n > 4096) {
    env.bag.report('MS2110', nSpan, { knob: 'layers', range: '[1, 4096]', value: n });
    n = 1;
  }
  const base = overlay(tree.sections.get('block'), stackTree?.sections.get('block'));
  // `block[sel] { }` entries live in the tree that holds them (the model, or a stack section).
  const selected = [...tree.selected, ...(stackTree?.selected ?? [])];
  const picks = selected.map((s) => ({ s, set: selectLayers(a.ctx, top, s.selector, n) }));
  const layers: LayerSpec[] = [];
  const perLayer: KnobRecorder[] = [];
  for (let i = 0; i < n; i++) {
    let eff = overlay(base, undefined);
    for (const p of picks) if (p.set?.has(i)) eff = overlay(eff, p.s.tree);
    const r = new KnobRecorder();
    layers.push(buildLayer(env, sf, eff, i, r, base));
    perLayer.push(r);
  }
  collapseLayers(perLayer, `${prefix}`, rec);

  const fv = stackTree?.knobs.has('final_norm') ? a.variant(sf, 'final_norm') : a.variant(top, 'final_norm');
  let final_norm: NormSpec | null;
  if (fv) final_norm = fv.value ? normFrom(a, fv.value, fv.span) : null;
  else final_norm = layers[0]?.placement === 'pre' ? layers[0].norm : null;
  rec.set(`${prefix}final_norm`, 'block', normText(final_norm), fv?.span);
  return { role: env.role as StackRole, layers, final_norm };
}

/** Per-layer values → `block.x` when every layer agrees, else `layers[i].x` for each layer. */
function collapseLayers(perLayer: KnobRecorder[], prefix: string, rec: KnobRecorder): void {
  const paths = new Set(perLayer.flatMap((r) => [...r.map.keys()]));
  for (const p of paths) {
    const vals = perLayer.map((r) => r.map.get(p));
    const same = vals.every((v) => v !== undefined && JSON.stringify(v.value) === JSON.stringify(vals[0]!.value));
    if (same) {
      const withSpan = vals.find((v) => v?.span);
      rec.set(`${prefix}block.${p}`, vals[0]!.group, vals[0]!.value, withSpan?.span);
    } else {
      vals.forEach((v, i) => v && rec.set(`${prefix}layers[${i}].${p}`, v.group, v.value, v.span));
    }
  }
}

export function normText(n: NormSpec | null): string {
  if (!n) return 'none';
  return n.kind === 'layernorm' ? `layernorm(eps: ${fmtNum(n.eps)}, bias: ${n.bias})` : `rmsnorm(eps: ${fmtNum(n.eps)})`;
}

export function positionsText(p: Positions): string {
  if (p.kind === 'rope') return `rope(base: ${fmtNum(p.base)}, fraction: ${fmtNum(p.fraction)})`;
  if (p.kind === 'relative') return `relative(buckets: ${p.buckets}, max_distance: ${p.max_distance})`;
  return p.kind;
}
