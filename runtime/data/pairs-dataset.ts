/**
 * The training set of a `seq2seq` run: the spec's `data` is a built-in synthetic task
 * (./pairs-synthetic.ts) or a pairs file (TSV or JSONL, ./pairs.ts; relative paths from the
 * spec's folder). A file's last ⌈n·val_fraction⌉ pairs (at least one) are held out; the rest
 * are drawn uniformly for training. The char tokenizer's vocabulary is the set of characters of
 * every source and target (the task's text for a synthetic task); `fixed` keeps a resumed or
 * fine-tuned run's own tokenizer.
 */
import { deriveSeed, makeRng } from '../random.js';
import { tokenizerFrom, withSpecials, type Tokenizer, type TokenizerData } from '../tokenizers/index.js';
import { SEQ2SEQ_SPECIALS } from '../tokenizers/specials.js';
import { tokenizerForText, type TokenizerKind } from '../tokenizers/load.js';
import {
  encodePairs,
  readPairsFile,
  seq2seqIds,
  type PairLimits,
  type PairStream,
  type Seq2SeqTokens,
  type TextPair,
  type TokenPair,
} from './pairs.js';
import { randomInt } from './batches.js';
import { drawReverse, isSyntheticTask, reverseText, SYNTHETIC_TASKS } from './pairs-synthetic.js';
import { DataError, resolveDataPath } from './source.js';

export interface PairsDataset {
  readonly tokenizer: Tokenizer;
  readonly ids: Seq2SeqTokens;
  readonly train: PairStream;
  /** The held-out pairs, in a fixed order. */
  readonly val: readonly TokenPair[];
  /** For messages: `the reverse task` or `pairs file x.tsv (900 training pairs)`. */
  readonly describe: string;
}

export interface PreparePairsOptions {
  readonly data: string;
  readonly tokenizer: TokenizerKind;
  readonly specDir?: string;
  readonly valFraction: number;
  readonly limits: PairLimits;
  readonly fixed?: TokenizerData;
  /** How many held-out pairs a synthetic task generates (default 256). */
  readonly valPairs?: number;
}

export function preparePairs(o: PreparePairsOptions): PairsDataset {
  if (!(o.valFraction > 0 && o.valFraction < 1))
    throw new DataError(`seq2seq training holds out pairs for evaluation: val_fraction must be above 0 and below 1, got ${o.valFraction}`);
  if (isSyntheticTask(o.data)) return synthetic(o);
  if (o.data.trim() === '')
    throw new DataError(`no training data given; name a pairs file (.tsv or .jsonl) or a built-in task (${SYNTHETIC_TASKS.join(', ')})`);
  const path = resolveDataPath(o.data, o.specDir);
  const pairs = readPairsFile(path);
  if (pairs.length < 2) throw new DataError(`${path} has one pair; seq2seq training needs at least one to train on and one to hold out`);
  const tokenizer = pairsTokenizer(o, () => textOf(pairs));
  const encoded = encodePairs(pairs, tokenizer, o.limits);
  const nVal = Math.max(1, Math.ceil(encoded.length * o.valFraction));
  const train = encoded.slice(0, encoded.length - nVal);
  return {
    tokenizer,
    ids: seq2seqIds(tokenizer)!,
    train: { draw: (rng) => train[randomInt(rng, train.length)]! },
    val: encoded.slice(encoded.length - nVal),
    describe: `pairs file ${path} (${train.length} training, ${nVal} held-out pairs)`,
  };
}

/**
 * The text a char tokenizer for `data` is built from, as preparePairs builds it: a task's text,
 * or every source and target of a pairs file (for `mspec build`/`sample` on a bare spec).
 */
export function pairsText(data: string, specDir?: string): string {
  if (isSyntheticTask(data)) return reverseText(0.1).text;
  return textOf(readPairsFile(resolveDataPath(data, specDir)));
}

const textOf = (pairs: readonly TextPair[]) => pairs.map((p) => p.source + p.target).join('');

function synthetic(o: PreparePairsOptions): PairsDataset {
  const t = reverseText(o.valFraction);
  const tokenizer = pairsTokenizer(o, () => t.text);
  const encode = (p: { source: string; target: string }, where: string): TokenPair => {
    const [pair] = encodePairs([{ ...p, where }], tokenizer, o.limits);
    return pair!;
  };
  const rng = makeRng(deriveSeed(0, 'reverse:val'));
  const val = Array.from({ length: o.valPairs ?? 256 }, (_, i) =>
    encode(drawReverse(t, 'val', o.limits, rng), `reverse held-out pair ${i}`),
  );
  return {
    tokenizer,
    ids: seq2seqIds(tokenizer)!,
    train: { draw: (r) => encode(drawReverse(t, 'train', o.limits, r), 'reverse training pair') },
    val,
    describe: `the built-in reverse task (Moby-Dick stretches of 1 to ${Math.min(o.limits.S, o.limits.T - 1)} characters)`,
  };
}

/** The run's tokenizer (a fixed one, or one for the text) with `[PAD]` and `[EOS]` after its ordinary ids. */
function pairsTokenizer(o: PreparePairsOptions, text: () => string): Tokenizer {
  if (o.fixed && o.fixed.kind !== o.tokenizer)
    throw new DataError(
      `the run's stored tokenizer is ${o.fixed.kind}, not ${o.tokenizer}; its embedding only fits that tokenizer's ids, so train with --tokenizer ${o.fixed.kind}`,
    );
  const base = o.fixed ? tokenizerFrom({ ...o.fixed, specials: [] }) : tokenizerForText(o.tokenizer, text());
  return withSpecials(base, SEQ2SEQ_SPECIALS);
}
