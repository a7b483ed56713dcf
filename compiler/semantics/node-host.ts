/**
 * The compiler's view of the file system and data in Node: the default Host of compileFile
 * (spec files read as strict UTF-8, character vocabularies of data sets for `tokenizer.vocab`).
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { builtinCorpusText, isBuiltinCorpus } from '../../runtime/data/corpus.js';
import { isSyntheticTask, reverseText } from '../../runtime/data/pairs-synthetic.js';
import { pairsText } from '../../runtime/data/pairs-dataset.js';
import type { Host } from './resolve.js';

const vocabCache = new Map<string, number | { error: string }>();

/** Why a file's bytes are not UTF-8 text, and where (a UTF-16 offset into the decoded text). */
export interface EncodingProblem {
  readonly offset: number;
  readonly reason: string;
}

export interface Decoded {
  readonly text: string;
  readonly problem?: EncodingProblem;
}

/**
 * Bytes → text. A UTF-8 byte-order mark is dropped; UTF-16 (by its byte-order mark, or by
 * the NUL bytes every other byte of ASCII text has in it) is named as such and gives no text;
 * the first invalid UTF-8 sequence or NUL byte is located, and the text is kept (with U+FFFD
 * for bad bytes) so the error can point at it.
 */
export function decodeSource(bytes: Uint8Array): Decoded {
  const utf16 = (order: 'LE' | 'BE', why: string): Decoded => ({
    text: '',
    problem: { offset: 0, reason: `it looks like UTF-16 ${order} (${why}); save it as UTF-8` },
  });
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return utf16('LE', 'it starts with the byte-order mark FF FE');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return utf16('BE', 'it starts with the byte-order mark FE FF');
  const nul = bytes.indexOf(0);
  if (nul >= 0 && bytes.length >= 2) {
    let even = 0;
    let odd = 0;
    const n = Math.min(bytes.length, 4096);
    for (let i = 0; i < n; i++) if (bytes[i] === 0) i % 2 === 0 ? even++ : odd++;
    // ASCII text in UTF-16 has a NUL in every other byte (a few other characters may too).
    if (odd > n / 4 && even < odd / 8) return utf16('LE', 'every other byte is NUL');
    if (even > n / 4 && odd < even / 8) return utf16('BE', 'every other byte is NUL');
  }
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const body = bytes.subarray(start);
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
    const at = text.indexOf('\0');
    if (at >= 0) return { text, problem: { offset: at, reason: `a NUL byte at byte ${nul}; is it a binary file?` } };
    return { text };
  } catch {
    const bad = firstInvalidUtf8(body);
    const text = new TextDecoder('utf-8').decode(body);
    const offset = new TextDecoder('utf-8').decode(body.subarray(0, bad)).length;
    return {
      text,
      problem: {
        offset,
        reason: `invalid byte 0x${body[bad]!.toString(16).padStart(2, '0').toUpperCase()} at byte ${start + bad}; save the file as UTF-8`,
      },
    };
  }
}

/** Index of the first byte that does not start or continue a well-formed UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len === 0) return i;
    for (let k = 1; k < len; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      // Overlong forms, surrogates and code points past U+10FFFF.
      if (k === 1 && ((c === 0xe0 && d < 0xa0) || (c === 0xed && d > 0x9f) || (c === 0xf0 && d < 0x90) || (c === 0xf4 && d > 0x8f)))
        return i;
    }
    i += len;
  }
  return b.length;
}

const encodingProblems = new Map<string, EncodingProblem>();

/** The file system host, plus what it found wrong with a file's encoding when it read it. */
export const nodeHost: Host & { encodingProblem(path: string): EncodingProblem | undefined } = {
  encodingProblem: (path) => encodingProblems.get(path),
  readFile(path) {
    try {
      if (statSync(path).isDirectory()) return { error: 'it is a directory, not a .model file' };
      const d = decodeSource(readFileSync(path));
      if (d.problem) encodingProblems.set(path, d.problem);
      else encodingProblems.delete(path);
      return d.text;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { error: 'no such file' };
      if (code === 'EACCES') return { error: 'permission denied' };
      return { error: (e as Error).message };
    }
  },
  charVocab(data, specFile, objective) {
    const path = isBuiltinCorpus(data) || isSyntheticTask(data) ? data : join(dirname(specFile), data);
    const pairs = objective === 'seq2seq' && !isBuiltinCorpus(data);
    const key = `${pairs ? 'pairs' : 'text'}:${path}`;
    let v = vocabCache.get(key);
    if (v === undefined) {
      v = pairs ? pairsCharVocab(data, specFile) : computeCharVocab(data, path);
      vocabCache.set(key, v);
    }
    return v;
  },
};

function computeCharVocab(data: string, path: string): number | { error: string } {
  try {
    // A built-in seq2seq task's characters are those of the text it draws from (runtime/data/pairs-synthetic.ts).
    const text = isBuiltinCorpus(data) ? builtinCorpusText(data) : isSyntheticTask(data) ? reverseText(0.1).text : readTextData(path);
    return new Set(Array.from(text)).size;
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** The characters of a pairs file's sources and targets, or a task's text (runtime/data/pairs-dataset.ts builds the tokenizer from the same). */
function pairsCharVocab(data: string, specFile: string): number | { error: string } {
  try {
    return new Set(Array.from(pairsText(data, dirname(specFile)))).size;
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function readTextData(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new Error(`no such file or folder: ${path}`);
  if (st.isDirectory()) throw new Error('a folder of text files: its character vocabulary is computed by `mspec train`');
  return readFileSync(path, 'utf8');
}
