/**
 * Scalar definitions of the activations in f64. These are the reference values every
 * kernel's activation is measured against, so they are exact to ~1e-15, not approximations.
 */
import type { Act } from '../ops.js';

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2 / √π

/**
 * erf to ~3e-14 absolute (checked against libm on a 0.01 grid over [−7, 7]): the Maclaurin
 * series for |x| < 3, where alternating terms cancel away at most ~4 of 16 digits, and beyond
 * it the continued fraction for erfc, evaluated bottom-up, where the series would cancel badly.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const z = Math.abs(x);
  if (z < 3) {
    // erf z = 2/√π Σ (−1)ⁿ z^(2n+1) / (n! (2n+1))
    let term = z;
    let sum = z;
    for (let n = 1; n < 100; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * TWO_OVER_SQRT_PI * sum;
  }
  // erfc z = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))): 60 levels are ample for z ≥ 3.
  let f = z;
  for (let n = 60; n >= 1; n--) f = z + n / 2 / f;
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** GELU, erf form: x·Φ(x) = ½x(1 + erf(x/√2)) (BERT, PyTorch `gelu` default). */
export const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** GELU, tanh approximation (GPT-2, PyTorch `gelu(approximate='tanh')`). */
export const geluTanh = (x: number): number =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

export const relu = (x: number): number => (x > 0 ? x : 0);

/** x·σ(x); written as x / (1 + e^(−x)), which is exact at both tails (no ∞·0). */
export const silu = (x: number): number => x / (1 + Math.exp(-x));

export const ACTIVATION: Readonly<Record<Act | 'tanh', (x: number) => number>> = {
  gelu,
  gelu_tanh: geluTanh,
  relu,
  silu,
  tanh: Math.tanh,
};
