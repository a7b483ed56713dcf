/**
 * Tensor types of the IR. Shapes mix numbers with three symbols that are bound only when a
 * cost is evaluated: `B` (batch), `T` (sequence; the decoder's target sequence in an
 * encoder–decoder model) and `S` (the encoder's source sequence). Keeping them symbolic lets
 * one graph answer "per token", "at the full context" and "at batch × seq" questions.
 */

export type Sym = 'B' | 'T' | 'S';
export type Dim = number | Sym;
export type Shape = readonly Dim[];

/** Float dtypes for values and weights; `i32` for token ids, positions and expert indices. */
export type DType = 'f32' | 'f16' | 'bf16' | 'i32';

export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, f16: 2, bf16: 2, i32: 4 };

export interface TensorType {
  readonly dtype: DType;
  readonly shape: Shape;
}

/** Values for the symbols when a size or cost is evaluated. */
export type DimEnv = Readonly<Record<Sym, number>>;

export const isSym = (d: Dim): d is Sym => typeof d !== 'number';

export function dimValue(d: Dim, env: DimEnv): number {
  return typeof d === 'number' ? d : env[d];
}

export function numel(shape: Shape, env: DimEnv): number {
  let n = 1;
  for (const d of shape) n *= dimValue(d, env);
  return n;
}

export function bytesOf(t: TensorType, env: DimEnv): number {
  return numel(t.shape, env) * DTYPE_BYTES[t.dtype];
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function sameType(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && sameShape(a.shape, b.shape);
}

/** `(B, T, 768)`; a scalar is `()`. */
export function showShape(s: Shape): string {
  return `(${s.join(', ')})`;
}

export function showType(t: TensorType): string {
  return `${t.dtype}${showShape(t.shape)}`;
}

/**
 * A shape seen as rows × width: the symbolic dims say how many times an op's work repeats
 * (B·T rows for a token-wise op), the numeric dims multiply into the width of one row.
 */
export function rowsOf(shape: Shape): { rows: Sym[]; width: number } {
  const rows: Sym[] = [];
  let width = 1;
  for (const d of shape) {
    if (isSym(d)) rows.push(d);
    else width *= d;
  }
  return { rows, width };
}
