/**
 * Which tokens each evaluation window scores, so that every token of a stream but the first
 * (which has no context) is scored exactly once. Windows of T inputs start every `stride`
 * tokens; a window scores only the tokens no earlier window scored, so with stride < T each
 * scored token sees at least T − stride tokens of context (Hugging Face's sliding-window
 * perplexity), and with stride = T the windows do not overlap.
 *
 * Position p of a window starting at `start` reads token start + p and predicts token
 * start + p + 1.
 */

export interface ScoringWindow {
  /** The window's inputs are tokens[start, start + T) (padded past the stream's end). */
  readonly start: number;
  /** Positions [from, to) are scored: the predictions of tokens start + from + 1 … start + to. */
  readonly from: number;
  readonly to: number;
}

/** The windows over a stream of `n` tokens; `stride` must be in [1, T]. Empty when n < 2. */
export function scoringWindows(n: number, T: number, stride: number): ScoringWindow[] {
  for (const [what, v] of [
    ['stream length', n],
    ['window length', T],
    ['stride', stride],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`internal: the ${what} must be a non-negative integer, got ${v}`);
  }
  if (T < 1 || stride < 1 || stride > T) throw new Error(`internal: need 1 ≤ stride (${stride}) ≤ window length (${T})`);
  const out: ScoringWindow[] = [];
  let scored = 0; // tokens 1 … scored have been scored
  for (let start = 0; scored < n - 1; start += stride) {
    const last = Math.min(start + T, n - 1); // the furthest token this window predicts
    out.push({ start, from: scored - start, to: last - start });
    scored = last;
  }
  return out;
}
