/**
 * `mspec diff A B --svg`: both architectures side by side, one cluster each, the parts a
 * changed knob belongs to drawn in red (compiler/passes/diff.ts says which knobs changed),
 * and the cost deltas in the picture's label.
 */
import type { ModelDiff, KnobChange } from '../../passes/diff.js';
import { bytes, exact, flops, percent, short, signed } from '../units.js';
import type { ArchGraph } from './arch-graph.js';
import { DOT_DEFAULTS, dotBody } from './render.js';

/** The parts of a picture (GNode.parts) a knob belongs to; none for the train section. */
export function partsOf(k: KnobChange, defaultStack: 'encoder' | 'decoder'): string[] {
  let path = k.path;
  let stack: string = defaultStack;
  const m = /^(encoder|decoder)\./.exec(path);
  if (m) {
    stack = m[1]!;
    path = path.slice(m[0].length);
  }
  path = path.replace(/^layers\[[^\]]*\]\./, 'block.');
  if (path.startsWith('train.')) return [];
  if (path === 'layers') return [`${stack}.repeat`];
  if (path === 'final_norm') return [`${stack}.final_norm`];
  if (path.startsWith('block.attention.')) return [`${stack}.attention`];
  if (path.startsWith('block.cross_attention.')) return ['decoder.cross'];
  if (path.startsWith('block.mlp.')) return [`${stack}.mlp`];
  if (path === 'block.norm') return [`${stack}.norm`];
  if (path.startsWith('block.')) return [`${stack}.block`, `${stack}.norm`];
  if (path === 'embedding.positions') return ['positions'];
  if (path === 'embedding.tied') return ['embedding', 'head'];
  if (path.startsWith('embedding.')) return ['embedding'];
  if (path.startsWith('head.') || path === 'logit_scale') return ['head'];
  if (path === 'license') return [];
  if (path === 'vocab') return ['embedding', 'head'];
  // The context sizes the learned position table only (and the costs, in the label).
  if (path === 'context') return ['context'];
  // d_model, arch: the model as a whole.
  return ['model'];
}

export function changedParts(d: ModelDiff, defaultStack: 'encoder' | 'decoder'): Set<string> {
  return new Set(d.knobs.flatMap((k) => partsOf(k, defaultStack)));
}

/** Short lines: Graphviz sizes the label with its own font metrics, which run narrow in a browser. */
function costLines(d: ModelDiff): string[] {
  const fmt = (u: string) => (u === 'count' ? short : u === 'bytes' ? bytes : flops);
  const same = (key: string, other: string) => {
    const x = d.costs.find((c) => c.key === key);
    const y = d.costs.find((c) => c.key === other);
    return x !== undefined && y !== undefined && x.a === y.a && x.b === y.b;
  };
  const keep = ['params_total', 'params_active', 'flops_per_token_train', 'kv_cache_bytes_at_context_f16'];
  return d.costs
    .filter((c) => keep.includes(c.key) && !(c.key === 'params_active' && same('params_active', 'params_total')))
    .map((c) => {
      const f = fmt(c.unit);
      const delta = c.a === c.b ? '0' : `${signed(c.b - c.a, f)} (${percent(c.b - c.a, c.a)})`;
      return `${c.label}: ${f(c.a)} → ${f(c.b)}, Δ ${delta}`;
    });
}

const show = (v: unknown) => (v === undefined ? '—' : v === null ? 'none' : typeof v === 'number' ? exact(v) : String(v));

export function diffDot(d: ModelDiff, a: ArchGraph, b: ArchGraph, changed: ReadonlySet<string>): string {
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const knobs = d.knobs.filter((k) => !k.path.startsWith('train.'));
  const label = [
    `${d.a} → ${d.b}`,
    d.identical ? 'identical: every resolved knob is the same' : `changed (red): ${knobs.length} knob${knobs.length === 1 ? '' : 's'}`,
    ...knobs.slice(0, 12).map((k) => `${k.path}: ${show(k.a)} → ${show(k.b)}`),
    ...(knobs.length > 12 ? [`… and ${knobs.length - 12} more`] : []),
    '',
    ...costLines(d),
  ];
  const side = (g: ArchGraph, id: string, changedHere: boolean) => [
    `  subgraph ${q(`cluster_${id}`)} {`,
    `    label=${q(g.title)}; labelloc=t; labeljust=c; style="rounded"; color=${q(changedHere ? '#e03131' : '#adb5bd')}; class=${q(`model ${id}`)};`,
    ...dotBody(g, { changed }, 2).map((l) => `  ${l}`),
    '  }',
  ];
  return [
    `digraph ${q(`${d.a} vs ${d.b}`)} {`,
    ...DOT_DEFAULTS,
    `  label="${label.map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"')).join('\\l')}\\l"; labelloc=b; labeljust=l; pad=0.8;`,
    ...side(a, 'a', false),
    ...side(b, 'b', !d.identical),
    '}',
    '',
  ].join('\n');
}
