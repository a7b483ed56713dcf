/**
 * Built-in seq2seq tasks that need no data file (`data = "reverse"` in a train section).
 *
 *   reverse  the source is a random stretch of Moby-Dick, lower-cased with every run of
 *            non-letters turned into one space (27 characters: a–z and space), of a length
 *            drawn uniformly from 1 to min(S, T − 1) characters; the target is the same
 *            characters in reverse order. Training stretches come from the first
 *            (1 − val_fraction) of the text, the held-out ones from the rest (short strings
 *            such as "the" occur in both parts, as they would in any split of real text).
 */
import { builtinCorpusText } from './corpus.js';
import { randomInt } from './batches.js';
import type { PairLimits } from './pairs.js';
import type { Rng } from '../random.js';

export const SYNTHETIC_TASKS = ['reverse'] as const;
export type SyntheticTask = (typeof SYNTHETIC_TASKS)[number];

export function isSyntheticTask(name: string): name is SyntheticTask {
  return (SYNTHETIC_TASKS as readonly string[]).includes(name);
}

/** A task's text: what the tokenizer is built from, and the split point of its two parts. */
export interface SyntheticText {
  readonly text: string;
  /** Training stretches lie in [0, split), held-out ones in [split, text.length). */
  readonly split: number;
}

let normalized: string | null = null;

/** Moby-Dick as the reverse task sees it: a–z and single spaces. */
export function reverseText(valFraction: number): SyntheticText {
  normalized ??= builtinCorpusText('moby-dick')
    .toLowerCase()
    .replace(/[^a-z]+/g, ' ')
    .trim();
  return { text: normalized, split: Math.floor(normalized.length * (1 - valFraction)) };
}

/** The longest source the task draws for these limits. */
export function reverseMaxLength({ S, T }: PairLimits): number {
  return Math.min(S, T - 1);
}

/** One (source, target) string pair of the reverse task from the given part of the text. */
export function drawReverse(t: SyntheticText, part: 'train' | 'val', limits: PairLimits, rng: Rng): { source: string; target: string } {
  const maxLen = reverseMaxLength(limits);
  const len = 1 + randomInt(rng, maxLen);
  const [lo, hi] = part === 'train' ? [0, t.split] : [t.split, t.text.length];
  const start = lo + randomInt(rng, hi - lo - len + 1);
  const source = t.text.slice(start, start + len);
  return { source, target: Array.from(source).reverse().join('') };
}
