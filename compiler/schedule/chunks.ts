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
