/**
 * The text side of evaluation: tokenising a text with a checkpoint's tokenizer (a character
 * outside a char vocabulary is named with its line and column), and counting the UTF-8 bytes
 * of the part that is scored, for bits per byte.
 */
import r50kRanks from 'gpt-tokenizer/bpeRanks/r50k_base';
import { DataError } from '../data/source.js';
import type { Tokenizer } from '../tokenizers/index.js';

/** `text` as token ids; `what` names it in errors ("the text notes.txt"). */
export function encodeText(tok: Tokenizer, text: string, what: string): Int32Array {
  if (tok.kind !== 'char') return Int32Array.from(tok.encode(text));
  const { chars } = tok.toJSON() as { chars: string[] };
  const index = new Map(chars.map((c, i) => [c, i]));
  const ids = new Int32Array(Array.from(text).length);
  let i = 0;
  let line = 1;
  let column = 1;
  for (const c of text) {
    const id = index.get(c);
    if (id === undefined) {
      const code = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      throw new DataError(
        `${what} has the character ${JSON.stringify(c)} (${code}) at line ${line}, column ${column} (character offset ${i}), which is not in the checkpoint's ` +
          `character vocabulary (${chars.length} characters from its training corpus); a char-level model can only score text made of those characters: remove or replace it`,
      );
    }
    ids[i++] = id;
    if (c === '\n') (line++, (column = 1));
    else column++;
  }
  return ids;
}

/**
 * UTF-8 bytes of the text that tokens[1 …] stand for (token 0 is context only), exactly: one
 * per byte token, each character's UTF-8 length for char tokens, and for GPT-2 tokens the
 * length of each token's byte string in the r50k table (a token may hold part of a character).
 */
export function scoredBytes(tok: Tokenizer, tokens: ArrayLike<number>): number {
  const n = tokens.length;
  if (n < 2) return 0;
  let perToken: (id: number) => number;
  switch (tok.kind) {
    case 'byte':
      return n - 1;
    case 'char': {
      const len = (tok.toJSON() as { chars: string[] }).chars.map(utf8Length);
      perToken = (id) => len[id]!;
      break;
    }
    case 'gpt2':
      perToken = gpt2TokenBytes;
      break;
    case 'hf':
      // An imported Hugging Face tokenizer: the UTF-8 length of each token's own decoding
      // (approximate where a token holds part of a character).
      perToken = (id) => utf8Length(tok.decode([id]));
      break;
  }
  let bytes = 0;
  for (let i = 1; i < n; i++) bytes += perToken(tokens[i]!);
  return bytes;
}

/** <|endoftext|> decodes to its 13 characters (see ../tokenizers/gpt2.ts). */
const GPT2_EOT_BYTES = 13;

function gpt2TokenBytes(id: number): number {
  const e = r50kRanks[id];
  if (e === undefined) return id === r50kRanks.length ? GPT2_EOT_BYTES : 3; // an id outside the vocabulary decodes to U+FFFD
  return typeof e === 'string' ? utf8Length(e) : e.length;
}

/** UTF-8 length without encoding (the runtime also runs in browsers, which lack Buffer). */
export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) ((bytes += 4), i++);
    else bytes += 3; // lone surrogates are written as U+FFFD, 3 bytes
  }
  return bytes;
}
