/**
 * The canonical formatter (`mspec fmt`). Layout is decided from the AST; the source text is
 * consulted only for what the AST does not keep: where comments sit relative to code, and
 * where the user left blank lines.
 *
 * Style: 2-space indent; imports first (in source order, one per line), then every other item
 * separated by one blank line; one entry per line; `key = value` directly in a model/train
 * body and `key: value` inside sections; a section whose body is only values and flags, holds
 * no comment and fits in 100 columns goes on one line (`embedding { positions: learned }`).
 * Numbers and strings keep their source text; expressions get minimal parentheses.
 *
 * Comments are never dropped. A comment that shares a line with code before it stays at the
 * end of that code's printed line; any other comment goes on its own line before the next
 * entry (or before the `}` if nothing follows). A comment inside a construct printed on one
 * line (an expression spread over lines, a section header) moves to the end of that line.
 */
import type { Comment, Entry, Expr, FileNode, Item, LayerSelector, SelectorItem } from './nodes.js';

const INDENT = '  ';
const WIDTH = 100;

export function formatFile(file: FileNode, text: string): string {
  return new Printer(file, text).print();
}

// ── expressions ───────────────────────────────────────────────────────────────

/** Binding strength: a child binding more loosely than its context needs parentheses. */
function precedence(e: Expr): number {
  switch (e.kind) {
    case 'Binary':
      return e.op === '+' || e.op === '-' ? 1 : 2;
    case 'Unary':
      return 3;
    case 'Member':
      return 4;
    default:
      return 5;
  }
}

const paren = (s: string, needed: boolean) => (needed ? `(${s})` : s);

export function formatExpr(e: Expr): string {
  switch (e.kind) {
    case 'Number':
    case 'String':
      return e.raw;
    case 'Bool':
      return e.value ? 'true' : 'false';
    case 'None':
      return 'none';
    case 'Name':
      return e.name;
    case 'Member':
      // `(1).x` must keep its parentheses: `1.x` would lex as one (invalid) number.
      return `${paren(formatExpr(e.object), precedence(e.object) < 4 || e.object.kind === 'Number')}.${e.property.name}`;
    case 'Call':
      return `${e.callee.name}(${e.args.map((a) => (a.name ? `${a.name.name}: ${formatExpr(a.value)}` : formatExpr(a.value))).join(', ')})`;
    case 'Tuple':
      return e.items.length === 1 ? `(${formatExpr(e.items[0]!)},)` : `(${e.items.map(formatExpr).join(', ')})`;
    case 'Unary':
      return `${e.op}${paren(formatExpr(e.operand), precedence(e.operand) < 3)}`;
    case 'Binary': {
      // Left-associative: equal precedence needs parentheses only on the right (`a - (b - c)`).
      const p = precedence(e);
      return `${paren(formatExpr(e.left), precedence(e.left) < p)} ${e.op} ${paren(formatExpr(e.right), precedence(e.right) <= p)}`;
    }
  }
}

function formatSelectorItem(s: SelectorItem): string {
  if (s.kind === 'Index') return formatExpr(s.value);
  const part = (x: Expr | undefined) => (x ? formatExpr(x) : '');
  return `${part(s.start)}:${part(s.stop)}${s.step ? `:${formatExpr(s.step)}` : ''}`;
}

export function formatSelector(s: LayerSelector): string {
  return `[${s.items.map(formatSelectorItem).join(', ')}]`;
}

// ── layout ────────────────────────────────────────────────────────────────────

/** What follows a comment-free gap on the same line: spaces and the optional separators. */
const SAME_LINE_GAP = /[ \t,;]*/y;
/** A line with nothing on it between two pieces of code. */
const BLANK_LINE = /\n[ \t\r]*\n/;

class Printer {
  private readonly comments: readonly Comment[];
  private readonly commentAt = new Map<number, Comment>();
  /** Comments are printed in source order; this is the first one not yet printed. */
  private next = 0;

  constructor(
    private readonly file: FileNode,
    private readonly text: string,
  ) {
    this.comments = [...file.comments].sort((a, b) => a.span.start - b.span.start);
    for (const c of this.comments) this.commentAt.set(c.span.start, c);
  }

