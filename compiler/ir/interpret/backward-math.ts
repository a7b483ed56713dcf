/**
 * Derivatives of the activations in f64, the backward counterparts of interpret/math.ts.
 * Each is d act(x) / dx written from the same closed form the forward uses, so a backward
 * kernel is measured against the exact slope, not a finite difference.
 */
import type { Act } from '../ops.js';
import { erf } from './math.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** d/dx x·Φ(x) = Φ(x) + x·φ(x). */
export const dGelu = (x: number): number => 0.5 * (1 + erf(x / Math.SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);

/** d/dx ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³): ½(1 + t) + ½x(1 − t²)·du/dx. */
export function dGeluTanh(x: number): number {
  const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
}

/** 1 for x > 0, else 0 (PyTorch's choice at the kink x = 0). */
export const dRelu = (x: number): number => (x > 0 ? 1 : 0);

/** d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))). */
export function dSilu(x: number): number {
  const s = 1 / (1 + Math.exp(-x));
  return s * (1 + x * (1 - s));
}

/** Slope of each activation at its input (tanh is differentiated from its output: 1 − y²). */
export const ACTIVATION_GRAD: Readonly<Record<Act, (x: number) => number>> = {
  gelu: dGelu,
  gelu_tanh: dGeluTanh,
  relu: dRelu,
  silu: dSilu,
};
