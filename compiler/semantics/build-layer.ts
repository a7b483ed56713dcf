/**
 * One layer of a stack, resolved: the base `block` trees overlaid with every
 * `block[selector]` that picks this layer, evaluated with the layer's own frames (so a
 * selector that changes `heads` also changes a `head_dim` expression that uses it).
 */
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { Span } from '../diagnostics/span.js';
import { Access, argBool, argNum, KnobRecorder } from './access.js';
import { type Frame, fmtNum, frame, type VariantValue } from './evaluate.js';
import type { Activation, AttentionSpec, LayerSpec, MlpSpec, MoeSpec, NormSpec, Positions, StackRole } from './model.js';
import { modelSchema, type SectionDef } from './schema.js';
import type { Tree } from './tree.js';

const blockSchema = modelSchema.sections.block!;
const section = (name: string): SectionDef => blockSchema.sections[name]!;

export interface LayerEnv {
  /** False when d_model, context or vocab failed to resolve: skip checks that would only echo that. */
  readonly dimsKnown: boolean;
  readonly access: Access;
  readonly bag: DiagnosticBag;
  readonly role: StackRole;
  readonly arch: 'decoder' | 'encoder' | 'encoder_decoder';
  readonly d_model: number;
  readonly context: number;
  readonly positions: Positions;
  readonly defaultBias: boolean;
  readonly defaultDropout: number;
  /** Where the model's name is: for "missing knob" errors with no better place. */
  readonly modelSpan: Span;
}

export function normFrom(access: Access, v: VariantValue, span: Span | undefined): NormSpec {
  const kind = v.name === 'rmsnorm' ? 'rmsnorm' : 'layernorm';
  const eps = argNum(v, 'eps', 1e-5);
  if (!(eps > 0) && span) access.ctx.bag.report('MS2106', span, { knob: `${kind} eps`, value: fmtNum(eps) });
  return { kind, eps, scale: true, bias: kind === 'layernorm' ? argBool(v, 'bias', true) : false };
}

/** `base` is the stack's block before `block[…]` overrides: what a layer's settings were inherited from. */
export function buildLayer(env: LayerEnv, parent: Frame, eff: Tree, index: number, rec: KnobRecorder, base?: Tree): LayerSpec {
  const a = env.access;
  const block = frame(eff, blockSchema, 'block', parent);
  const normV = a.variant(block, 'norm');
  const norm = normV?.value ? normFrom(a, normV.value, normV.span) : { kind: 'layernorm' as const, eps: 1e-5, scale: true, bias: true };
  rec.set('norm', 'block', `${norm.kind}(eps: ${fmtNum(norm.eps)}${norm.kind === 'layernorm' ? `, bias: ${norm.bias}` : ''})`, normV?.span);
  const placement = a.str<'pre' | 'post'>(block, 'placement', 'pre');
  rec.set('placement', 'block', placement.value, placement.span);
  const parallel = a.bool(block, 'parallel', false);
  rec.set('parallel', 'block', parallel.value, parallel.span);
  const shared = a.bool(block, 'shared_norm', false);
  if (shared.value && !parallel.value && shared.span)
    env.bag.report('MS2112', shared.span, { what: 'shared_norm', needs: 'parallel: true (one norm feeding both parallel branches)' });
  rec.set('shared_norm', 'block', shared.value, shared.span);
  if (parallel.value && placement.value === 'post' && parallel.span)
    env.bag.report('MS2112', parallel.span, { what: 'parallel attention + MLP', needs: 'placement: pre' });
  const dropout = a.rate(block, 'dropout', env.defaultDropout);
  rec.set('dropout', 'block', dropout.value, dropout.span);

  const attention = buildAttention(
    env,
    frame(eff.sections.get('attention'), section('attention'), 'block.attention', block),
    'attention',
    rec,
  );
  const cross = buildCross(env, eff, block, attention, rec);
  const { mlp, moe } = buildMlp(env, frame(eff.sections.get('mlp'), section('mlp'), 'block.mlp', block), rec, base?.sections.get('mlp'));
  return {
    index,
    norm,
    placement: placement.value,
    parallel: parallel.value,
    shared_norm: shared.value,
    attention,
    cross_attention: cross,
    mlp,
    moe,
    dropout: dropout.value,
  };
}

