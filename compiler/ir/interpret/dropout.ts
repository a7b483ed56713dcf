/**
 * Inverted dropout on the CPU, with the masks the GPU kernels draw: element i of a site is
 * kept ⇔ dropoutBits(dropoutKey(seed, step, stream), i) ≥ round(p·2³²), and a kept value is
 * scaled by 1/(1 − p) rounded to f32 (what the WGSL literal holds), the product rounded once
 * to f32 as the kernel's f32 multiply does. Without training randomness (eval, sampling, the
 * deterministic reference) dropout is the identity.
 *
 * The backward is the same mask on the cotangent: dx = dy·keep/(1 − p).
 */
import { type DropoutRng, dropoutBits, dropoutKey, dropoutThreshold } from '../../../runtime/counter-rng.js';
import type { OpAttrs } from '../ops.js';
import type { BackwardFn } from './backward-common.js';
import { floats, type Tensor } from './common.js';

/** The multiplier of element i (0 or 1/(1 − p) in f32), or null when no element is dropped. */
export function dropoutScale(p: number, stream: number, rng: DropoutRng | undefined): ((i: number) => number) | null {
  if (!rng || p === 0) return null;
  const key = dropoutKey(rng.seed, rng.step, stream);
  const threshold = dropoutThreshold(p);
  const keep = Math.fround(1 / (1 - p));
  return (i) => (dropoutBits(key, i) >= threshold ? keep : 0);
}

function masked(x: Float32Array, shape: readonly number[], a: OpAttrs['dropout'], rng: DropoutRng | undefined): Tensor {
  const z = dropoutScale(a.p, a.stream, rng);
  // Math.fround of an f32·f32 product (exact in f64) is the f32 multiply.
  return { shape: [...shape], data: z ? x.map((v, i) => Math.fround(v * z(i))) : Float32Array.from(x) };
}

export function dropout([x]: readonly Tensor[], a: OpAttrs['dropout'], rng?: DropoutRng): Tensor {
  return masked(floats(x!, 'dropout input'), x!.shape, a, rng);
}

export const dropoutBackward: BackwardFn<OpAttrs['dropout']> = (args) => [
  masked(floats(args.dout, 'dropout cotangent'), args.inputs[0]!.shape, args.attrs, args.rng),
];
