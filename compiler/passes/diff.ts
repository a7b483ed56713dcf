/**
 * Semantic diff of two resolved models: knob by knob (after extends, expressions and
 * defaults, so `hidden: 4 * d_model` vs `hidden: 3072` is no difference when d_model = 768),
 * grouped by component, plus the cost deltas.
 */
import type { ModelSpec } from '../semantics/model.js';

export interface KnobChange {
  readonly path: string;
  readonly group: string;
  /** undefined when the knob does not exist on that side (e.g. MoE knobs of a dense model). */
  readonly a: unknown;
  readonly b: unknown;
}

export interface CostRow {
  readonly key: string;
  readonly label: string;
  readonly unit: 'count' | 'flops' | 'bytes';
  readonly a: number;
  readonly b: number;
}

export interface ModelDiff {
  readonly a: string;
  readonly b: string;
  readonly identical: boolean;
  readonly knobs: readonly KnobChange[];
  readonly costs: readonly CostRow[];
}

const GROUP_ORDER = ['model', 'embedding', 'block', 'attention', 'cross_attention', 'mlp', 'head', 'train'];

export function diffKnobs(a: ModelSpec, b: ModelSpec): KnobChange[] {
  const paths = new Set([...a.knobs.keys(), ...b.knobs.keys()]);
  const out: KnobChange[] = [];
  for (const path of paths) {
    const ka = a.knobs.get(path);
    const kb = b.knobs.get(path);
    if (ka && kb && JSON.stringify(ka.value) === JSON.stringify(kb.value)) continue;
    out.push({ path, group: (ka ?? kb)!.group, a: ka?.value, b: kb?.value });
  }
  const rank = (g: string) => GROUP_ORDER.indexOf(g) + 1 || GROUP_ORDER.length + 1;
  return out.sort((x, y) => rank(x.group) - rank(y.group) || x.path.localeCompare(y.path, 'en', { numeric: true }));
}

export function diffModels(a: ModelSpec, b: ModelSpec, costs: readonly CostRow[]): ModelDiff {
  const knobs = diffKnobs(a, b);
  return { a: a.name, b: b.name, identical: knobs.length === 0, knobs, costs };
}

export function diffToJson(d: ModelDiff): object {
  return {
    a: d.a,
    b: d.b,
    identical: d.identical,
    knobs: d.knobs.map((k) => ({ path: k.path, group: k.group, a: k.a ?? null, b: k.b ?? null })),
    costs: Object.fromEntries(d.costs.map((c) => [c.key, { a: c.a, b: c.b, delta: c.b - c.a }])),
  };
}
