/** Helpers shared by the syntax and formatter tests. */
import type { FileNode } from '../../compiler/ast/nodes.js';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.js';
import { renderDiagnostic } from '../../compiler/diagnostics/render.js';

/** Every object in the tree that has a `span`, depth first. */
export function* nodesWithSpans(root: unknown): Generator<{ kind?: string; span: { file: string; start: number; end: number } }> {
  if (root === null || typeof root !== 'object') return;
  if (Array.isArray(root)) {
    for (const x of root) yield* nodesWithSpans(x);
    return;
  }
  const o = root as Record<string, unknown>;
  if (o.span && typeof o.span === 'object') yield o as never;
  for (const [k, v] of Object.entries(o)) if (k !== 'span') yield* nodesWithSpans(v);
}

/**
 * The AST without positions or comments, with `=`/`:` unified (the formatter chooses one by
 * context) and imports first (the formatter hoists them): what formatting must preserve.
 */
export function shape(file: FileNode): unknown {
  const strip = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(strip);
    if (x === null || typeof x !== 'object') return x;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) {
      if (k === 'span' || (k === 'op' && (v === '=' || v === ':'))) continue;
      out[k] = strip(v);
    }
    return out;
  };
  const items = [...file.items.filter((i) => i.kind === 'Import'), ...file.items.filter((i) => i.kind !== 'Import')];
  return strip(items);
}

/** The first line of each rendered diagnostic: `file:line:col: error CODE: message`. */
export function firstLines(ds: readonly Diagnostic[], path: string, text: string): string[] {
  const sources = new Map([[path, { path, text }]]);
  return ds.map((d) => renderDiagnostic(d, sources).split('\n')[0]!);
}
