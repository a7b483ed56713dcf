/** The compiler's view of the file system and data, for the command line. */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { builtinCorpusText, isBuiltinCorpus } from '../../runtime/data/corpus.js';
import type { Host } from '../semantics/resolve.js';

const vocabCache = new Map<string, number | { error: string }>();

export const nodeHost: Host = {
  readFile(path) {
    try {
      if (statSync(path).isDirectory()) return { error: 'it is a directory, not a .model file' };
      return readFileSync(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { error: 'no such file' };
      if (code === 'EACCES') return { error: 'permission denied' };
      return { error: (e as Error).message };
    }
  },
  charVocab(data, specFile) {
    const key = isBuiltinCorpus(data) ? data : join(dirname(specFile), data);
    let v = vocabCache.get(key);
    if (v === undefined) {
      v = computeCharVocab(data, key);
      vocabCache.set(key, v);
    }
    return v;
  },
};

function computeCharVocab(data: string, path: string): number | { error: string } {
  try {
    const text = isBuiltinCorpus(data) ? builtinCorpusText(data) : readTextData(path);
    return new Set(Array.from(text)).size;
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
