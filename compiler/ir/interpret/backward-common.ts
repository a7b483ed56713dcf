/**
 * What every backward op of the CPU reference receives and returns. A vector–Jacobian
 * product gets the forward inputs, the forward output, the op's saved scratch (`extra`, the
 * tensors the op table's `saved.extra` lists: norm statistics, log-sum-exps, a
 * pre-activation) and the output cotangent `dout`, and returns one cotangent per input:
 * a tensor of the input's shape for a float input, null for an i32 input (ids, positions,
 * targets), which has none. Storage is f32 and sums accumulate in f64, as in the forward.
 */
import type { DropoutRng } from '../../../runtime/counter-rng.js';
import { floats, type Tensor } from './common.js';

export interface VjpArgs<A> {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly extra: readonly Tensor[];
  readonly dout: Tensor;
  readonly attrs: A;
  /** The forward's training randomness: dropout (and attention's weight dropout) redraw its masks. */
  readonly rng?: DropoutRng | undefined;
}

export type Cotangents = (Tensor | null)[];

/** Computes an op's saved scratch from its forward inputs and output (the forward kernel writes it on a GPU). */
export type SaveFn<A> = (inputs: readonly Tensor[], output: Tensor, attrs: A) => Tensor[];

export type BackwardFn<A> = (args: VjpArgs<A>) => Cotangents;

/** An f64 accumulator rounded once into f32 storage. */
export function stored(shape: readonly number[], acc: Float64Array): Tensor {
  return { shape: [...shape], data: Float32Array.from(acc) };
}

export function dOut(args: { dout: Tensor }): Float32Array {
  return floats(args.dout, 'output cotangent');
}
