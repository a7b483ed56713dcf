/**
 * Where training data comes from. A spec's `data = "…"` names one of:
 *
 *  - a built-in corpus ('moby-dick', shipped through npm; see ./corpus.ts). A built-in name wins
 *    over a file of the same name; write `./moby-dick` for the file;
 *  - a UTF-8 text file (any extension except `.bin`);
 *  - a folder of text files, read recursively: every `*.txt` and `*.md` file, and every other
 *    file whose content is text (no NUL byte, valid UTF-8). Entries whose name starts with '.'
 *    (.git, .DS_Store, …), `.bin` files and empty files are skipped. The files are sorted by
 *    their path relative to the folder ('/'-separated, compared by UTF-16 code units, so the
 *    order is the same on every machine) and joined with "\n\n";
 *  - a pre-tokenised token file `*.bin`: the raw token ids with no header, little-endian
 *    **uint16** (nanoGPT's `train.bin` / `val.bin` format), or little-endian **uint32** when the
 *    name ends in `.u32.bin` (for vocabularies over 65536).
 *
 * Relative paths are resolved from the spec's folder. A leading U+FEFF (byte-order mark) is
 * dropped from every text file. Every problem a user can fix is a `DataError` whose message
 * says what is wrong and what to do.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { BUILTIN_CORPORA, builtinCorpusText, isBuiltinCorpus, type BuiltinCorpus } from './corpus.js';

/** A problem with the training data that the user can fix; the message says how. */
export class DataError extends Error {
  override readonly name = 'DataError';
}

/** Token ids in memory: uint16 when every id fits (every built-in tokenizer), else int32. */
export type TokenArray = Uint16Array | Int32Array;

export type TextSource =
  | { readonly kind: 'builtin'; readonly name: BuiltinCorpus; readonly text: string }
  | { readonly kind: 'file'; readonly path: string; readonly text: string }
  /** `files`: the paths read, relative to `path`, in the order they were joined; `starts`: where each begins in `text`. */
  | {
      readonly kind: 'folder';
      readonly path: string;
      readonly files: readonly string[];
      readonly starts: readonly number[];
      readonly text: string;
    };

export interface TokenSource {
  readonly kind: 'tokens';
  readonly path: string;
  readonly tokens: TokenArray;
  /** 2 for `*.bin` (uint16), 4 for `*.u32.bin` (uint32). */
  readonly bytesPerToken: 2 | 4;
}

export type DataSource = TextSource | TokenSource;

export interface ReadSourceOptions {
  /** The folder relative paths are resolved from (the spec file's folder); default: cwd. */
  specDir?: string;
  /** When given, every token id of a `.bin` file must be below it. */
  vocab?: number;
}

const KINDS_HINT = `a built-in corpus (${BUILTIN_CORPORA.join(', ')}), a UTF-8 text file, a folder of text files, or a pre-tokenised .bin token file`;

/** The absolute path a (non built-in) data name refers to. */
export function resolveDataPath(data: string, specDir?: string): string {
  return isAbsolute(data) ? data : resolve(specDir ?? process.cwd(), data);
}

/** `*.bin` is a token file; its token size is 4 bytes for `*.u32.bin`, else 2. */
export function tokenFileBytes(path: string): 2 | 4 | null {
  const name = basename(path).toLowerCase();
  if (!name.endsWith('.bin')) return null;
  return name.endsWith('.u32.bin') ? 4 : 2;
}

/** Reads the training data `data` names (see the module comment). */
export function readDataSource(data: string, opts: ReadSourceOptions = {}): DataSource {
  if (data.trim() === '') throw new DataError(`no training data given; name ${KINDS_HINT}`);
  if (isBuiltinCorpus(data)) {
    let text: string;
    try {
      text = builtinCorpusText(data);
    } catch (e) {
      throw new DataError((e as Error).message);
    }
    return { kind: 'builtin', name: data, text: nonEmpty(stripBom(text), `the built-in corpus '${data}'`) };
  }
  const path = resolveDataPath(data, opts.specDir);
  if (!existsSync(path)) {
    const from = isAbsolute(data) ? '' : ` (relative paths are resolved from the spec's folder, ${opts.specDir ?? process.cwd()})`;
    throw new DataError(`the training data '${data}' was not found: ${path} does not exist${from}; give ${KINDS_HINT}`);
  }
  const st = statSync(path);
  if (st.isDirectory()) return readTextFolder(path);
  if (!st.isFile()) throw new DataError(`the training data ${path} is neither a file nor a folder; give ${KINDS_HINT}`);
  if (tokenFileBytes(path) !== null) return readTokenFile(path, opts.vocab);
  return { kind: 'file', path, text: readTextFile(path) };
}

/** Reads one UTF-8 text file (BOM dropped); DataError if it is binary, not UTF-8 or empty. */
export function readTextFile(path: string): string {
  const buf = readFileSync(path);
  if (buf.length === 0) throw emptyError(`the training file ${path}`);
  if (buf.includes(0)) {
    throw new DataError(
      `the training data ${path} contains NUL bytes, so it is not a text file; a pre-tokenised token file must be named *.bin (uint16) or *.u32.bin (uint32)`,
    );
  }
  const text = decodeUtf8(buf);
  if (text === null) throw notUtf8Error(path);
  return nonEmpty(stripBom(text), `the training file ${path}`);
}

