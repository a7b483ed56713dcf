/**
 * Getting a tokenizer by name: for a training text (the spec's `tokenizer = byte | char | gpt2`)
 * and from the JSON stored in a checkpoint or manifest (validated, so a damaged file gives a
 * clear error rather than a tokenizer that silently maps ids wrongly).
 */
import { byteTokenizer, charsOf, charTokenizer, TokenizerError, tokenizerFrom, type Tokenizer, type TokenizerData } from './index.js';
import { gpt2Tokenizer } from './gpt2.js';
import { SPECIAL_TOKENS, withSpecials } from './specials.js';
import type { SpecialToken } from './types.js';

export const TOKENIZER_KINDS = ['byte', 'char', 'gpt2'] as const;
export type TokenizerKind = (typeof TOKENIZER_KINDS)[number];

export function isTokenizerKind(name: string): name is TokenizerKind {
  return (TOKENIZER_KINDS as readonly string[]).includes(name);
}

/**
 * The tokenizer of `kind` for a training text. Only 'char' uses the text: its vocabulary is
 * `charsOf(text)`, the distinct characters of the WHOLE text in code-point order.
 */
export function tokenizerForText(kind: TokenizerKind, text: string, specials: readonly SpecialToken[] = []): Tokenizer {
  switch (kind) {
    case 'byte':
      return withSpecials(byteTokenizer(), specials);
    case 'char':
      return withSpecials(charTokenizer(charsOf(text)), specials);
    case 'gpt2':
      return withSpecials(gpt2Tokenizer(), specials);
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
  if (kind === 'hf') return parseHf(v as Record<string, unknown>);
  if (typeof kind !== 'string' || !isTokenizerKind(kind)) {
    throw new TokenizerError(
      `unknown stored tokenizer kind ${JSON.stringify(kind)}; expected one of ${TOKENIZER_KINDS.join(', ')}, hf (a newer mspec may have written it)`,
    );
  }
  const specials = parseSpecials((v as { specials?: unknown }).specials);
  const extra = specials.length ? { specials } : {};
  if (kind !== 'char') return { kind, ...extra };
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
  return { kind: 'char', chars: chars as string[], ...extra };
}

/** A stored Hugging Face tokenizer: tokenizer.json (with a `model`) and its config, both objects. */
function parseHf(v: Record<string, unknown>): TokenizerData {
  const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  const { tokenizer, config } = v;
  if (!isObject(tokenizer) || !isObject(tokenizer.model) || !isObject(config))
    throw new TokenizerError(
      'a stored Hugging Face tokenizer needs "tokenizer" (tokenizer.json, with a "model") and "config" objects; the checkpoint may be damaged',
    );
  const specials = parseSpecials(v.specials);
  return { kind: 'hf', tokenizer, config, ...(specials.length ? { specials } : {}) };
}

/** A stored `specials` list: known spellings, each once (absent: none). */
function parseSpecials(v: unknown): SpecialToken[] {
  if (v === undefined) return [];
  if (!Array.isArray(v))
    throw new TokenizerError(`a stored tokenizer's "specials" must be an array like ["[MASK]"]; the checkpoint or manifest may be damaged`);
  const out: SpecialToken[] = [];
  for (const s of v) {
    if (!(SPECIAL_TOKENS as readonly unknown[]).includes(s))
      throw new TokenizerError(
        `unknown special token ${JSON.stringify(s)} in a stored tokenizer; expected one of ${SPECIAL_TOKENS.join(', ')} (a newer mspec may have written it)`,
      );
    if (out.includes(s as SpecialToken))
      throw new TokenizerError(`a stored tokenizer lists the special token ${s} twice; the checkpoint or manifest may be damaged`);
    out.push(s as SpecialToken);
  }
  return out;
}

/** `tokenizerFrom(parseTokenizerData(stored))`. */
export function loadTokenizer(stored: unknown): Tokenizer {
  return tokenizerFrom(parseTokenizerData(stored));
}
