/**
 * (source, target) pairs for the `seq2seq` objective: reading them from a file, turning them
 * into token ids, and building teacher-forced batches.
 *
 * Files: `*.jsonl` (one JSON object {"source": "…", "target": "…"} a line) or any other name
 * read as TSV (one `source<TAB>target` a line). Blank lines are skipped; every problem is a
 * DataError that starts with `file:line:`.
 *
 * Token layout. Our tokenizers have no special tokens of their own: a seq2seq tokenizer gets
 * `[PAD]` and `[EOS]` appended after its ordinary ids (runtime/tokenizers/specials.ts
 * SEQ2SEQ_SPECIALS), so a char tokenizer of 27 characters has vocab 29. `[PAD]` is the
 * decoder's first input (T5 starts from its pad id too) and pads sources; `[EOS]` ends every
 * target and stops generation. The checkpoint's tokenizer (metadata `mspec.tokenizer`) lists
 * them, so sampling finds the same ids.
 *
 * A batch row, for target ids y₀ … yₙ₋₁ (n + 1 ≤ T) and source ids x₀ … xₘ₋₁ (m ≤ S):
 *   src_tokens  x₀ … xₘ₋₁ start … start      (S ids; the attention op has no key mask, so the
 *                                              encoder always sees the whole padded row, in
 *                                              training and in generation alike)
 *   tokens      start y₀ … yₙ₋₁ start …       (T ids: the decoder input, shifted right)
 *   targets     y₀ … yₙ₋₁ eos −1 … −1         (T ids; −1 is ignored by the loss)
 */
import { readFileSync } from 'node:fs';
import { deriveSeed, makeRng, type Rng } from '../random.js';
import { TokenizerError, type Tokenizer } from '../tokenizers/index.js';
import type { Seq2SeqTokens } from './pairs-ids.js';

export { seq2seqIds, type Seq2SeqTokens } from './pairs-ids.js';
import { DataError } from './source.js';

/** One pair as read, with where it came from (`file:line`) for error messages. */
export interface TextPair {
  readonly source: string;
  readonly target: string;
  readonly where: string;
}

/** A pair as token ids (without the start/eos ids, which batching adds). */
export interface TokenPair {
  readonly source: readonly number[];
  readonly target: readonly number[];
  readonly where: string;
}

/** Reads a pairs file: JSONL when the name ends in `.jsonl`, else TSV. */
export function readPairsFile(path: string): TextPair[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read the pairs file ${path}: ${(e as Error).message}`);
  }
  return parsePairs(text.replace(/^\uFEFF/, ''), path, path.toLowerCase().endsWith('.jsonl') ? 'jsonl' : 'tsv');
}

export function parsePairs(text: string, file: string, format: 'tsv' | 'jsonl'): TextPair[] {
  const pairs: TextPair[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    pairs.push(format === 'tsv' ? tsvPair(line, where) : jsonlPair(line, where));
  });
  if (pairs.length === 0)
    throw new DataError(`${file}: no pairs; write one ${format === 'tsv' ? '`source<TAB>target`' : '{"source": …, "target": …}'} per line`);
  return pairs;
}

function tsvPair(line: string, where: string): TextPair {
  const cells = line.split('\t');
  if (cells.length !== 2) {
    const what = cells.length === 1 ? 'no tab' : `${cells.length - 1} tabs`;
    throw new DataError(
      `${where}: a TSV pair is \`source<TAB>target\` (exactly one tab), but this line has ${what}; for text with tabs use a .jsonl file`,
    );
  }
  return { source: cells[0]!, target: cells[1]!, where };
}