  print(): string {
    const items = [...this.file.items].sort((a, b) => a.span.start - b.span.start);
    const header = this.fileHeader(items[0]?.span.start);
    const imports: string[][] = [];
    const others: string[][] = [];
    let prevEnd = 0;
    for (const item of items) {
      const { lines, end: commentsEnd } = this.ownLineComments(item.span.start, '', prevEnd, true);
      if (lines.length > 0 && this.blankBetween(commentsEnd, item.span.start)) lines.push('');
      const { lines: itemLines, end } = this.item(item);
      lines.push(...itemLines);
      (item.kind === 'Import' ? imports : others).push(lines);
      prevEnd = end;
    }
    const chunks = [
      ...(header.length > 0 ? [header.join('\n')] : []),
      ...(imports.length > 0 ? [imports.map((c) => c.join('\n')).join('\n')] : []),
      ...others.map((c) => c.join('\n')),
    ];
    // Comments after the last item (or all of them, in a file without items).
    const tail = this.ownLineComments(Infinity, '', prevEnd, chunks.length === 0).lines;
    if (tail.length > 0 && chunks.length > 0) chunks[chunks.length - 1] += `\n${tail.join('\n')}`;
    else if (tail.length > 0) chunks.push(tail.join('\n'));
    return chunks.length === 0 ? '' : `${chunks.join('\n\n')}\n`;
  }

  /**
   * Comments at the top of the file that are separated from the first item by a blank line
   * describe the file, not that item: they stay first even when imports are moved up.
   */
  private fileHeader(firstItemStart: number | undefined): string[] {
    if (firstItemStart === undefined) return [];
    const before = this.comments.filter((c) => c.span.start < firstItemStart);
    let last = -1;
    for (let k = 0; k < before.length; k++) {
      if (this.blankBetween(before[k]!.span.end, before[k + 1]?.span.start ?? firstItemStart)) last = k;
    }
    return last < 0 ? [] : this.ownLineComments(before[last]!.span.end, '', 0, true).lines;
  }

  // ── comments ────────────────────────────────────────────────────────────────
  /**
   * Every not-yet-printed comment that starts before `pos`, each on its own line, with one
   * blank line where the source had any since `prevEnd` (but none first when `atStart`, at
   * the top of a block). `end` is where the last comment ended in the source.
   */
  private ownLineComments(pos: number, indent: string, prevEnd: number, atStart: boolean): { lines: string[]; end: number } {
    const lines: string[] = [];
    let end = prevEnd;
    for (const c of this.takeBefore(pos)) {
      if ((lines.length > 0 || !atStart) && this.blankBetween(end, c.span.start)) lines.push('');
      lines.push(indent + c.text);
      end = c.span.end;
    }
    return { lines, end };
  }

  /** Comments starting before `pos` (inside a construct printed on one line). */
  private takeBefore(pos: number): Comment[] {
    const out: Comment[] = [];
    while (this.next < this.comments.length && this.comments[this.next]!.span.start < pos) out.push(this.comments[this.next++]!);
    return out;
  }

  /** Comments that follow `pos` on the same line, each possibly after another. */
  private takeTrailing(pos: number): { comments: Comment[]; end: number } {
    const comments: Comment[] = [];
    let end = pos;
    while (this.next < this.comments.length) {
      const c = this.comments[this.next]!;
      SAME_LINE_GAP.lastIndex = end;
      SAME_LINE_GAP.exec(this.text);
      if (SAME_LINE_GAP.lastIndex !== c.span.start) break;
      comments.push(c);
      this.next++;
      end = c.span.end;
    }
    return { comments, end };
  }

  private hasCommentBefore(pos: number): boolean {
    return this.next < this.comments.length && this.comments[this.next]!.span.start < pos;
  }

  /**
   * `line` followed by its comments, two spaces apart. A `//` comment must end the line, so
   * any comment after one goes on its own line below (where it will stay on a re-format).
   */
  private withComments(line: string, comments: readonly Comment[], indent: string): string[] {
    if (comments.length === 0) return [line];
    const cut = comments.findIndex((c) => c.text.startsWith('//'));
    const sameLine = cut < 0 ? comments : comments.slice(0, cut + 1);
    const below = cut < 0 ? [] : comments.slice(cut + 1);
    return [`${line}  ${sameLine.map((c) => c.text).join(' ')}`, ...below.map((c) => indent + c.text)];
  }

  private blankBetween(from: number, to: number): boolean {
    return from < to && BLANK_LINE.test(this.text.slice(from, to));
  }

  /** The `{` that opens a block, searched from `from` past spaces and comments. */
  private openBrace(from: number): number | undefined {
    let i = from;
    while (i < this.text.length) {
      const c = this.commentAt.get(i);
      if (c) i = c.span.end;
      else if (/\s/.test(this.text[i]!)) i++;
      else return this.text[i] === '{' ? i : undefined;
    }
    return undefined;
  }

