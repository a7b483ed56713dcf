/**
 * What `mspec eval` scores: the text named by --data (a text file, a folder of text files, a
 * built-in corpus or a .bin token file), or by default the checkpoint's own validation split:
 * the run's data (config.json beside the checkpoint, else the spec's train section),
 * tokenised with the checkpoint's tokenizer, its last val_fraction by position, exactly the
 * split `mspec train` validated on.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TrainSpec } from '../semantics/model.js';
import { builtinCorpusText, isBuiltinCorpus } from '../../runtime/data/corpus.js';
import { DEFAULT_VAL_FRACTION } from '../../runtime/data/dataset.js';
import { DataError, readDataSource, readTextFolder, readTokenFile, type DataSource } from '../../runtime/data/source.js';
import { encodeText } from '../../runtime/eval/text.js';
import type { Tokenizer } from '../../runtime/tokenizers/index.js';

export interface EvalText {
  readonly tokens: ArrayLike<number>;
  /** For people: "notes.txt", "the validation split of 'moby-dick' (its last 10%)". */
  readonly label: string;
  readonly split: 'all' | 'validation';
}

/** A user error of `mspec eval`, with its exit code (1 bad input, 2 usage). */
export class EvalError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const KINDS = 'a UTF-8 text file, a folder of text files, a .bin token file or a built-in corpus (moby-dick)';

/** The tokens of --data: every token of it is scored. */
export function readEvalData(data: string, tok: Tokenizer): EvalText {
  if (isBuiltinCorpus(data))
    return {
      tokens: encodeText(tok, builtinCorpusText(data), `the built-in corpus '${data}'`),
      label: `the built-in corpus '${data}'`,
      split: 'all',
    };
  if (!existsSync(data)) throw new EvalError(`the text to evaluate '${data}' was not found (no such file or folder); give --data ${KINDS}`);
  const st = statSync(data);
  if (st.isDirectory())
    return { tokens: encodeText(tok, readTextFolder(data).text, `the folder ${data}`), label: `the folder ${data}`, split: 'all' };
  if (data.toLowerCase().endsWith('.bin')) {
    if (tok.kind === 'char')
      throw new EvalError(
        `${data} holds token ids, but this checkpoint has a char tokenizer, which needs the text; give the text file instead`,
      );
    const src = readTokenFile(data);
    return { tokens: src.tokens, label: `the token file ${data}`, split: 'all' };
  }
  const buf = readFileSync(data);
  const what = `the text ${data}`;
  if (buf.includes(0))
    throw new EvalError(
      `${what} contains NUL bytes, so it is not a text file; give ${KINDS} (token files must be named *.bin or *.u32.bin)`,
    );
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf); // drops a leading BOM
  } catch {
    throw new EvalError(`${what} is not UTF-8 text; convert it (e.g. \`iconv -t UTF-8\`) and evaluate again`);
  }
  if (text.length === 0) throw new EvalError(`${what} is empty: there is nothing to evaluate; give a text of at least two tokens`);
  return { tokens: encodeText(tok, text, what), label: data, split: 'all' };
}

/** What `mspec train` wrote beside the checkpoint (only the fields eval uses). */
interface RunConfigFile {
  readonly model?: string;
  readonly overrides?: { readonly data?: string };
}

/**
 * The checkpoint's validation split: the data the run trained on (config.json's --data, else
 * the spec's train section) resolved from the spec's folder, its last val_fraction of tokens.
 */
export function readValidationSplit(
  checkpoint: string,
  model: string,
  specEntry: string,
  train: TrainSpec | undefined,
  tok: Tokenizer,
): EvalText {
  let data = train?.data;
  let from = "its spec's train section";
  const cfgPath = join(dirname(checkpoint), 'config.json');
  if (existsSync(cfgPath)) {
    try {
      const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as RunConfigFile;
      if (cfg.model === model && typeof cfg.overrides?.data === 'string') ((data = cfg.overrides.data), (from = cfgPath));
    } catch {
      // Not a run folder's config: the spec's train section decides.
    }
  }
  if (!data)
    throw new EvalError(
      `the checkpoint does not say what data model ${model} was trained on (its spec has no train section and no run config.json is beside it), so there is no validation split to default to; give the text to score with --data FILE`,
    );
  const valFraction = train?.val_fraction ?? DEFAULT_VAL_FRACTION;
  let src: DataSource;
  try {
    src = readDataSource(data, { specDir: dirname(specEntry) });
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    throw new EvalError(
      `the checkpoint's validation split is part of its training data '${data}' (from ${from}), which cannot be read: ${e.message}; or give the text to score with --data FILE`,
    );
  }
  let all: Uint16Array | Int32Array;
  if (src.kind === 'tokens') {
    if (tok.kind === 'char')
      throw new EvalError(
        `the training data ${src.path} holds token ids, but the checkpoint has a char tokenizer; give the text to score with --data FILE`,
      );
    all = src.tokens;
  } else all = encodeText(tok, src.text, `the training data '${data}'`);
  const n = all.length;
  const nTrain = Math.floor(n * (1 - valFraction));
  return {
    tokens: all.subarray(nTrain),
    label: `the validation split of '${data}' (its last ${+(valFraction * 100).toFixed(2)}%)`,
    split: 'validation',
  };
}
