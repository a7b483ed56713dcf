/**
 * A program: the entry file plus everything it imports (transitively, each file once), its
 * models and train sections in one namespace. Resolution validates every body against the
 * knob table, follows `extends` chains (unknown bases and cycles are diagnostics) and builds
 * a ModelSpec for each model the entry file defines.
 */
import type { Entry, FileNode, ModelNode, TrainNode } from '../ast/nodes.js';
import { type Diagnostic, DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { Span, SourceFile } from '../diagnostics/span.js';
import { parse } from '../ast/parse.js';
import { buildModel } from './build-model.js';
import type { DataHost } from './build-train.js';
import type { ModelSpec } from './model.js';
import { modelSchema, trainSchema } from './schema.js';
import { didYouMean } from './suggest.js';
import { buildTree, applyBody, emptyTree } from './tree.js';
import { validateBody } from './validate.js';
import { posix } from 'node:path';

export interface Host extends DataHost {
  /** The file's text, or an error message (not found, a directory, unreadable). */
  readFile(path: string): string | { error: string };
}

export interface ResolvedModel {
  readonly spec: ModelSpec;
  /** False when resolving this model reported an error (the spec then holds fallbacks). */
  readonly ok: boolean;
}

export interface Program {
  readonly entry: string;
  readonly sources: Map<string, SourceFile>;
  readonly files: Map<string, FileNode>;
  /** Models defined in the entry file, in source order. */
  readonly models: ResolvedModel[];
  /** Every model name in the program (for `file#name` suggestions). */
  readonly modelNames: string[];
  readonly bag: DiagnosticBag;
}

interface Located<N> {
  readonly node: N;
  readonly file: string;
}

/** Resolves `entry` (a path as the user wrote it) and its imports. `only` limits which models are built. */
export function resolveProgram(entry: string, host: Host, only?: string): Program {
  const bag = new DiagnosticBag();
  const sources = new Map<string, SourceFile>();
  const files = new Map<string, FileNode>();
  const syntax = new Map<string, Diagnostic[]>();
  loadFiles(entry, host, bag, sources, files, syntax);
  const broken = brokenRegions(files, sources, syntax);

  const models = new Map<string, Located<ModelNode>>();
  const trains = new Map<string, Located<TrainNode>[]>();
  const rejected = new Set<Entry>();
  for (const [file, ast] of files) {
    for (const item of ast.items) {
      if (item.kind === 'Model') {
        const prev = models.get(item.name.name);
        if (prev) {
          bag.report(
            'MS2006',
            item.name.span,
            { what: 'model', name: item.name.name },
            { related: [{ span: prev.node.name.span, message: 'first defined here' }] },
          );
          continue;
        }
        models.set(item.name.name, { node: item, file });
        validateBody(bag, item.body, modelSchema, 'model', rejected);
      } else if (item.kind === 'Train') {
        const list = trains.get(item.target.name) ?? [];
        list.push({ node: item, file });
        trains.set(item.target.name, list);
        validateBody(bag, item.body, trainSchema, 'train', rejected);
      }
    }
  }
  for (const [target, list] of trains) {
    if (!models.has(target)) {
      for (const t of list) bag.report('MS2201', t.node.target.span, { name: target, suggestion: didYouMean(target, models.keys()) });
    } else if (list.length > 1) {
      for (const t of list.slice(1))
        bag.report(
          'MS2206',
          t.node.target.span,
          { name: target, count: list.length },
          { related: [{ span: list[0]!.node.target.span, message: 'first train section' }] },
        );
    }
  }

  const out: ResolvedModel[] = [];
  const entryAst = files.get(entry);
  for (const item of entryAst?.items ?? []) {
    if (item.kind !== 'Model' || models.get(item.name.name)?.node !== item) continue;
    if (only !== undefined && item.name.name !== only) continue;
    const chain = extendsChain(item, models, bag);
    if (!chain) continue;
    const tree = buildTree(
      chain.map((c) => c.node),
      rejected,
    );
    const trainAt = [...chain].reverse().find((c) => trains.get(c.node.name.name)?.length);
    const trainLoc = trainAt ? trains.get(trainAt.node.name.name)![0]! : undefined;
    let train: { node: TrainNode; tree: ReturnType<typeof emptyTree>; file: string } | undefined;
    if (trainLoc) {
      const t = emptyTree();
      applyBody(t, trainLoc.node.body, trainLoc.node.target.name, rejected);
      train = { node: trainLoc.node, tree: t, file: trainLoc.file };
    }
    const rejectedKeys = new Set([...rejected].map((e) => e.key.name));
    const local = new DiagnosticBag();
    const spec = buildModel(
      local,
      { node: item, file: entry, chain: chain.map((c) => c.node), tree, rejectedKeys, ...(train ? { train } : {}) },
      host,
    );
    // A knob lost to a syntax error in this model or a base (`vocab =` with no value, a
    // block cut short) is not also "missing": the syntax error is the one to fix.
    const syntaxBroken = chain.some((c) => broken.some((r) => r.file === c.file && r.item === c.node));
    for (const d of local.all) {
      if (d.code === 'MS2004' && syntaxBroken) continue;
      bag.add(throughExtends(d, item, chain));
    }
    out.push({
      spec,
      ok:
        !local.hasErrors &&
        !hasErrorsIn(
          bag,
          chain.map((c) => c.file),
        ),
    });
  }
  return { entry, sources, files, models: out, modelNames: [...models.keys()], bag: withoutCascades(bag, broken) };
}

/** Knob-structure errors that an unclosed `{` fakes: `mlp` looks like a knob of `attention` when attention's `}` is missing. */
const STRUCTURAL = new Set(['MS2001', 'MS2004', 'MS2014', 'MS2015', 'MS2019']);

/** The item (model or train) a parse error falls in, up to `end`; `unclosedAt` is the `{` of an MS1014. */
interface BrokenRegion {
  readonly file: string;
  readonly item: ModelNode | TrainNode | undefined;
  readonly unclosedAt: number | undefined;
  readonly end: number;
}

/**
 * For each parse error (MS1010 and up), the item it falls in: from the item's start to the next item's
 * start (the text after a cut-short block belongs to it too).
 */
function brokenRegions(files: Map<string, FileNode>, sources: Map<string, SourceFile>, syntax: Map<string, Diagnostic[]>): BrokenRegion[] {
  const out: BrokenRegion[] = [];
  for (const [file, ds] of syntax) {
    const items = files.get(file)?.items ?? [];
    const length = sources.get(file)?.text.length ?? 0;
    for (const d of ds) {
      if (!d.span || !/^MS10[1-9]/.test(d.code)) continue;
      const at = d.span.start;
      let i = -1;
      while (i + 1 < items.length && items[i + 1]!.span.start <= at) i++;
      const item = items[i];
      const end = items[i + 1]?.span.start ?? length;
      out.push({ file, item: item && item.kind !== 'Import' ? item : undefined, unclosedAt: d.code === 'MS1014' ? at : undefined, end });
    }
  }
  return out;
}

/** The bag without structural errors inside a block whose `}` is missing (reported as MS1014). */
function withoutCascades(bag: DiagnosticBag, broken: readonly BrokenRegion[]): DiagnosticBag {
  const cut = broken.filter((r) => r.unclosedAt !== undefined);
  if (cut.length === 0) return bag;
  const inCut = (s: Span) => cut.some((r) => r.file === s.file && s.start > r.unclosedAt! && s.start < r.end);
  const out = new DiagnosticBag();
  out.addAll(bag.all.filter((d) => !(STRUCTURAL.has(d.code) && d.span && inCut(d.span))));
  return out;
}

/**
 * An error found in a base model while building `item` gets a note in the derived model's file,
 * so the user sees which model (and file) pulled the base in: `in model 'derived', which
 * extends 'base'`.
 */
function throughExtends(d: Diagnostic, item: ModelNode, chain: readonly Located<ModelNode>[]): Diagnostic {
  if (!d.span) return d;
  const within = (c: Located<ModelNode>) =>
    c.file === d.span!.file && d.span!.start >= c.node.span.start && d.span!.start < c.node.span.end;
  const at = chain.findIndex(within);
  if (at < 0 || chain[at]!.node === item) return d;
  // chain runs from the farthest base to `item`.
  const bases = chain
    .slice(at, -1)
    .reverse()
    .map((c) => `'${c.node.name.name}'`);
  const message = `in model '${item.name.name}', which extends ${bases.join(', which extends ')}`;
  return { ...d, related: [...(d.related ?? []), { span: item.name.span, message }] };
}

function hasErrorsIn(bag: DiagnosticBag, files: string[]): boolean {
  return bag.all.some((d) => d.severity === 'error' && d.span && files.includes(d.span.file));
}

function loadFiles(
  entry: string,
  host: Host,
  bag: DiagnosticBag,
  sources: Map<string, SourceFile>,
  files: Map<string, FileNode>,
  syntax: Map<string, Diagnostic[]>,
): void {
  const queue: { path: string; from?: { span: import('../diagnostics/span.js').Span } }[] = [{ path: entry }];
  while (queue.length) {
    const { path, from } = queue.shift()!;
    if (files.has(path)) continue;
    const text = host.readFile(path);
    if (typeof text !== 'string') {
      if (from) bag.report('MS2007', from.span, { path, reason: text.error }, { hint: 'import paths are relative to the importing file' });
      else bag.report('MS5001', undefined, { path, reason: text.error });
      files.set(path, { kind: 'File', path, items: [], comments: [], span: { file: path, start: 0, end: 0 } });
      continue;
    }
    sources.set(path, { path, text });
    const r = parse(text, path);
    bag.addAll(r.diagnostics);
    syntax.set(path, r.diagnostics);
    files.set(path, r.file);
    for (const item of r.file.items) {
      if (item.kind !== 'Import') continue;
      const rel = item.path.value;
      const target = posix.normalize(posix.isAbsolute(rel) ? rel : posix.join(posix.dirname(path), rel));
      queue.push({ path: target, from: { span: item.path.span } });
    }
  }
}

function extendsChain(start: ModelNode, models: Map<string, Located<ModelNode>>, bag: DiagnosticBag): Located<ModelNode>[] | undefined {
  const chain: Located<ModelNode>[] = [];
  const walked: string[] = [];
  let cur: Located<ModelNode> | undefined = models.get(start.name.name);
  while (cur) {
    const name = cur.node.name.name;
    if (walked.includes(name)) {
      bag.report(
        'MS2009',
        start.base?.span ?? start.name.span,
        { cycle: [...walked, name].join(' → ') },
        { hint: 'a model cannot extend itself, directly or through its bases' },
      );
      return undefined;
    }
    walked.push(name);
    chain.unshift(cur);
    const base = cur.node.base;
    if (!base) break;
    const next = models.get(base.name);
    if (!next) {
      bag.report(
        'MS2008',
        base.span,
        { name: base.name, suggestion: didYouMean(base.name, models.keys()) },
        { hint: 'define the base model in this file or import the file that defines it' },
      );
      return undefined;
    }
    cur = next;
  }
  return chain;
}
