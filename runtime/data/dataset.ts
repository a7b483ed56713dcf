/**
 * A training set: the spec's data read (./source.ts), tokenised, checked against the model's
 * vocabulary and split BY POSITION: the first ⌊n·(1 − valFraction)⌋ tokens of the stream are
 * the training split, the rest the validation split (nanoGPT's `data[:int(n*0.9)]`). The same
 * inputs always give the same splits.
 */
import { GPT2_VOCAB, gpt2Tokenizer } from '../tokenizers/gpt2.js';
import {
  byteTokenizer,
  charsOf,
  charTokenizer,
  tokenizerFrom,
  withSpecials,
  type SpecialToken,
  type Tokenizer,
  type TokenizerData,
} from '../tokenizers/index.js';
import type { TokenizerKind } from '../tokenizers/load.js';
import { checkTokenIds, DataError, readDataSource, type DataSource, type TokenArray } from './source.js';

export interface PrepareDatasetOptions {
  /** A built-in corpus name, a text file, a folder of text files or a `.bin` token file. */
  data: string;
  tokenizer: TokenizerKind;
  /** The spec file's folder: relative `data` paths are resolved from it (default: cwd). */
  specDir?: string;
  /** The share of the token stream, taken from its end, held out for validation (default 0.1). */
  valFraction?: number;
  /** The model's vocabulary size: when given, every token id must be below it. */
  vocab?: number;
  /**
   * Tokenise with this tokenizer instead of building one (fine-tuning keeps the checkpoint's;
   * a resumed run keeps its own). Its kind must be `tokenizer`. Text with a character outside
   * a fixed char vocabulary is a DataError naming the characters and where they are.
   */
  fixed?: { readonly tokenizer: TokenizerData; readonly from: string };
  /**
   * Special tokens the objective needs ([MASK] for a masked LM), appended after the ordinary
   * ids (a fixed tokenizer that lacks them gets them; the text itself never contains them).
   */
  specials?: readonly SpecialToken[];
}

export interface Dataset {
  /** byte, gpt2, or char with the character vocabulary of the WHOLE text (code-point order). */
  readonly tokenizer: Tokenizer;
  /** The first ⌊n·(1 − valFraction)⌋ tokens (a view of the same buffer as `val`). */
  readonly train: TokenArray;
  /** The remaining tokens. */
  readonly val: TokenArray;
  /** n: the whole token stream's length. */
  readonly tokens: number;
  /** Where the data came from (the text or tokens themselves left out). */
  readonly source: DataSourceInfo;
}

export type DataSourceInfo =
  | { readonly kind: 'builtin'; readonly name: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'folder'; readonly path: string; readonly files: readonly string[] }
  | { readonly kind: 'tokens'; readonly path: string; readonly bytesPerToken: 2 | 4 };

export const DEFAULT_VAL_FRACTION = 0.1;

export function prepareDataset(opts: PrepareDatasetOptions): Dataset {
  const valFraction = opts.valFraction ?? DEFAULT_VAL_FRACTION;
  if (!Number.isFinite(valFraction) || valFraction < 0 || valFraction >= 1) {
    throw new DataError(
      `valFraction must be at least 0 and below 1 (the share of tokens held out for validation), got ${valFraction}; 0.1 is usual`,
    );
  }
  if (opts.vocab !== undefined && !(Number.isInteger(opts.vocab) && opts.vocab > 0)) {
    throw new DataError(`the model's vocab must be a positive integer, got ${opts.vocab}`);
  }
  if (opts.fixed && opts.fixed.tokenizer.kind !== opts.tokenizer) {
    throw new DataError(
      `${opts.fixed.from} uses the ${opts.fixed.tokenizer.kind} tokenizer, not ${opts.tokenizer}; its embedding only fits that tokenizer's ids, so train with --tokenizer ${opts.fixed.tokenizer.kind}`,
    );
  }
  const src = readDataSource(opts.data, { ...(opts.specDir !== undefined ? { specDir: opts.specDir } : {}) });

  let tokenizer: Tokenizer;
  let tokens: TokenArray;
  if (src.kind === 'tokens') {
    if (opts.tokenizer === 'char') {
      throw new DataError(
        `the token file ${src.path} is already tokenised, but tokenizer = char needs the text to build its character vocabulary; use tokenizer = byte or gpt2 (whichever made the file), or give the text instead`,
      );
    }
    tokenizer = opts.tokenizer === 'gpt2' ? gpt2Tokenizer() : byteTokenizer();
    tokens = src.tokens;
    checkTokenIds(
      tokens,
      tokenizer.vocab,
      `the token file ${src.path}`,
      `it was not made with the ${opts.tokenizer} tokenizer (vocabulary ${tokenizer.vocab}); name the tokenizer that made it`,
    );
  } else if (opts.fixed?.tokenizer.kind === 'char') {
    tokenizer = tokenizerFrom({ kind: 'char', chars: opts.fixed.tokenizer.chars });
    tokens = encodeChars(src, opts.fixed.tokenizer.chars, opts.fixed.from);
  } else {
    ({ tokenizer, tokens } = tokenize(src.text, opts.tokenizer));
  }
  // The ordinary ids are final: specials go after them (the ids of the text do not change).
  const specials = opts.specials ?? opts.fixed?.tokenizer.specials ?? [];
  tokenizer = withSpecials(tokenizer, specials);
  if (opts.vocab !== undefined) {
    const what = src.kind === 'tokens' ? `the token file ${src.path}` : `${describe(src)}, tokenised with ${opts.tokenizer},`;
    const hint =
      tokenizer.kind === 'char'
        ? `set the model's vocab to ${tokenizer.vocab}, the number of distinct characters in the data`
        : tokenizer.kind === 'gpt2'
          ? `GPT-2 tokens need vocab ≥ ${GPT2_VOCAB} (50304, a multiple of 64, is usual)`
          : `byte tokens need vocab ≥ 256`;
    checkTokenIds(tokens, opts.vocab, what, hint);
  }

  const n = tokens.length;
  const nTrain = Math.floor(n * (1 - valFraction));
  return {
    tokenizer,
    train: tokens.subarray(0, nTrain),
    val: tokens.subarray(nTrain),
    tokens: n,
    source: info(src),
  };
}

