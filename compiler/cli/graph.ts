/**
 * `mspec graph SPEC [-o arch.svg] [--format svg|dot|mermaid]`: the model as a picture (see
 * graph/arch-graph.ts for what is drawn). DOT and mermaid are text we write; the SVG is laid
 * out by Graphviz compiled to wasm (@viz-js/viz), loaded only when an SVG is asked for.
 * Exit 0 drawn, 1 the spec has errors or cannot be read, 2 usage or write trouble.
 */
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CompiledModel } from '../index.js';
import type { Analysis } from '../passes/analyze.js';
import { archGraph } from './graph/arch-graph.js';
import { toDot, toMermaid } from './graph/render.js';
import { describeArchitecture } from './info.js';
import { printDiagnostics, splitTarget } from './output.js';
import { compileTarget } from './spec-target.js';
import { short } from './units.js';

export const GRAPH_FORMATS = ['svg', 'dot', 'mermaid'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export interface GraphArgs {
  target: string;
  out?: string | undefined;
  format?: string | undefined;
}

/** Graphviz DOT → SVG with the wasm Graphviz. */
export async function dotToSvg(dot: string): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  return viz.renderString(dot, { format: 'svg' });
}

/**
 * Writes `text` to `path` through a temporary file in the same folder and a rename, so a reader never
 * sees half a picture and a failed write leaves nothing; throws
 * an Error whose message says why in words (`example`: a file name to suggest when `path` is a folder).
 */
export function writeAtomically(path: string, text: string, example: string): void {
  if (existsSync(path) && statSync(path).isDirectory())
    throw new Error(`it is a folder; give the file to write, e.g. ${join(path, example)}`);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `the folder ${dirname(resolve(path))} does not exist`
        : code === 'EACCES'
          ? 'permission denied'
          : (e as Error).message,
    );
  }
}

export type AnalysedModel = CompiledModel & { analysis: Analysis };

/** One model from a target, or a printed reason why not (exit code 1: spec errors, 2: usage). */
export function compileOne(target: string): { model: AnalysedModel } | { code: number } {
  const { file } = splitTarget(target);
  const r = compileTarget(target);
  printDiagnostics(r.diagnostics, r.sources);
  const good = r.models.filter((m): m is AnalysedModel => m.ok && m.analysis !== undefined);
  // A file that cannot be read is reported like a spec error (MS5001), as `info` and `check` do.
  if (r.diagnostics.some((d) => d.severity === 'error') || good.length === 0) return { code: 1 };
  if (good.length > 1) {
    const names = good.map((m) => m.spec.name);
    process.stderr.write(`error MS5002: ${file} defines ${good.length} models (${names.join(', ')}); pick one with ${file}#${names[0]}\n`);
    return { code: 2 };
  }
  return { model: good[0]! };
}

export function subtitle(m: AnalysedModel): string[] {
  const p = m.analysis.params;
  // The one-line summary of `info`, in two lines: a title as wide as the picture, not wider.
  const parts = describeArchitecture(m.spec).split(' · ');
  const half = Math.ceil(parts.length / 2);
  return [
    parts.slice(0, half).join(' · '),
    parts.slice(half).join(' · '),
    `${short(p.total)} parameters${p.active !== p.total ? ` (${short(p.active)} active per token)` : ''}`,
  ];
}

export async function runGraph(args: GraphArgs): Promise<number> {
  const format = (args.format ?? 'svg') as GraphFormat;
  if (!GRAPH_FORMATS.includes(format)) {
    process.stderr.write(`error: unknown --format '${args.format}': choose ${GRAPH_FORMATS.join(', ')}\n`);
    return 2;
  }
  const r = compileOne(args.target);
  if ('code' in r) return r.code;
  const g = archGraph(r.model.spec, r.model.analysis);
  const opts = { subtitle: subtitle(r.model) };
  const text = format === 'mermaid' ? toMermaid(g, opts) : format === 'dot' ? toDot(g, opts) : await dotToSvg(toDot(g, opts));
  if (!args.out) {
    process.stdout.write(text);
    return 0;
  }
  try {
    writeAtomically(args.out, text, `${r.model.spec.name}.${format === 'mermaid' ? 'mmd' : format}`);
  } catch (e) {
    process.stderr.write(`error: cannot write ${args.out}: ${(e as Error).message}\n`);
    return 2;
  }
  process.stderr.write(`wrote ${args.out} (${format})\n`);
  return 0;
}
