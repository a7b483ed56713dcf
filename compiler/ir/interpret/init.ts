/**
 * Deterministic GPT-2-style initial weights (nanoGPT's `_init_weights`):
 *   - biases (`*.bias`, norm shifts included): 0;
 *   - norm scales (the weight a layernorm/rmsnorm reads, whatever component it counts under —
 *     the MLM head's transform norm is a `head` parameter): 1;
 *   - every other matrix or table (embeddings, projections, router, T5 bias table): N(0, 0.02²);
 *   - residual output projections — attention out `*attn.o.weight` (cross-attention too) and
 *     MLP/expert `*down.weight` — N(0, (0.02/√(2·L))²), L = the number of layers in the
 *     parameter's own stack, so each residual stream's variance stays O(1) at any depth.
 * Each parameter draws from its own stream, makeRng(deriveSeed(seed, name)), so its values
 * depend only on (seed, name, shape) — not on which other parameters exist or their order.
 */
import type { Graph, Param } from '../graph.js';
import { initialValues } from '../../../runtime/init.js';
import type { ParamInfo } from '../../../runtime/plan-types.js';

export type InitRule = ParamInfo['init'];

const BASE_STD = 0.02;
const RESIDUAL_OUT = /(?:^|\.|_)attn\.o\.weight$|(?:^|\.)down\.weight$/;

/** How each parameter is initialised, by name: the rule the GPU runtime follows too. */
export function initRules(graph: Graph): Map<string, InitRule> {
  const layers = new Map<string, number>(); // stack role → layer count
  for (const p of graph.params) {
    if (p.layer) layers.set(p.layer.stack, Math.max(layers.get(p.layer.stack) ?? 0, p.layer.index + 1));
  }
  const normScales = new Set(
    graph.nodes.filter((n) => (n.op === 'layernorm' || n.op === 'rmsnorm') && n.attrs.scale).map((n) => n.inputs[1]!),
  );
  return new Map(graph.params.map((p) => [p.name, ruleFor(p, layers, normScales)]));
}

function ruleFor(p: Param, layers: ReadonlyMap<string, number>, normScales: ReadonlySet<number>): InitRule {
  if (p.name.endsWith('.bias')) return { kind: 'zeros' };
  if (normScales.has(p.value)) return { kind: 'ones' };
  if (p.layer && RESIDUAL_OUT.test(p.name)) {
    return { kind: 'normal', std: BASE_STD / Math.sqrt(2 * layers.get(p.layer.stack)!) };
  }
  return { kind: 'normal', std: BASE_STD };
}

/** Initial values of every parameter of `graph`, by name (runtime/init.ts, as the GPU runtime). */
export function initParams(graph: Graph, seed: number): Map<string, Float32Array> {
  const rules = initRules(graph);
  return new Map(graph.params.map((p) => [p.name, initialValues({ name: p.name, shape: p.shape, init: rules.get(p.name)! }, seed)]));
}
