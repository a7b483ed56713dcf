/**
 * Concrete tensors for the CPU interpreter: a row-major shape and flat storage. Values are
 * stored as f32 (whatever the IR dtype says: f16/bf16 values are computed at f32 precision)
 * and ids as i32; arithmetic inside an op accumulates in f64 and rounds once on store.
 */

export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/**
 * The data handed to the interpreter does not fit the graph (a missing parameter, a wrong
 * length, a token id out of range). A caller error, reported with what and where.
 */
export class InterpretError extends Error {}

export const numelOf = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

export const showDims = (shape: readonly number[]): string => `(${shape.join(', ')})`;

export const sameDims = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export function zeros(shape: readonly number[]): Tensor {
  return { shape: [...shape], data: new Float32Array(numelOf(shape)) };
}

export function fromArray(shape: readonly number[], values: ArrayLike<number>, dtype: 'f32' | 'i32' = 'f32'): Tensor {
  const data = dtype === 'i32' ? Int32Array.from(values) : Float32Array.from(values);
  if (data.length !== numelOf(shape)) {
    throw new InterpretError(`${data.length} values do not fill a tensor of shape ${showDims(shape)}`);
  }
  return { shape: [...shape], data };
}

/** The last dim and the number of rows before it: a (…, n) tensor seen as rows × n. */
export function rows(t: Tensor): { rows: number; width: number } {
  const width = t.shape[t.shape.length - 1] ?? 1;
  return { rows: width === 0 ? 0 : t.data.length / width, width };
}

/** Float storage of an op input; an op given ids where it needs values is a graph bug. */
export function floats(t: Tensor, what: string): Float32Array {
  if (!(t.data instanceof Float32Array)) throw new InterpretError(`${what} must be a float tensor`);
  return t.data;
}

export function ints(t: Tensor, what: string): Int32Array {
  if (!(t.data instanceof Int32Array)) throw new InterpretError(`${what} must be an i32 tensor`);
  return t.data;
}
