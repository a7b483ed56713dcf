/**
 * Text → tokens, plus the lexical diagnostics (MS1001–MS1004 and bad string escapes). The
 * Chevrotain lexer only splits the text; validity of numbers, strings and block comments is
 * checked here afterwards so each mistake is one diagnostic on one token.
 */
import { Lexer, type IToken } from 'chevrotain';
import { type Diagnostic, diagnostic } from '../diagnostics/diagnostic.js';
import { type Span, span } from '../diagnostics/span.js';
import { decodeString, numberValue } from './literals.js';
import { allTokens, BlockComment, COMMENTS, NumberLiteral, StringLiteral } from './tokens.js';

export interface Comment {
  readonly kind: 'Comment';
  /** The comment's full text including `//` or `/* *\/`. */
  readonly text: string;
  readonly span: Span;
}

/** One instance for the whole process: building a Lexer analyses every pattern. */
export const lexer = new Lexer(allTokens, { positionTracking: 'onlyOffset', ensureOptimizations: false });

export interface LexResult {
  /** The tokens the parser sees (no whitespace, comments or unknown characters). */
  readonly tokens: IToken[];
  readonly comments: Comment[];
  readonly diagnostics: Diagnostic[];
}

/**
 * The span of a real (not recovery-inserted) token; end is exclusive. With offset-only
 * tracking Chevrotain leaves endOffset unset, and the image is the exact source text anyway.
 */
export function tokenSpan(path: string, t: IToken): Span {
  return span(path, t.startOffset, t.startOffset + t.image.length);
}

export function tokenize(text: string, path: string): LexResult {
  const result = lexer.tokenize(text);
  const diagnostics: Diagnostic[] = [];

  // Anything no pattern matches is a lexer "error" that Chevrotain skips one character at a
  // time; report each run of adjacent ones once, naming its first character.
  let runEnd = -1;
  for (const e of result.errors) {
    if (e.offset !== runEnd) {
      diagnostics.push(diagnostic('MS1001', unknownSpan(text, path, e.offset), { char: showChar(text, e.offset) }));
    }
    runEnd = e.offset + Math.max(1, e.length);
  }

  const comments: Comment[] = [];
  for (const t of result.groups[COMMENTS] ?? []) {
    comments.push({ kind: 'Comment', text: t.image, span: tokenSpan(path, t) });
    if (t.tokenType === BlockComment && (t.image.length < 4 || !t.image.endsWith('*/'))) {
      diagnostics.push(diagnostic('MS1004', span(path, t.startOffset, t.startOffset + 2)));
    }
  }

  for (const t of result.tokens) {
    if (t.tokenType === NumberLiteral && numberValue(t.image) === undefined) {
      diagnostics.push(diagnostic('MS1003', tokenSpan(path, t), { text: t.image }));
    } else if (t.tokenType === StringLiteral) {
      const s = decodeString(t.image);
      if (!s.terminated) diagnostics.push(diagnostic('MS1002', tokenSpan(path, t)));
      for (const bad of s.badEscapes) {
        const at = t.startOffset + bad.offset;
        diagnostics.push(
          diagnostic('MS1011', span(path, at, at + bad.text.length), {
            found: `escape '${bad.text}'`,
            context: 'strings may only use \\", \\\\, \\n and \\t',
          }),
        );
      }
    }
  }

  // Lexer groups are each in source order; keep the diagnostics in source order too.
  diagnostics.sort((a, b) => (a.span?.start ?? 0) - (b.span?.start ?? 0));
  return { tokens: result.tokens, comments, diagnostics };
}

/** A whole code point, so an emoji is one character rather than two halves. */
function unknownSpan(text: string, path: string, offset: number): Span {
  const cp = text.codePointAt(offset);
  return span(path, offset, Math.min(text.length, offset + (cp !== undefined && cp > 0xffff ? 2 : 1)));
}

/** The character as it should appear in a message: control characters as `U+0007`. */
function showChar(text: string, offset: number): string {
  const cp = text.codePointAt(offset);
  if (cp === undefined) return '?';
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0xd800 && cp <= 0xdfff)) {
    return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return String.fromCodePoint(cp);
}
