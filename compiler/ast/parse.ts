/**
 * The front end's one entry point: text → tokens → CST → AST, with diagnostics. It never throws: lexical
 * and parse errors are diagnostics, the parser recovers and the builder keeps what it can,
 * and anything unexpected (a bug) becomes MS9001 with whatever was built so far.
 */
import { EOF, type IRecognitionException, type IToken } from 'chevrotain';
import { buildFile } from './build.js';
import type { FileNode } from './nodes.js';
import { type Diagnostic, DiagnosticBag, diagnostic } from '../diagnostics/diagnostic.js';
import { lineColAt, lineStarts, span } from '../diagnostics/span.js';
import { findUnclosedBraces, type UnclosedBrace } from '../syntax/braces.js';
import { tokenize, tokenSpan } from '../syntax/lexer.js';
import { EXPECTED_CLOSE, type MissingValue, parser, type StrayRun } from '../syntax/parser.js';
import { LBrace, LBracket, LParen, Minus, Plus, RBrace, RBracket, RParen } from '../syntax/tokens.js';

export interface ParseResult {
  file: FileNode;
  diagnostics: Diagnostic[];
}

/**
 * Deeper nesting than this is refused up front: the parser and builder recurse once per level
 * (brackets, and a run of prefix signs `- - - x`), and no real spec comes close.
 */
export const MAX_NESTING = 200;

export function parse(text: string, path: string): ParseResult {
  const bag = new DiagnosticBag();
  const source = typeof text === 'string' ? text : String(text);
  let file: FileNode = { kind: 'File', path, items: [], comments: [], span: span(path, 0, source.length) };
  try {
    const lexed = tokenize(source, path);
    bag.addAll(lexed.diagnostics);
    file = { ...file, comments: lexed.comments };
    const tooDeep = findTooDeep(lexed.tokens);
    if (tooDeep) {
      bag.report('MS1011', tokenSpan(path, tooDeep), {
        found: quote(tooDeep.image),
        context: `nesting is deeper than ${MAX_NESTING} levels`,
      });
      return { file, diagnostics: [...bag.all] };
    }
    parser.source = source;
    parser.input = lexed.tokens;
    const cst = parser.file();
    const unclosed = findUnclosedBraces(lexed.tokens, source);
    bag.addAll(parseDiagnostics(parser.errors, parser.strays, parser.missingValues, unclosed, lexed.diagnostics, source, path));
    file = buildFile(cst, path, source, lexed.comments);
  } catch (e) {
    bag.report('MS9001', span(path, 0, 0), { detail: `parse failed: ${e instanceof Error ? e.message : String(e)}` });
  }
  return { file, diagnostics: [...bag.all] };
}

function findTooDeep(tokens: readonly IToken[]): IToken | undefined {
  let depth = 0;
  let signs = 0;
  for (const t of tokens) {
    const type = t.tokenType;
    signs = type === Minus || type === Plus ? signs + 1 : 0;
    if (type === LParen || type === LBracket || type === LBrace) depth++;
    else if (type === RParen || type === RBracket || type === RBrace) depth = Math.max(0, depth - 1);
    if (depth + signs > MAX_NESTING) return t;
  }
  return undefined;
}

/** `'text'` for a message, shortened so one huge token does not swamp the line. */
function quote(image: string): string {
  return `'${image.length > 24 ? `${image.slice(0, 23)}…` : image}'`;
}

const isEof = (t: IToken) => t.tokenType === EOF || !Number.isFinite(t.startOffset) || t.startOffset < 0;

const TOP_LEVEL = "a file contains only 'import', 'model' and 'train' items";

interface Located {
  readonly at: number;
  readonly diagnostic: Diagnostic;
  /** Tokens recovery skipped after this error: errors on them are its consequences. */
  readonly skipped: readonly IToken[];
}

/**
 * Chevrotain's exceptions and the parser's stray runs → MS1010 (expected X, found Y), MS1012
 * (at end of file) or MS1011 (junk between items); entries with `=` and no value → MS1013;
 * unclosed blocks (braces.ts) → MS1014 at their `{`. The error message provider in parser.ts
 * has already put the human "expected" phrase in each exception's `message`.
 *
 * Recovery can report one mistake more than once. Keep one error per source line (roughly
 * one per entry), none on a token that recovery skipped for an earlier error, and none on a
 * token that already has a lexical error (an unterminated string is not also "unexpected").
 */
