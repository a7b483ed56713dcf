/**
 * A training set: the spec's data read (./source.ts), tokenised, checked against the model's
 * vocabulary and split BY POSITION: the first ⌊n·(1 − valFraction)⌋ tokens of the stream are
 * the training split, the rest the validation split (nanoGPT's `data[:int(n*0.9)]`). The same
 * inputs always give the same splits.
 */
import { GPT2_VOCAB, gpt2Tokenizer } from '../tokenizers/gpt2.js';
import { byteTokenizer, charsOf, charTokenizer, type Tokenizer } from '../tokenizers/index.js';
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
    throw new DataError(`valFraction must be at least 0 and below 1 (the share of tokens held out for validation), got ${valFraction}; 0.1 is usual`);
  }
  if (opts.vocab !== undefined && !(Number.isInteger(opts.vocab) && opts.vocab > 0)) {
    throw new DataError(`the model's vocab must be a positive integer, got ${opts.vocab}`);
  }
  const src = readDataSource(opts.data, { ...(opts.specDir !== undefined ? { specDir: opts.specDir } : {}) });

  let tokenizer: Tokenizer;
  let tokens: TokenArray;
  if (src.kind === 'tokens') {
    if (opts.tokenizer === 'char') {
      throw new DataError(`the token file ${src.path} is already tokenised, but tokenizer = char needs the text to build its character vocabulary; use tokenizer = byte or gpt2 (whichever made the file), or give the text instead`);
    }
    tokenizer = opts.tokenizer === 'gpt2' ? gpt2Tokenizer() : byteTokenizer();
    tokens = src.tokens;
    checkTokenIds(tokens, tokenizer.vocab, `the token file ${src.path}`,
      `it was not made with the ${opts.tokenizer} tokenizer (vocabulary ${tokenizer.vocab}); name the tokenizer that made it`);
  } else {
    ({ tokenizer, tokens } = tokenize(src.text, opts.tokenizer));
  }
  if (opts.vocab !== undefined) {
    const what = src.kind === 'tokens' ? `the token file ${src.path}` : `${describe(src)}, tokenised with ${opts.tokenizer},`;
    const hint = tokenizer.kind === 'char'
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