function buildAttention(env: LayerEnv, f: Frame, group: string, rec: KnobRecorder, defaults?: AttentionSpec): AttentionSpec {
  const a = env.access;
  let heads: number;
  let headsSpan: Span | undefined;
  if (defaults && !a.has(f, 'heads')) heads = defaults.heads;
  else {
    const h = a.required(f, 'heads', f.tree.knobs.size ? [...f.tree.knobs.values()][0]!.span : env.modelSpan);
    heads = h?.value ?? 1;
    headsSpan = h?.span;
    if (h && heads < 1) {
      env.bag.report('MS2109', h.span, { knob: 'heads', value: fmtNum(heads) });
      heads = 1;
    }
  }
  rec.set(`${group}.heads`, group, heads, headsSpan);
  const kv = a.positive(f, 'kv_heads', defaults && !a.has(f, 'heads') ? defaults.kv_heads : heads);
  if (kv.span && kv.value > heads)
    env.bag.report(
      'MS2111',
      kv.span,
      { kv_heads: kv.value, heads },
      { hint: 'kv_heads = heads is MHA, 1 is MQA, a divisor of heads in between is GQA' },
    );
  else if (kv.span && heads % kv.value !== 0)
    env.bag.report('MS2102', kv.span, { kv_heads: kv.value, heads }, { hint: `divisors of ${heads}: ${divisors(heads).join(', ')}` });
  rec.set(`${group}.kv_heads`, group, kv.value, kv.span);
  let headDim: number;
  const hd = a.positive(f, 'head_dim', 0);
  if (hd.span) headDim = hd.value;
  else if (defaults && !a.has(f, 'heads')) headDim = defaults.head_dim;
  else {
    headDim = Math.max(1, Math.floor(env.d_model / heads));
    if (env.d_model % heads !== 0 && headsSpan && env.dimsKnown) {
      env.bag.report('MS2101', headsSpan, { heads, d_model: env.d_model }, { hint: headsHint(env.d_model, heads) });
    }
  }
  rec.set(`${group}.head_dim`, group, headDim, hd.span);
  let causal = env.role === 'decoder';
  let window: number | null = null;
  if (!defaults) {
    const c = a.bool(f, 'causal', causal);
    causal = c.value;
    rec.set(`${group}.causal`, group, causal, c.span);
    const w = a.intOrNone(f, 'window', null);
    window = w.value;
    if (w.span && window !== null) {
      if (window < 1) env.bag.report('MS2109', w.span, { knob: 'window', value: fmtNum(window) });
      else if (window > env.context && env.dimsKnown)
        env.bag.report(
          'MS2105',
          w.span,
          { window, context: env.context },
          { hint: 'use window: none for global attention, or raise context' },
        );
    }
    rec.set(`${group}.window`, group, window, w.span);
  } else causal = false;
  const bias = a.bool(f, 'bias', defaults?.bias ?? env.defaultBias);
  rec.set(`${group}.bias`, group, bias.value, bias.span);
  const dropout = a.rate(f, 'dropout', defaults?.dropout ?? env.defaultDropout);
  rec.set(`${group}.dropout`, group, dropout.value, dropout.span);
  // Cross-attention follows the layer's self-attention unless it says otherwise (T5 is unscaled in both).
  const scaled = a.bool(f, 'scaled', defaults?.scaled ?? true);
  rec.set(`${group}.scaled`, group, scaled.value, scaled.span);
  const spec = {
    heads,
    kv_heads: kv.value,
    head_dim: headDim,
    causal,
    window,
    bias: bias.value,
    dropout: dropout.value,
    scaled: scaled.value,
  };
  if (!defaults && env.positions.kind === 'rope') checkRotary(env, spec, headsSpan ?? hd.span);
  return spec;
}

