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