function jsonlPair(line: string, where: string): TextPair {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new DataError(`${where}: not valid JSON (${(e as Error).message}); each line of a .jsonl file is one {"source": …, "target": …}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new DataError(`${where}: expected an object {"source": …, "target": …}, got ${JSON.stringify(v)}`);
  const o = v as Record<string, unknown>;
  for (const key of ['source', 'target'] as const) {
    if (!(key in o)) throw new DataError(`${where}: missing field "${key}" (each line needs "source" and "target")`);
    if (typeof o[key] !== 'string') throw new DataError(`${where}: field "${key}" must be a string, got ${JSON.stringify(o[key])}`);
  }
  return { source: o['source'] as string, target: o['target'] as string, where };
}

/** The lengths a model takes: S source ids (the encoder's context), T decoder positions. */
export interface PairLimits {
  readonly S: number;
  readonly T: number;
}

/** Tokenises pairs and checks each against the limits; every error names the pair's file:line. */
export function encodePairs(pairs: readonly TextPair[], tok: Tokenizer, limits: PairLimits): TokenPair[] {
  return pairs.map((p) => {
    const enc = (text: string, field: string) => {
      try {
        return tok.encode(text);
      } catch (e) {
        if (e instanceof TokenizerError) throw new DataError(`${p.where}: the ${field}: ${e.message}`);
        throw e;
      }
    };
    const pair = { source: enc(p.source, 'source'), target: enc(p.target, 'target'), where: p.where };
    checkPair(pair, limits);
    return pair;
  });
}

export function checkPair(p: TokenPair, { S, T }: PairLimits): void {
  if (p.source.length === 0) throw new DataError(`${p.where}: the source is empty`);
  if (p.source.length > S)
    throw new DataError(
      `${p.where}: the source is ${p.source.length} tokens, longer than the encoder's context of ${S}; shorten it or raise the model's context`,
    );
  if (p.target.length + 1 > T)
    throw new DataError(
      `${p.where}: the target is ${p.target.length} tokens; with the end-of-sequence token it needs ${p.target.length + 1} decoder positions, but training uses ${T}; shorten it or raise seq_len/context`,
    );
}

export interface PairBatch {
  /** B·S encoder ids, padded with `start`. */
  readonly sources: Int32Array;
  /** B·T decoder inputs: start, then the target shifted right. */
  readonly inputs: Int32Array;
  /** B·T: the target, eos, then −1. */
  readonly targets: Int32Array;
}

/** Lays out pairs as one batch (see the module comment). */
export function pairBatch(pairs: readonly TokenPair[], ids: Seq2SeqTokens, { S, T }: PairLimits): PairBatch {
  const B = pairs.length;
  const sources = new Int32Array(B * S).fill(ids.start);
  const inputs = new Int32Array(B * T).fill(ids.start);
  const targets = new Int32Array(B * T).fill(-1);
  pairs.forEach((p, b) => {
    checkPair(p, { S, T });
    sources.set(p.source, b * S);
    inputs.set(p.target, b * T + 1);
    targets.set(p.target, b * T);
    targets[b * T + p.target.length] = ids.eos;
  });
  return { sources, inputs, targets };
}

/**
 * Where training pairs come from: a file's training lines (drawn uniformly) or a synthetic
 * task (generated). `draw` must use only `rng`, so a batch is a pure function of (seed, step).
 */
export interface PairStream {
  draw(rng: Rng): TokenPair;
}

/** The training batch of `step`: B pairs drawn with the generator of (seed, 'pairs:' + step). */
export function samplePairBatch(
  stream: PairStream,
  ids: Seq2SeqTokens,
  o: PairLimits & { batch: number; seed: number },
  step: number,
): PairBatch {
  const rng = makeRng(deriveSeed(o.seed, `pairs:${step}`));
  return pairBatch(
    Array.from({ length: o.batch }, () => stream.draw(rng)),
    ids,
    o,
  );
}

/** What a run folder keeps to resume: the seed and the next micro-batch to draw (as BatchSampler's state). */
export interface PairSamplerState {
  readonly seed: number;
  readonly step: number;
}

/** Training batches of pairs, one per call, batch k being samplePairBatch(…, k): resumable from `state`. */
export class PairSampler {
  #step: number;

  constructor(
    private readonly stream: PairStream,
    private readonly ids: Seq2SeqTokens,
    private readonly opts: PairLimits & { batch: number; seed: number },
    step = 0,
  ) {
    this.#step = step;
  }

  next(): PairBatch {
    return samplePairBatch(this.stream, this.ids, this.opts, this.#step++);
  }

  get state(): PairSamplerState {
    return { seed: this.opts.seed, step: this.#step };
  }
}

/**
 * Fixed evaluation batches: the held-out pairs in order, `batch` a batch (the last one filled up
 * from the start again), at most `count` batches; the same on every call.
 */
export function pairEvalBatches(
  val: readonly TokenPair[],
  ids: Seq2SeqTokens,
  o: PairLimits & { batch: number; count: number },
): PairBatch[] {
  const n = Math.min(o.count, Math.ceil(val.length / o.batch));
  return Array.from({ length: n }, (_, c) =>
    pairBatch(
      Array.from({ length: o.batch }, (_, b) => val[(c * o.batch + b) % val.length]!),
      ids,
      o,
    ),
  );
}
