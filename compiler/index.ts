/**
 * The one entry to the compiler: text → tokens → CST → AST → resolved models → IR →
 * analysis. Nothing here throws for bad input; an unexpected exception inside a phase is
 * turned into an MS9001 internal-error diagnostic that names the phase and the model.
 */
import { DiagnosticBag, type Diagnostic } from './diagnostics/diagnostic.js';
import type { SourceFile } from './diagnostics/span.js';
import type { Graph } from './ir/graph.js';
import { lower } from './ir/lower.js';
import { verify } from './ir/verify.js';
import { analyze, type Analysis, type AnalyzeOptions, inexactCounts } from './passes/analyze.js';
import type { ModelSpec } from './semantics/model.js';
import { type Host, type Program, resolveProgram } from './semantics/resolve.js';
import { didYouMean } from './semantics/suggest.js';
import { nodeHost } from './semantics/node-host.js';

export { MSPEC_VERSION } from './version.js';

export interface CompileOptions extends AnalyzeOptions {
  /** Build only this model of the file (`file.model#name`). */
  readonly model?: string | undefined;
  /** Lower to IR and analyse (default true). */
  readonly analyze?: boolean;
  readonly host?: Host;
}

export interface CompiledModel {
  readonly spec: ModelSpec;
  /** True when the model resolved without errors (only then are graph and analysis present). */
  readonly ok: boolean;
  readonly graph?: Graph;
  readonly analysis?: Analysis;
}

export interface CompileResult {
  readonly file: string;
  readonly models: readonly CompiledModel[];
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: ReadonlyMap<string, SourceFile>;
  readonly program?: Program;
}

export function compileFile(file: string, opts: CompileOptions = {}): CompileResult {
  const host = opts.host ?? nodeHost;
  const bag = new DiagnosticBag();
  let program: Program;
  try {
    program = resolveProgram(file, host, opts.model);
  } catch (e) {
    bag.report('MS9001', undefined, { detail: `while resolving ${file}: ${describe(e)}` });
    return { file, models: [], diagnostics: bag.all, sources: new Map() };
  }
  // Text that is not UTF-8 makes every later message noise: report the encoding alone.
  if (reportEncoding(bag, host, program)) return { file, models: [], diagnostics: bag.all, sources: program.sources, program };
  bag.addAll(program.bag.all);
  if (program.models.length === 0 && !bag.hasErrors && opts.model === undefined) bag.report('MS5011', undefined, { file });
  if (opts.model !== undefined && !program.models.some((m) => m.spec.name === opts.model)) {
    const own = (program.files.get(file)?.items ?? []).flatMap((i) => (i.kind === 'Model' ? [i.name.name] : []));
    if (!bag.hasErrors || own.length > 0) {
      bag.report(
        'MS2021',
        undefined,
        { name: opts.model, file, suggestion: didYouMean(opts.model, own) },
        { hint: own.length ? `models in ${file}: ${own.join(', ')}` : `${file} defines no model` },
      );
    }
  }
  const models: CompiledModel[] = [];
  for (const m of program.models) {
    if (!m.ok || opts.analyze === false) {
      models.push({ spec: m.spec, ok: m.ok });
      continue;
    }
    if (opts.seq !== undefined && opts.seq > m.spec.context) {
      bag.report(
        'MS5010',
        m.spec.span,
        { option: '--seq', value: opts.seq, model: m.spec.name, context: m.spec.context },
        { hint: `the training-memory estimate is for sequences the model can take; use --seq ${m.spec.context} or less` },
      );
      models.push({ spec: m.spec, ok: false });
      continue;
    }
    try {
      // Analysis reads a graph whose size grows with neither experts nor identical layers; the
      // full graph (every layer and expert, for the interpreter and code generation) is built
      // only when someone asks for it.
      const lowered = lower(m.spec, { compactExperts: true });
      const { graph, diagnostics } = lowered;
      bag.addAll(diagnostics);
      const problems = verify(graph);
      if (problems.length > 0) {
        bag.report('MS9001', m.spec.span, { detail: `the IR of ${m.spec.name} failed verification: ${problems.slice(0, 3).join('; ')}` });
        models.push({ spec: m.spec, ok: false });
        continue;
      }
      const analysis = analyze(m.spec, graph, opts, lowered);
      const inexact = inexactCounts(analysis);
      for (const x of inexact) {
        bag.report('MS2120', m.spec.span, { what: x.what, model: m.spec.name, value: x.value.toExponential(3) }, { hint: x.hint });
      }
      const ok = diagnostics.length === 0 && inexact.length === 0;
      const compacted = lowered.copies.size > 0 || lowered.layerRep.size > lowered.layerCopies.size;
      models.push(withGraph({ spec: m.spec, ok, analysis }, compacted ? () => fullGraph(m.spec) : graph));
    } catch (e) {
      bag.report('MS9001', m.spec.span, { detail: `while lowering ${m.spec.name}: ${describe(e)}` });
      models.push({ spec: m.spec, ok: false });
    }
  }
  return { file, models, diagnostics: bag.all, sources: program.sources, program };
}

/** A CompiledModel whose `graph` is the given one, or is lowered on first use. */
function withGraph(m: Omit<CompiledModel, 'graph'>, graph: Graph | (() => Graph)): CompiledModel {
  if (typeof graph !== 'function') return { ...m, graph };
  let memo: Graph | undefined;
  // Not enumerable, so spreading or printing a CompiledModel does not build the full graph.
  return Object.defineProperty({ ...m }, 'graph', { enumerable: false, get: () => (memo ??= graph()) }) as CompiledModel;
}

function fullGraph(spec: ModelSpec): Graph {
  const { graph, diagnostics } = lower(spec);
  // The compact lowering of the same spec succeeded, so this cannot fail short of a bug.
  if (diagnostics.length > 0) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return graph;
}

/** The encoding problems the host found in any file the program read (MS1020, at the byte). */
function reportEncoding(bag: DiagnosticBag, host: Host, program: Program): boolean {
  const find = (host as Partial<typeof nodeHost>).encodingProblem;
  if (!find) return false;
  let found = false;
  for (const path of program.sources.keys()) {
    const p = find(path);
    const length = program.sources.get(path)!.text.length;
    if (p) bag.report('MS1020', { file: path, start: p.offset, end: Math.min(p.offset + 1, length) }, { reason: p.reason });
    found ||= p !== undefined;
  }
  return found;
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}${e.stack ? ` at ${e.stack.split('\n')[1]?.trim() ?? ''}` : ''}`;
  return String(e);
}
