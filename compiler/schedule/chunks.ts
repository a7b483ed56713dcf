/**
 * Splitting a tensor larger than the device's maxStorageBufferBindingSize into row ranges
 * that each fit one binding and start on a minStorageBufferOffsetAlignment boundary, so a
 * kernel can bind them as several views of the one buffer.
 */
import type { BindingRange } from '../../runtime/plan-types.js';

export interface RowChunk {
  readonly row0: number;
  readonly rows: number;
  readonly range: BindingRange;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Row ranges of a [rows, rowBytes] tensor, each at most `maxBinding` bytes and (except the
 * last's end) a multiple of `align` bytes long and of `multipleOf` rows; one whole chunk when it fits. Null when not
 * even `align`-many bytes' worth of rows fits one binding.
 */
export function rowChunks(rows: number, rowBytes: number, maxBinding: number, align: number, multipleOf = 1): RowChunk[] | null {
  if (rows * rowBytes <= maxBinding) return [{ row0: 0, rows, range: { offset: 0, size: rows * rowBytes } }];
  // Rows per chunk: a multiple of what aligns its bytes, and of `multipleOf` (another tensor split the same way).
  const a = align / gcd(rowBytes, align);
  const step = (a * multipleOf) / gcd(a, multipleOf);
  const per = Math.floor(maxBinding / rowBytes / step) * step;
  if (per < 1) return null;
  const out: RowChunk[] = [];
  for (let row0 = 0; row0 < rows; row0 += per) {
    const n = Math.min(per, rows - row0);
    out.push({ row0, rows: n, range: { offset: row0 * rowBytes, size: n * rowBytes } });
  }
  return out;
}

/** One vocabulary chunk of an LM head: columns col0 … col0 + cols − 1 and the byte ranges it binds. */
export interface VocabChunk {
  readonly col0: number;
  readonly cols: number;
  /** Its rows of the [vocab, K] weight (and of the weight's gradient). */
  readonly weight: BindingRange;
  /** Its [rows, cols] block of the chunk-major logits. */
  readonly logits: BindingRange;
  /** Its columns of the bias [vocab]. */
  readonly bias: BindingRange;
}

/**
 * Vocabulary chunks of an LM head x[rows, K]·Wᵀ (W [N, K]) whose weight or logits exceed one
 * binding: each chunk's weight rows and [rows, cols] logits block fit a binding and start
 * aligned (cols a multiple of align/4 except the last). Null when both fit whole, or when not
 * even align/4 columns fit (compile-model then reports the binding).
 */
export function vocabChunks(
  c: { readonly maxBinding: number; readonly bindAlign: number },
  rows: number,
  N: number,
  K: number,
): VocabChunk[] | null {
  if (4 * N * K <= c.maxBinding && 4 * rows * N <= c.maxBinding) return null;
  const split = rowChunks(N, 4 * Math.max(K, rows), c.maxBinding, c.bindAlign, c.bindAlign / 4);
  if (!split || split.length < 2) return null;
  return split.map(({ row0: col0, rows: cols }) => ({
    col0,
    cols,
    weight: { offset: 4 * col0 * K, size: 4 * cols * K },
    logits: { offset: 4 * rows * col0, size: 4 * rows * cols },
    bias: { offset: 4 * col0, size: 4 * cols },
  }));
}

/** One binding's worth of stacked expert weights [E, out, in] (see ExpertChunk) and its byte range. */
export interface StackChunk {
  readonly expert0: number;
  readonly experts: number;
  readonly out0: number;
  readonly outRows: number;
  readonly range: BindingRange;
}

/**
 * Chunks of stacked expert weights [E, O, I] larger than one binding: runs of whole experts
 * when one expert's matrix fits (a run's length keeps every start aligned), else each expert's
 * output rows in aligned runs (`multipleOf` rows: 4 for register-tiled kernels). Null when the
 * stack fits one binding, or when no such split exists (compile-model then reports the binding).
 */
export function expertChunks(
  c: { readonly maxBinding: number; readonly bindAlign: number },
  E: number,
  O: number,
  I: number,
  multipleOf: number,
): StackChunk[] | null {
  const expertBytes = 4 * O * I;
  if (E * expertBytes <= c.maxBinding) return null;
  // Runs of m experts start at multiples of m · expertBytes: m must make that aligned.
  const step = c.bindAlign / gcd(expertBytes, c.bindAlign);
  const m = Math.floor(c.maxBinding / expertBytes / step) * step;
  const out: StackChunk[] = [];
  if (m >= 1) {
    for (let e0 = 0; e0 < E; e0 += m) {
      const n = Math.min(m, E - e0);
      out.push({ expert0: e0, experts: n, out0: 0, outRows: O, range: { offset: e0 * expertBytes, size: n * expertBytes } });
    }
    return out;
  }
  // One expert's rows split: each expert must itself start aligned.
  const rows = rowChunks(O, 4 * I, c.maxBinding, c.bindAlign, multipleOf);
  if (!rows || expertBytes % c.bindAlign !== 0) return null;
  for (let e = 0; e < E; e++)
    for (const r of rows)
      out.push({
        expert0: e,
        experts: 1,
        out0: r.row0,
        outRows: r.rows,
        range: { offset: e * expertBytes + r.range.offset, size: r.range.size },
      });
  return out;
}