/** Tokenises a whole text into a typed array (uint16 whenever every id fits). */
export function tokenize(text: string, kind: TokenizerKind): { tokenizer: Tokenizer; tokens: TokenArray } {
  switch (kind) {
    case 'byte':
      return { tokenizer: byteTokenizer(), tokens: new Uint16Array(new TextEncoder().encode(text)) };
    case 'gpt2': {
      const tokenizer = gpt2Tokenizer();
      return { tokenizer, tokens: Uint16Array.from(tokenizer.encode(text)) };
    }
    case 'char': {
      const chars = charsOf(text);
      const index = new Map(chars.map((c, i) => [c, i]));
      const ids: number[] = [];
      for (const c of text) ids.push(index.get(c)!);
      return { tokenizer: charTokenizer(chars), tokens: chars.length <= 65536 ? Uint16Array.from(ids) : Int32Array.from(ids) };
    }
  }
}

/**
 * Encodes a text with a given character vocabulary; a DataError names the characters outside it
 * (the first few, each with where it first occurs) rather than mapping them silently.
 */
function encodeChars(src: Exclude<DataSource, { kind: 'tokens' }>, chars: readonly string[], from: string): TokenArray {
  const index = new Map(chars.map((c, i) => [c, i]));
  const ids = chars.length <= 65536 ? new Uint16Array(src.text.length) : new Int32Array(src.text.length);
  const unseen = new Map<string, { at: number; count: number }>();
  let n = 0;
  let at = 0;
  for (const c of src.text) {
    const id = index.get(c);
    if (id === undefined) {
      const u = unseen.get(c);
      if (u) u.count++;
      else unseen.set(c, { at, count: 1 });
    } else ids[n++] = id;
    at += c.length;
  }
  if (unseen.size === 0) return ids.subarray(0, n);
  const list = [...unseen]
    .slice(0, 5)
    .map(
      ([c, u]) =>
        `${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}, ${u.count}×, first at ${where(src, u.at)})`,
    );
  const more = unseen.size > 5 ? ` and ${unseen.size - 5} more` : '';
  throw new DataError(
    `${describe(src)} has ${unseen.size} character${unseen.size === 1 ? '' : 's'} outside the ${chars.length}-character vocabulary of ${from}: ${list.join('; ')}${more}. The embedding has one row per vocabulary character, so fine-tuning keeps that vocabulary: remove or replace these characters in the text, or train from scratch (without --init or --resume) to build a new vocabulary`,
  );
}

/** "line L, column C" of UTF-16 offset `at` in a source's text (in its own file for a folder). */
function where(src: Exclude<DataSource, { kind: 'tokens' }>, at: number): string {
  let text = src.text;
  let prefix = '';
  if (src.kind === 'folder') {
    let k = 0;
    while (k + 1 < src.starts.length && src.starts[k + 1]! <= at) k++;
    text = text.slice(src.starts[k]!);
    at -= src.starts[k]!;
    prefix = `${src.files[k]} `;
  }
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = Array.from(before.slice(before.lastIndexOf('\n') + 1)).length + 1;
  return `${prefix}line ${line}, column ${column}`;
}

function describe(src: Exclude<DataSource, { kind: 'tokens' }>): string {
  switch (src.kind) {
    case 'builtin':
      return `the built-in corpus '${src.name}'`;
    case 'file':
      return `the training file ${src.path}`;
    case 'folder':
      return `the training folder ${src.path}`;
  }
}

function info(src: DataSource): DataSourceInfo {
  switch (src.kind) {
    case 'builtin':
      return { kind: 'builtin', name: src.name };
    case 'file':
      return { kind: 'file', path: src.path };
    case 'folder':
      return { kind: 'folder', path: src.path, files: src.files };
    case 'tokens':
      return { kind: 'tokens', path: src.path, bytesPerToken: src.bytesPerToken };
  }
}
