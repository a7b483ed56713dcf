/**
 * Which `{` lacks its `}`. The parser only notices a missing `}` where it gives up — at the end
 * of the file or at the next `model`/`train`/`import` — which is usually far from the mistake.
 * Like rustc and Swift, this looks at the tokens again and uses indentation to find the opener
 * whose close is missing: a `}` that starts a line closes the innermost open `{` whose line has
 * the same indentation, so every `{` opened after that one and still open is the culprit. When
 * indentation says nothing (a flat file, or every `}` lines up), the openers still open where
 * the parser gave up are blamed, innermost first.
 *
 * Only real tokens from the lexer are read (never recovery-inserted ones), so every position
 * here is a true source offset.
 */
import type { IToken, TokenType } from 'chevrotain';
import { lineColAt, lineStarts } from '../diagnostics/span.js';
import * as T from './tokens.js';

export interface UnclosedBrace {
  /** The `{` whose `}` is missing. */
  readonly open: IToken;
  /** What it opens, for the message: `model 'm'`, `section 'attention'`, `section 'block[0:2]'`. */
  readonly owner: string;
  /** Where the parser gave up: the item keyword that started a new item, or undefined at end of file. */
  readonly stop: IToken | undefined;
  /** 1-based line before which the `}` probably belongs (the first line back at the opener's indentation). */
  readonly closeBefore?: number;
}

interface Open {
  readonly token: IToken;
  readonly index: number;
  readonly indent: number;
}

/** Whether `t` at `i` is an item keyword that ends an open block (the parser's block rule stops there). */
function endsBlock(tokens: readonly IToken[], i: number): boolean {
  const t = tokens[i]!;
  if (!t.tokenType.CATEGORIES?.includes(T.ItemKeyword)) return false;
  const next = tokens[i + 1]?.tokenType;
  return next !== T.Equals && next !== T.Colon;
}

export function findUnclosedBraces(tokens: readonly IToken[], text: string): UnclosedBrace[] {
  const starts = lineStarts(text);
  const lineOf = (t: IToken) => lineColAt(text, t.startOffset, starts).line;
  const indentOf = (line: number) => {
    const from = starts[line - 1]!;
    let i = from;
    while (text[i] === ' ' || text[i] === '\t') i++;
    return i - from;
  };
  const startsLine = (t: IToken) => text.slice(starts[lineOf(t) - 1]!, t.startOffset).trim() === '';

  const out: UnclosedBrace[] = [];
  // The parser's view (plain nesting) decides whether and where a `}` is missing; the
  // indentation view decides which opener it belongs to.
  let nested = 0;
  let byIndent: Open[] = [];
  let blamed: Open[] = [];

  const stopAt = (stop: IToken | undefined, index: number) => {
    if (nested > 0) {
      const culprits = [...blamed, ...[...byIndent].reverse()].slice(0, nested);
      for (const o of culprits) {
        const closeBefore = lineBackAtIndent(tokens, o, index, lineOf, indentOf, startsLine);
        out.push({ open: o.token, owner: ownerOf(tokens, o.index, text), stop, ...(closeBefore !== undefined && { closeBefore }) });
      }
    }
    nested = 0;
    byIndent = [];
    blamed = [];
  };

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.tokenType === T.LBrace) {
      nested++;
      byIndent.push({ token: t, index: i, indent: indentOf(lineOf(t)) });
    } else if (t.tokenType === T.RBrace) {
      if (nested === 0) continue; // a stray `}`: the parser reports it
      nested--;
      const j = startsLine(t) ? findLastIndex(byIndent, (o) => o.indent === indentOf(lineOf(t))) : -1;
      if (j >= 0) {
        blamed.push(...byIndent.slice(j + 1).reverse());
        byIndent = byIndent.slice(0, j);
      } else {
        byIndent.pop();
      }
      // A balanced item is fine however it is indented.
      if (nested === 0) {
        byIndent = [];
        blamed = [];
      }
    } else if (nested > 0 && endsBlock(tokens, i)) {
      stopAt(t, i);
    }
  }
  stopAt(undefined, tokens.length);
  return out;
}

/**
 * The first line after the opener's, before the stop, that is back at (or left of) the
 * opener's indentation — but only when the block's contents were indented at all (on the
 * opener's own line, or on a deeper-indented line), so a flat file gets no guess.
 */
function lineBackAtIndent(
  tokens: readonly IToken[],
  open: Open,
  stopIndex: number,
  lineOf: (t: IToken) => number,
  indentOf: (line: number) => number,
  startsLine: (t: IToken) => boolean,
): number | undefined {
  const openLine = lineOf(open.token);
  let indented = open.index + 1 < stopIndex && lineOf(tokens[open.index + 1]!) === openLine;
  for (let i = open.index + 1; i < stopIndex; i++) {
    const t = tokens[i]!;
    const line = lineOf(t);
    if (line === openLine || !startsLine(t)) continue;
    if (indentOf(line) > open.indent) indented = true;
    else return indented ? line : undefined;
  }
  return undefined;
}

/** What the `{` at `i` opens, named from the tokens before it. */
function ownerOf(tokens: readonly IToken[], i: number, text: string): string {
  const before = (k: number) => tokens[i - k];
  const is = (k: number, type: TokenType) => before(k)?.tokenType === type;
  if (is(1, T.Identifier)) {
    if (is(2, T.Model)) return `model '${before(1)!.image}'`;
    if (is(2, T.Train)) return `train '${before(1)!.image}'`;
    if (is(2, T.Extends) && is(4, T.Model)) return `model '${before(3)!.image}'`;
    return `section '${before(1)!.image}'`;
  }
  if (is(1, T.RBracket)) {
    const open = findLastIndex(tokens.slice(0, i), (t) => t.tokenType === T.LBracket);
    const key = tokens[open - 1];
    if (open > 0 && key?.tokenType === T.Identifier) {
      const close = before(1)!;
      return `section '${text.slice(key.startOffset, close.startOffset + close.image.length)}'`;
    }
  }
  return 'this block';
}

function findLastIndex<X>(xs: readonly X[], pred: (x: X) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (pred(xs[i]!)) return i;
  return -1;
}
