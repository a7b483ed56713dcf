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
import { analyze, type Analysis, type AnalyzeOptions } from './passes/analyze.js';
import type { ModelSpec } from './semantics/model.js';
import { type Host, type Program, resolveProgram } from './semantics/resolve.js';
import { didYouMean } from './semantics/suggest.js';
import { nodeHost } from './cli/host.js';

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
  bag.addAll(program.bag.all);
  if (opts.model !== undefined && !program.models.some((m) => m.spec.name === opts.model)) {
    const own = (program.files.get(file)?.items ?? []).flatMap((i) => (i.kind === 'Model' ? [i.name.name] : []));
    if (!bag.hasErrors || own.length > 0) {
      bag.report('MS2021', undefined, { name: opts.model, file, suggestion: didYouMean(opts.model, own) }, { hint: own.length ? `models in ${file}: ${own.join(', ')}` : `${file} defines no model` });
    }
  }
  const models: CompiledModel[] = [];
  for (const m of program.models) {
    if (!m.ok || opts.analyze === false) {
      models.push({ spec: m.spec, ok: m.ok });
      continue;
    }
    try {
      const { graph, diagnostics } = lower(m.spec);
      bag.addAll(diagnostics);
      const problems = verify(graph);
      if (problems.length > 0) {
        bag.report('MS9001', m.spec.span, { detail: `the IR of ${m.spec.name} failed verification: ${problems.slice(0, 3).join('; ')}` });
        models.push({ spec: m.spec, ok: false });
        continue;
      }
      const analysis = analyze(m.spec, graph, opts);
      models.push({ spec: m.spec, ok: diagnostics.length === 0, graph, analysis });
    } catch (e) {
      bag.report('MS9001', m.spec.span, { detail: `while lowering ${m.spec.name}: ${describe(e)}` });
      models.push({ spec: m.spec, ok: false });
    }
  }
  return { file, models, diagnostics: bag.all, sources: program.sources, program };
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}${e.stack ? ` at ${e.stack.split('\n')[1]?.trim() ?? ''}` : ''}`;
  return String(e);
}