function checkRotary(env: LayerEnv, att: AttentionSpec, span: Span | undefined): void {
  if (env.positions.kind !== 'rope' || !span) return;
  const rotary = att.head_dim * env.positions.fraction;
  if (!Number.isInteger(rotary) || rotary % 2 !== 0) {
    env.bag.report(
      'MS2103',
      span,
      { rotary: fmtNum(rotary), head_dim: att.head_dim, fraction: fmtNum(env.positions.fraction) },
      { hint: 'RoPE rotates dimensions in pairs; pick a fraction that gives an even number of dimensions' },
    );
  }
}

function buildCross(env: LayerEnv, eff: Tree, block: Frame, self: AttentionSpec, rec: KnobRecorder): AttentionSpec | null {
  const tree = eff.sections.get('cross_attention');
  const f = frame(tree, section('cross_attention'), 'block.cross_attention', block);
  if (env.arch !== 'encoder_decoder' || env.role !== 'decoder') {
    if (tree && (tree.knobs.size > 0 || tree.sections.size > 0)) {
      const first = [...tree.knobs.values()][0];
      env.bag.report('MS2020', first?.keySpan ?? env.modelSpan, {
        name: 'cross_attention',
        reason: 'only the decoder of an arch = encoder_decoder model attends to an encoder',
      });
    }
    return null;
  }
  const enabled = env.access.bool(f, 'enabled', true);
  rec.set('cross_attention.enabled', 'cross_attention', enabled.value, enabled.span);
  if (!enabled.value) return null;
  return buildAttention(env, f, 'cross_attention', rec, self);
}

const MOE_KNOBS = ['top_k', 'router_bias', 'renormalize', 'aux_loss', 'shared_experts'] as const;
const DENSE_HINT = 'remove it, or set experts above 1 for a mixture of experts';
/** Above this, the load-balancing term outweighs the language-model loss it is meant to steer. */
const AUX_LOSS_LARGE = 1;

/**
 * Routing knobs on a dense MLP (experts: 1). A top_k above 1 or shared experts ask for something
 * a dense MLP cannot be (errors); the others, and top_k: 1 or shared_experts: 0, change nothing
 * (warnings). A shared expert means an MLP every token takes beside the routed ones: without
 * routed experts it is only a wider dense MLP, which `hidden` already says.
 */
function checkDenseMoeKnobs(env: LayerEnv, f: Frame, setForThisLayer: (knob: string) => boolean): void {
  const a = env.access;
  const noEffect = (knob: string, span: Span) =>
    env.bag.report('MS3002', span, { knob, reason: 'this MLP is dense (experts: 1), so nothing is routed' }, { hint: DENSE_HINT });
  for (const k of MOE_KNOBS) {
    const span = a.spanOf(f, k);
    if (!span || !setForThisLayer(k)) continue;
    if (k === 'top_k') {
      const topK = a.positive(f, 'top_k', 1);
      if (topK.value > 1)
        env.bag.report(
          'MS2104',
          span,
          { top_k: topK.value, experts: 1 },
          { hint: `this MLP is dense (experts: 1); set experts above ${topK.value} to route each token to ${topK.value} experts` },
        );
      else noEffect(k, span);
    } else if (k === 'shared_experts') {
      const shared = a.positive(f, 'shared_experts', 0, true);
      if (shared.value > 0)
        env.bag.report(
          'MS2112',
          span,
          { what: 'shared_experts', needs: 'experts > 1 (shared experts run beside routed ones)' },
          { hint: 'a dense MLP has no routed experts to share with; widen it with hidden instead, or set experts above 1' },
        );
      else noEffect(k, span);
    } else noEffect(k, span);
  }
}

