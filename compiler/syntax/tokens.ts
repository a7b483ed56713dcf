/**
 * Token definitions for `.model` files. Patterns are deliberately permissive where a strict
 * pattern would turn one mistake into a cascade: a Number token swallows any digit-led run
 * (`4kb`, `1__0`, `.5`) and a String token may be unterminated. lexer.ts then validates those
 * tokens and reports one precise diagnostic each (MS1002, MS1003), while the parser still
 * sees a single well-formed-looking token and keeps going.
 *
 * `label` is the human name used in "expected X, found Y" messages.
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

// ── trivia ────────────────────────────────────────────────────────────────────
export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  pattern: /[ \t\r\n\f\v\uFEFF\u00A0]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});

/** Comments go to their own token group: the parser never sees them, the formatter does. */
export const COMMENTS = 'comments';

export const LineComment = createToken({
  name: 'LineComment',
  pattern: /\/\/[^\n\r]*/,
  group: COMMENTS,
});

/** Runs to the closing star-slash or, if unterminated, to the end of the text (lexer.ts reports MS1004). */
export const BlockComment = createToken({
  name: 'BlockComment',
  pattern: /\/\*(?:[^*]|\*(?!\/))*(?:\*\/)?/,
  group: COMMENTS,
  line_breaks: true,
});

/**
 * A category (never lexed itself) for every token that cannot start an entry or an item and
 * does not close a block. The parser consumes runs of them as "stray" input and reports one
 * error per run, instead of letting a single typo end the enclosing block.
 */
export const Stray = createToken({ name: 'Stray', pattern: Lexer.NA });

/** `model`, `train`, `import`: the words that start an item (and so may end a block). */
export const ItemKeyword = createToken({ name: 'ItemKeyword', pattern: Lexer.NA });

// ── literals ──────────────────────────────────────────────────────────────────
/**
 * Any run that starts with a digit (or `.` then a digit) and continues with word characters,
 * `.` followed by a word character, or an exponent sign (`e-5`). Validated in lexer.ts.
 */
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /(?:\d|\.\d)(?:[eE][+-]\d|\w|\.\w)*/,
  label: 'a number',
  categories: [Stray],
});

/** Double-quoted, no newlines inside; the closing quote is optional (lexer.ts reports MS1002). */
export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n]?)*"?/,
  label: 'a string',
  categories: [Stray],
});

export const Identifier = createToken({
  name: 'Identifier',
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  label: 'an identifier',
});

// Keywords must come before Identifier in the token list (the lexer takes the first pattern
// that matches), and `longer_alt: Identifier` makes `modelx` or `none_of_these` lex as one
// identifier instead of a keyword followed by the rest.
const keyword = (word: string, category: TokenType) =>
  createToken({
    name: `Kw_${word}`,
    pattern: new RegExp(word),
    longer_alt: Identifier,
    label: `'${word}'`,
    categories: [category],
  });

export const Model = keyword('model', ItemKeyword);
export const Import = keyword('import', ItemKeyword);
export const Train = keyword('train', ItemKeyword);
export const Extends = keyword('extends', Stray);
export const True = keyword('true', Stray);
export const False = keyword('false', Stray);
export const None = keyword('none', Stray);

// ── punctuation ───────────────────────────────────────────────────────────────
const punct = (name: string, text: string, stray = true) =>
  createToken({ name, pattern: text, label: `'${text}'`, categories: stray ? [Stray] : [] });

// Braces and separators structure blocks, so they are not Stray.
export const LBrace = punct('LBrace', '{', false);
export const RBrace = punct('RBrace', '}', false);
export const Comma = punct('Comma', ',', false);
export const Semicolon = punct('Semicolon', ';', false);
export const LBracket = punct('LBracket', '[');
export const RBracket = punct('RBracket', ']');
export const LParen = punct('LParen', '(');
export const RParen = punct('RParen', ')');
export const Colon = punct('Colon', ':');
export const Equals = punct('Equals', '=');
export const Plus = punct('Plus', '+');
export const Minus = punct('Minus', '-');
export const Star = punct('Star', '*');
export const Slash = punct('Slash', '/');
export const Percent = punct('Percent', '%');
export const Dot = punct('Dot', '.');

/** Order matters: comments before `/`, numbers before `.`, keywords before Identifier. */
export const allTokens: TokenType[] = [
  Stray,
  ItemKeyword,
  WhiteSpace,
  LineComment,
  BlockComment,
  NumberLiteral,
  StringLiteral,
  Model,
  Extends,
  Import,
  Train,
  True,
  False,
  None,
  Identifier,
  LBrace,
  RBrace,
  LBracket,
  RBracket,
  LParen,
  RParen,
  Comma,
  Semicolon,
  Colon,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  Dot,
];