function parseDiagnostics(
  errors: readonly IRecognitionException[],
  strays: readonly StrayRun[],
  missing: readonly MissingValue[],
  unclosed: readonly UnclosedBrace[],
  lexical: readonly Diagnostic[],
  text: string,
  path: string,
): Diagnostic[] {
  // A block cut short by the end of the file or the next item is reported once, at its `{`
  // (MS1014), not where the parser noticed; other errors there (`x = 1 +` at EOF) still count.
  const stops = new Set(unclosed.map((u) => (u.stop ? u.stop.startOffset : text.length)));
  const isMissingClose = (e: IRecognitionException) =>
    e.message === EXPECTED_CLOSE && stops.has(isEof(e.token) ? text.length : e.token.startOffset);
  const found: Located[] = [
    ...missing
      .filter((m) => !isEof(m.key) && !isEof(m.op))
      .map((m) => ({ at: m.key.startOffset, diagnostic: fromMissingValue(m, path), skipped: [] })),
    ...errors
      .filter((e) => !isMissingClose(e))
      .map((e) => ({
        at: isEof(e.token) ? text.length : e.token.startOffset,
        diagnostic: fromException(e, text, path),
        skipped: (e as { resyncedTokens?: IToken[] }).resyncedTokens ?? [],
      })),
    ...strays.filter((s) => !isEof(s.token)).map((s) => ({ at: s.token.startOffset, diagnostic: fromStray(s, path), skipped: [] })),
  ];
  found.sort((a, b) => a.at - b.at);
  const starts = lineStarts(text);
  const skipped = new Set<number>(lexical.map((d) => d.span?.start ?? -1));
  const linesWithError = new Set<number>();
  const out: Diagnostic[] = [];
  for (const f of found) {
    const line = lineColAt(text, f.at, starts).line;
    if (skipped.has(f.at) || linesWithError.has(line)) continue;
    linesWithError.add(line);
    for (const t of f.skipped) if (!isEof(t)) skipped.add(t.startOffset);
    out.push(f.diagnostic);
  }
  for (const u of unclosed) out.push(fromUnclosed(u, text, path));
  return out;
}

function fromMissingValue({ key, op }: MissingValue, path: string): Diagnostic {
  return diagnostic(
    'MS1013',
    span(path, key.startOffset, op.startOffset + op.image.length),
    { name: key.image },
    {
      hint: `put the value after '${op.image}' on the same line (${key.image} ${op.image} <value>, as in vocab = 50257), or delete the line`,
    },
  );
}

function fromUnclosed(u: UnclosedBrace, text: string, path: string): Diagnostic {
  const where = u.stop
    ? { span: tokenSpan(path, u.stop), message: `the parser reached '${u.stop.image}' with this '{' still open` }
    : { span: span(path, text.length, text.length), message: "the parser reached the end of the file with this '{' still open" };
  const line = lineColAt(text, u.open.startOffset).line;
  const hint =
    u.closeBefore !== undefined
      ? `add '}' before line ${u.closeBefore}, the first line back at the indentation of line ${line}`
      : u.stop
        ? `add '}' where ${u.owner} ends, before '${u.stop.image}' on line ${lineColAt(text, u.stop.startOffset).line}`
        : `add '}' where ${u.owner} ends (at the latest, at the end of the file)`;
  return diagnostic('MS1014', tokenSpan(path, u.open), { what: u.owner }, { hint, related: [where] });
}

function fromException(e: IRecognitionException, text: string, path: string): Diagnostic {
  const t = e.token;
  if (isEof(t)) return diagnostic('MS1012', span(path, text.length, text.length), { expected: e.message });
  // Only the top-level rule on the stack: the input continued after the last item.
  if (e.context.ruleStack.length <= 1) return diagnostic('MS1011', tokenSpan(path, t), { found: quote(t.image), context: TOP_LEVEL });
  return diagnostic('MS1010', tokenSpan(path, t), { expected: e.message, found: quote(t.image) });
}

function fromStray({ token, context }: StrayRun, path: string): Diagnostic {
  const found = quote(token.image);
  const at = tokenSpan(path, token);
  switch (context) {
    case 'top':
      return diagnostic('MS1011', at, { found, context: token.tokenType === RBrace ? 'there is no open block to close' : TOP_LEVEL });
    case 'header':
      return diagnostic('MS1010', at, { expected: "'{'", found });
    case 'block':
      return diagnostic('MS1010', at, { expected: "an entry or '}'", found });
    case 'keyword':
      return diagnostic('MS1011', at, { found, context: `'${token.image}' is a keyword and cannot name a knob` });
  }
}