function buildMlp(env: LayerEnv, f: Frame, rec: KnobRecorder, baseMlp?: Tree): { mlp: MlpSpec; moe: MoeSpec | null } {
  const a = env.access;
  const activation = a.str<Activation>(f, 'activation', 'gelu');
  rec.set('mlp.activation', 'mlp', activation.value, activation.span);
  const hidden = a.positive(f, 'hidden', 4 * env.d_model);
  rec.set('mlp.hidden', 'mlp', hidden.value, hidden.span);
  const bias = a.bool(f, 'bias', env.defaultBias);
  rec.set('mlp.bias', 'mlp', bias.value, bias.span);
  const mlp = { activation: activation.value, hidden: hidden.value, bias: bias.value };
  // An experts value already refused (out of range, not a number) says nothing about the routing knobs.
  const refused = a.has(f, 'experts') && a.num(f, 'experts', 1).span === undefined;
  const experts = a.positive(f, 'experts', 1);
  rec.set('mlp.experts', 'mlp', experts.value, experts.span);
  if (experts.value <= 1) {
    // `block[0] { mlp { experts: 1 } }` makes one layer dense: the routing knobs it inherits from the
    // block belong to the other layers, not to it.
    const madeDenseHere = baseMlp !== undefined && baseMlp.knobs.get('experts') !== f.tree.knobs.get('experts');
    const setForThisLayer = (k: string) => !madeDenseHere || baseMlp.knobs.get(k) !== f.tree.knobs.get(k);
    if (!refused) checkDenseMoeKnobs(env, f, setForThisLayer);
    return { mlp, moe: null };
  }
  const topK = a.has(f, 'top_k') ? a.positive(f, 'top_k', 1) : undefined;
  if (!topK)
    env.bag.report(
      'MS2004',
      experts.span ?? env.modelSpan,
      { name: 'top_k', where: 'block.mlp' },
      { hint: 'a mixture of experts routes each token to top_k experts; Mixtral uses 2, Switch 1' },
    );
  const k = topK?.value ?? 1;
  if (topK?.span && k > experts.value)
    env.bag.report(
      'MS2104',
      topK.span,
      { top_k: k, experts: experts.value },
      { hint: `each token goes to top_k of the ${experts.value} experts; Mixtral routes 2 of 8, Switch 1` },
    );
  rec.set('mlp.top_k', 'mlp', k, topK?.span);
  const routerBias = a.bool(f, 'router_bias', false);
  const renormalize = a.bool(f, 'renormalize', true);
  const aux = a.num(f, 'aux_loss', 0.01);
  if (aux.span && !(aux.value >= 0))
    env.bag.report(
      'MS2110',
      aux.span,
      { knob: 'aux_loss', range: '[0, ∞)', value: fmtNum(aux.value) },
      { hint: 'aux_loss weighs the load-balancing loss added to the training loss: 0 turns it off; Switch uses 0.01' },
    );
  else if (aux.span && aux.value > AUX_LOSS_LARGE)
    env.bag.report(
      'MS3003',
      aux.span,
      { knob: 'aux_loss', value: fmtNum(aux.value), reason: 'the load-balancing loss would outweigh the language-model loss' },
      { hint: 'published coefficients are 0.001 (Mixtral) to 0.01 (Switch Transformer)' },
    );
  const shared = a.positive(f, 'shared_experts', 0, true);
  rec.set('mlp.router_bias', 'mlp', routerBias.value, routerBias.span);
  rec.set('mlp.renormalize', 'mlp', renormalize.value, renormalize.span);
  rec.set('mlp.aux_loss', 'mlp', aux.value, aux.span);
  rec.set('mlp.shared_experts', 'mlp', shared.value, shared.span);
  return {
    mlp,
    moe: {
      experts: experts.value,
      top_k: Math.min(k, experts.value),
      router_bias: routerBias.value,
      renormalize: renormalize.value,
      aux_loss: aux.value,
      shared_experts: shared.value,
    },
  };
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let i = 1; i <= n && out.length < 12; i++) if (n % i === 0) out.push(i);
  return out;
}

/** "d_model 1008 or 996 would work with 12 heads; or heads: 8, 10, 20 …" */
function headsHint(d: number, heads: number): string {
  const down = d - (d % heads);
  const up = down + heads;
  const options = [];
  for (let h = 1; h <= Math.min(d, 128) && options.length < 8; h++) if (d % h === 0 && h !== heads && h >= 2) options.push(h);
  const near = options
    .sort((x, y) => Math.abs(x - heads) - Math.abs(y - heads))
    .slice(0, 6)
    .sort((x, y) => x - y);
  const parts = [`d_model ${up}${down > 0 ? ` or ${down}` : ''} would work with ${heads} heads`];
  if (near.length) parts.push(`or use heads: ${near.join(', ')}`);
  parts.push('or set head_dim explicitly');
  return parts.join('; ');
}
