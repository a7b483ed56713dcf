/**
 * Getting a tokenizer by name: for a training text (the spec's `tokenizer = byte | char | gpt2`)
 * and from the JSON stored in a checkpoint or manifest (validated, so a damaged file gives a
 * clear error rather than a tokenizer that silently maps ids wrongly).
 */
import { byteTokenizer, charsOf, charTokenizer, TokenizerError, tokenizerFrom, type Tokenizer, type TokenizerData } from './index.js';
import { gpt2Tokenizer } from './gpt2.js';

export const TOKENIZER_KINDS = ['byte', 'char', 'gpt2'] as const;
export type TokenizerKind = (typeof TOKENIZER_KINDS)[number];

export function isTokenizerKind(name: string): name is TokenizerKind {
  return (TOKENIZER_KINDS as readonly string[]).includes(name);
}

/**
 * The tokenizer of `kind` for a training text. Only 'char' uses the text: its vocabulary is
 * `charsOf(text)`, the distinct characters of the WHOLE text in code-point order.
 */
export function tokenizerForText(kind: TokenizerKind, text: string): Tokenizer {
  switch (kind) {
    case 'byte':
      return byteTokenizer();
    case 'char':
      return charTokenizer(charsOf(text));
    case 'gpt2':
      return gpt2Tokenizer();
  }
}

/**
 * Validates stored tokenizer data (a parsed object or its JSON text). Throws TokenizerError
 * saying what is wrong.
 */
export function parseTokenizerData(stored: unknown): TokenizerData {
  let v = stored;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch (e) {
      throw new TokenizerError(
        `the stored tokenizer description is not valid JSON (${(e as Error).message}); the checkpoint or manifest may be damaged`,
      );
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TokenizerError(
      'the stored tokenizer description must be an object like {"kind":"byte"}; the checkpoint or manifest may be damaged',
    );
  }
  const kind = (v as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !isTokenizerKind(kind)) {
    throw new TokenizerError(
      `unknown stored tokenizer kind ${JSON.stringify(kind)}; expected one of ${TOKENIZER_KINDS.join(', ')} (a newer mspec may have written it)`,
    );
  }
  if (kind !== 'char') return { kind };
  const chars = (v as { chars?: unknown }).chars;
  if (!Array.isArray(chars) || chars.length === 0) {
    throw new TokenizerError('a stored char tokenizer needs a non-empty "chars" array; the checkpoint or manifest may be damaged');
  }
  const seen = new Set<string>();
  for (const c of chars) {
    if (typeof c !== 'string' || Array.from(c).length !== 1) {
      throw new TokenizerError(
        `a stored char tokenizer's "chars" must each be one character, got ${JSON.stringify(c)}; the checkpoint or manifest may be damaged`,
      );
    }
    if (seen.has(c))
      throw new TokenizerError(`a stored char tokenizer lists ${JSON.stringify(c)} twice; the checkpoint or manifest may be damaged`);
    seen.add(c);
  }
  return { kind: 'char', chars: chars as string[] };
}

/** `tokenizerFrom(parseTokenizerData(stored))`. */
export function loadTokenizer(stored: unknown): Tokenizer {
  return tokenizerFrom(parseTokenizerData(stored));
}
