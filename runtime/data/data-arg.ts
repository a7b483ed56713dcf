/**
 * `--data` as typed in a shell, for `mspec train` and the trainer `mspec build` generates: a
 * relative path is the working folder's (a spec's own `data = "…"` is its folder's), made
 * absolute so a resumed run finds it from anywhere; a built-in corpus or task stays a name.
 */
import { resolve } from 'node:path';
import { isBuiltinCorpus } from './corpus.js';
import { isSyntheticTask } from './pairs-synthetic.js';

export function commandLineData(data: string): string {
  return isBuiltinCorpus(data) || isSyntheticTask(data) ? data : resolve(data);
}
