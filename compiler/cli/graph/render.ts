/**
 * An ArchGraph as text for a layout engine: Graphviz DOT (laid out by @viz-js/viz, Graphviz
 * compiled to wasm) or a mermaid flowchart. Blocks become clusters; colours say what a node
 * is; nodes and clusters whose parts are in `changed` are drawn in red (`diff --svg`).
 */
import type { ArchGraph, GCluster, GEdge, GNode, NodeKind } from './arch-graph.js';

const FILL: Record<NodeKind, string> = {
  io: '#f1f3f5',
  embed: '#d0ebff',
  norm: '#fff3bf',
  attention: '#e5dbff',
  mlp: '#d3f9d8',
  router: '#ffe8cc',
  experts: '#c3fae8',
  add: '#ffffff',
  head: '#d0ebff',
  point: '#495057',
};

export const CHANGED_FILL = '#ffc9c9';
export const CHANGED_LINE = '#e03131';

const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const dotLabel = (lines: readonly string[]) => `"${lines.map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"')).join('\\n')}"`;

export interface RenderOptions {
  /** Parts (GNode.parts, GCluster.parts) to highlight. */
  readonly changed?: ReadonlySet<string>;
  /** Lines under the title. */
  readonly subtitle?: readonly string[];
}

const isChanged = (parts: readonly string[], changed: ReadonlySet<string> | undefined) =>
  changed !== undefined && parts.some((p) => changed.has(p));

function dotNode(n: GNode, changed: ReadonlySet<string> | undefined, indent: string): string {
  const hot = isChanged(n.parts, changed);
  const attrs: string[] = [];
  if (n.kind === 'point') attrs.push('shape=point', 'width=0.08', `color=${q(FILL.point)}`);
  else if (n.kind === 'add' && n.lines.join('') === '+') attrs.push('shape=circle', 'width=0.3', 'fixedsize=true', 'label="+"');
  else if (n.kind === 'add') attrs.push('shape=ellipse', `label=${dotLabel(n.lines)}`);
  else attrs.push(`label=${dotLabel(n.lines)}`, n.kind === 'io' ? 'shape=oval' : 'shape=box');
  if (n.kind !== 'point') attrs.push(`fillcolor=${q(hot ? CHANGED_FILL : FILL[n.kind])}`);
  attrs.push(`class=${q(`${n.kind}${hot ? ' changed' : ''}`)}`);
  if (hot) attrs.push(`color=${q(CHANGED_LINE)}`, 'penwidth=2.5');
  return `${indent}${q(n.id)} [${attrs.join(', ')}];`;
}

function dotEdge(e: GEdge): string {
  const attrs: string[] = [];
  if (e.label) attrs.push(`label=${q(e.label)}`);
  if (e.style === 'residual') attrs.push('style=dashed', 'color="#868e96"', 'fontcolor="#868e96"');
  if (e.style === 'tied') attrs.push('style=dotted', 'color="#1c7ed6"', 'fontcolor="#1c7ed6"', 'constraint=false', 'dir=none');
  if (e.style === 'kv') attrs.push('color="#7048e8"', 'fontcolor="#7048e8"', 'penwidth=1.6');
  return `  ${q(e.from)} -> ${q(e.to)}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`;
}

/** The body of a DOT graph (clusters with their nodes, then edges): embeddable in a bigger one. */
export function dotBody(g: ArchGraph, opts: RenderOptions = {}, depth = 1): string[] {
  const out: string[] = [];
  const emit = (parent: string | null, level: number) => {
    const pad = '  '.repeat(level);
    for (const n of g.nodes.filter((x) => x.cluster === parent)) out.push(dotNode(n, opts.changed, pad));
    for (const c of g.clusters.filter((x) => x.parent === parent)) {
      out.push(`${pad}subgraph ${q(`cluster_${c.id}`)} {`);
      out.push(...clusterAttrs(c, opts.changed).map((a) => `${pad}  ${a};`));
      emit(c.id, level + 1);
      out.push(`${pad}}`);
    }
  };
  emit(null, depth);
  out.push(...g.edges.map(dotEdge));
  return out;
}

function clusterAttrs(c: GCluster, changed: ReadonlySet<string> | undefined): string[] {
  const hot = isChanged(c.parts, changed);
  const fill = c.kind === 'stack' ? '#f8f9fa' : c.kind === 'block' ? '#ffffff' : '#f3fcf5';
  return [
    `label=${q(c.label)}`,
    'labelloc=t',
    'labeljust=c',
    'style="rounded,filled"',
    `fillcolor=${q(fill)}`,
    `color=${q(hot ? CHANGED_LINE : '#adb5bd')}`,
    `penwidth=${hot ? 2.5 : 1}`,
    `class=${q(`${c.kind}${hot ? ' changed' : ''}`)}`,
  ];
}

export const DOT_DEFAULTS = [
  '  graph [fontname="Helvetica", fontsize=13, labelloc=t, pad=0.4, nodesep=0.3, ranksep=0.35, newrank=true];',
  '  node [fontname="Helvetica", fontsize=10, style="rounded,filled", margin="0.22,0.06"];',
  '  edge [fontname="Helvetica", fontsize=8, arrowsize=0.6];',
];

export function toDot(g: ArchGraph, opts: RenderOptions = {}): string {
  const title = [g.title, ...(opts.subtitle ?? [])];
  return [`digraph ${q(g.title)} {`, ...DOT_DEFAULTS, `  label=${dotLabel(title)};`, ...dotBody(g, opts), '}', ''].join('\n');
}

// ── mermaid ──

const mid = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');
const mtext = (s: string) => s.replace(/"/g, '#quot;');

function mermaidNode(n: GNode): string {
  const text = `"${n.lines.map(mtext).join('<br/>')}"`;
  const id = mid(n.id);
  switch (n.kind) {
    case 'point':
      return `${id}((" "))`;
    case 'add':
      return `${id}((${text}))`;
    case 'io':
      return `${id}([${text}])`;
    default:
      return `${id}[${text}]`;
  }
}

export function toMermaid(g: ArchGraph, opts: RenderOptions = {}): string {
  const title = [g.title, ...(opts.subtitle ?? [])].join(' · ').replace(/["\\\n]/g, ' ');
  const out = ['---', `title: "${title}"`, '---', 'flowchart TB'];
  const emit = (parent: string | null, level: number) => {
    const pad = '  '.repeat(level);
    for (const n of g.nodes.filter((x) => x.cluster === parent)) out.push(pad + mermaidNode(n));
    for (const c of g.clusters.filter((x) => x.parent === parent)) {
      out.push(`${pad}subgraph ${mid(c.id)}["${mtext(c.label)}"]`);
      emit(c.id, level + 1);
      out.push(`${pad}end`);
    }
  };
  emit(null, 1);
  for (const e of g.edges) {
    const arrow = e.style === 'residual' || e.style === 'tied' ? '-.->' : e.style === 'kv' ? '==>' : '-->';
    out.push(`  ${mid(e.from)} ${arrow}${e.label ? `|"${mtext(e.label)}"|` : ''} ${mid(e.to)}`);
  }
  const hot = g.nodes.filter((n) => isChanged(n.parts, opts.changed)).map((n) => mid(n.id));
  if (hot.length)
    out.push(`  classDef changed fill:${CHANGED_FILL},stroke:${CHANGED_LINE},stroke-width:3px`, `  class ${hot.join(',')} changed`);
  return out.join('\n') + '\n';
}