  // ── items and entries ───────────────────────────────────────────────────────
  private item(item: Item): { lines: string[]; end: number } {
    if (item.kind === 'Import') {
      const inner = this.takeBefore(item.span.end);
      const trailing = this.takeTrailing(item.span.end);
      // A `//` comment between `import` and its path would push the trailing ones onto lines
      // of their own, which a re-format reads as comments before the next item: put comments
      // from inside the import above it instead, so formatting stays idempotent.
      if (inner.some((c) => c.text.startsWith('//'))) {
        return {
          lines: [...inner.map((c) => c.text), ...this.withComments(`import ${item.path.raw}`, trailing.comments, '')],
          end: trailing.end,
        };
      }
      return { lines: this.withComments(`import ${item.path.raw}`, [...inner, ...trailing.comments], ''), end: trailing.end };
    }
    const header =
      item.kind === 'Model' ? `model ${item.name.name}${item.base ? ` extends ${item.base.name}` : ''}` : `train ${item.target.name}`;
    const afterHeader = item.kind === 'Model' ? (item.base ?? item.name).span.end : item.target.span.end;
    return this.block(header, afterHeader, item.span.end, item.body, '', false);
  }

  /**
   * A `header { body }` construct: a model, train or section. `afterHeader` is where the
   * search for `{` starts; `end` is the node's end (just past `}`).
   */
  private block(
    header: string,
    afterHeader: number,
    end: number,
    body: readonly Entry[],
    indent: string,
    isSection: boolean,
  ): { lines: string[]; end: number } {
    if (!this.hasCommentBefore(end)) {
      const inline = this.inlineBody(body, isSection);
      if (inline !== undefined && indent.length + header.length + inline.length + 1 <= WIDTH) {
        const trailing = this.takeTrailing(end);
        return { lines: this.withComments(`${indent}${header} ${inline}`, trailing.comments, indent), end: trailing.end };
      }
    }
    const open = this.openBrace(afterHeader) ?? afterHeader;
    const close = this.text[end - 1] === '}' ? end - 1 : end;
    const headComments = [...this.takeBefore(open + 1), ...this.takeTrailing(open + 1).comments];
    const lines = this.withComments(`${indent}${header} {`, headComments, indent + INDENT);
    lines.push(...this.entries(body, open + 1, close, indent + INDENT, isSection));
    const trailing = this.takeTrailing(end);
    lines.push(...this.withComments(`${indent}}`, trailing.comments, indent));
    return { lines, end: trailing.end };
  }

  /** `{}`, or `{ a: 1, b }` for a section of values and flags; else undefined. */
  private inlineBody(body: readonly Entry[], isSection: boolean): string | undefined {
    if (body.length === 0) return '{}';
    if (!isSection || body.some((e) => e.kind === 'Section')) return undefined;
    return `{ ${body.map((e) => (e.kind === 'Assign' ? `${e.key.name}: ${formatExpr(e.value)}` : e.key.name)).join(', ')} }`;
  }

  private entries(body: readonly Entry[], bodyStart: number, bodyEnd: number, indent: string, inSection: boolean): string[] {
    const lines: string[] = [];
    let prevEnd = bodyStart;
    for (const entry of body) {
      const comments = this.ownLineComments(entry.span.start, indent, prevEnd, lines.length === 0);
      lines.push(...comments.lines);
      if (lines.length > 0 && this.blankBetween(comments.end, entry.span.start)) lines.push('');
      const printed = this.entry(entry, indent, inSection);
      lines.push(...printed.lines);
      prevEnd = printed.end;
    }
    lines.push(...this.ownLineComments(bodyEnd, indent, prevEnd, lines.length === 0).lines);
    return lines;
  }

  private entry(entry: Entry, indent: string, inSection: boolean): { lines: string[]; end: number } {
    if (entry.kind === 'Section') {
      const header = entry.key.name + (entry.selector ? formatSelector(entry.selector) : '');
      return this.block(header, (entry.selector ?? entry.key).span.end, entry.span.end, entry.body, indent, true);
    }
    const text = entry.kind === 'Flag' ? entry.key.name : `${entry.key.name}${inSection ? ':' : ' ='} ${formatExpr(entry.value)}`;
    const inner = this.takeBefore(entry.span.end);
    const trailing = this.takeTrailing(entry.span.end);
    return { lines: this.withComments(indent + text, [...inner, ...trailing.comments], indent), end: trailing.end };
  }
}
