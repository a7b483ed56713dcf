/** `mspec diff A B --svg FILE`: the picture of a diff (graph/diff-graph.ts), laid out by Graphviz. */
import type { ModelDiff } from '../passes/diff.js';
import { archGraph } from './graph/arch-graph.js';
import { changedParts, diffDot } from './graph/diff-graph.js';
import { type AnalysedModel, dotToSvg, writeAtomically } from './graph.js';

/** Returns `code` (the diff's own exit status) once written, or 2 when the file cannot be written. */
export async function writeDiffSvg(d: ModelDiff, a: AnalysedModel, b: AnalysedModel, path: string, code: number): Promise<number> {
  const stackOf = (m: AnalysedModel) => (m.spec.arch === 'encoder' ? 'encoder' : 'decoder');
  const changed = changedParts(d, stackOf(a));
  for (const p of changedParts(d, stackOf(b))) changed.add(p);
  const dot = diffDot(d, archGraph(a.spec, a.analysis, { prefix: 'a_' }), archGraph(b.spec, b.analysis, { prefix: 'b_' }), changed);
  try {
    writeAtomically(path, await dotToSvg(dot), `${a.spec.name}-vs-${b.spec.name}.svg`);
  } catch (e) {
    process.stderr.write(`error: cannot write ${path}: ${(e as Error).message}\n`);
    return 2;
  }
  process.stderr.write(`wrote ${path}\n`);
  return code;
}