/** Reads a folder of text files (see the module comment). */
export function readTextFolder(path: string): TextSource {
  const found: { rel: string; abs: string }[] = [];
  let skipped = 0;
  const visited = new Set<string>();
  const walk = (dir: string, rel: string) => {
    const real = realpathSync(dir);
    if (visited.has(real)) return; // a symlink loop
    visited.add(real);
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const abs = join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          const s = statSync(abs);
          isDir = s.isDirectory();
          isFile = s.isFile();
        } catch {
          continue; // a dangling link
        }
      }
      if (isDir) walk(abs, r);
      else if (isFile) found.push({ rel: r, abs });
    }
  };
  walk(path, '');
  found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));

  const files: string[] = [];
  const texts: string[] = [];
  const starts: number[] = [];
  let at = 0;
  for (const f of found) {
    const lower = f.rel.toLowerCase();
    if (lower.endsWith('.bin')) {
      skipped++;
      continue;
    }
    const buf = readFileSync(f.abs);
    if (buf.length === 0) continue;
    const named = lower.endsWith('.txt') || lower.endsWith('.md');
    const text = buf.includes(0) ? null : decodeUtf8(buf);
    if (text === null) {
      if (named) throw notUtf8Error(f.abs, ' (a .txt or .md file in the training folder)');
      skipped++;
      continue;
    }
    const body = stripBom(text);
    if (body === '') continue;
    files.push(f.rel);
    texts.push(body);
    starts.push(at);
    at += body.length + 2; // the "\n\n" joiner
  }
  if (files.length === 0) {
    const what =
      found.length === 0
        ? 'no files'
        : `${found.length} file${found.length === 1 ? '' : 's'}, none of them non-empty text${skipped ? ` (${skipped} binary or .bin)` : ''}`;
    throw new DataError(
      `the training folder ${path} has no text files: it holds ${what}; put UTF-8 .txt or .md files in it (subfolders are read too, names starting with '.' are skipped)`,
    );
  }
  return { kind: 'folder', path, files, starts, text: nonEmpty(texts.join('\n\n'), `the training folder ${path}`) };
}

/** Reads a `*.bin` / `*.u32.bin` token file; checks ids against `vocab` when given. */
export function readTokenFile(path: string, vocab?: number): TokenSource {
  const bytesPerToken = tokenFileBytes(path) ?? 2;
  const buf = readFileSync(path);
  if (buf.length === 0) throw emptyError(`the token file ${path}`);
  const type = bytesPerToken === 2 ? 'uint16' : 'uint32';
  if (buf.length % bytesPerToken !== 0) {
    const other =
      bytesPerToken === 2
        ? 'a file of uint32 tokens must be named *.u32.bin; otherwise the file is truncated and must be written again'
        : 'a file of uint16 tokens must be named *.bin without .u32; otherwise the file is truncated and must be written again';
    throw new DataError(
      `the token file ${path} is ${buf.length} bytes, not a multiple of ${bytesPerToken} (${type} tokens, from its name); ${other}`,
    );
  }
  const n = buf.length / bytesPerToken;
  // Copy into a fresh (aligned) buffer, then fix the byte order on a big-endian host.
  const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  const raw = bytesPerToken === 2 ? new Uint16Array(bytes.buffer) : new Uint32Array(bytes.buffer);
  if (endianness() !== 'LE') {
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < n; i++) raw[i] = bytesPerToken === 2 ? view.getUint16(2 * i, true) : view.getUint32(4 * i, true);
  }
  if (vocab !== undefined) checkTokenIds(raw, vocab, `the token file ${path}`);
  let tokens: TokenArray;
  if (raw instanceof Uint16Array) tokens = raw;
  else {
    checkTokenIds(raw, 2 ** 31, `the token file ${path}`);
    tokens = new Int32Array(raw.buffer);
  }
  return { kind: 'tokens', path, tokens, bytesPerToken };
}

/**
 * Throws a DataError when some id in `tokens` is ≥ `vocab`, naming the first such id and its
 * position. `what` names the data ("the token file …").
 */
export function checkTokenIds(tokens: ArrayLike<number>, vocab: number, what: string, hint?: string): void {
  let max = 0;
  for (let i = 0; i < tokens.length; i++) if (tokens[i]! > max) max = tokens[i]!;
  if (max < vocab) return;
  let at = 0;
  while (tokens[at]! < vocab) at++;
  const fix = hint ?? `make the model's vocab at least ${max + 1}, or re-tokenise the data with the tokenizer the spec names`;
  throw new DataError(
    `${what} has token id ${tokens[at]} at position ${at} (the largest is ${max}), but the vocabulary has only ${vocab} ids (0–${vocab - 1}); ${fix}`,
  );
}

function decodeUtf8(buf: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf);
  } catch {
    return null;
  }
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function nonEmpty(text: string, what: string): string {
  if (text.length === 0) throw emptyError(what);
  return text;
}

function emptyError(what: string): DataError {
  return new DataError(`${what} is empty: there is nothing to train on; give training data with text (or tokens) in it`);
}

function notUtf8Error(path: string, where = ''): DataError {
  return new DataError(
    `the training data ${path}${where} is not UTF-8 text; convert it to UTF-8 (e.g. \`iconv -t UTF-8\`), remove it, or, if it holds token ids, name it *.bin (uint16) or *.u32.bin (uint32)`,
  );
}
