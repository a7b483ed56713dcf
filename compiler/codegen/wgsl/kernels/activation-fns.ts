/**
 * Activation functions as WGSL `act` (f32) and `act4` (vec4<f32>) plus their f64 references:
 * relu, gelu and gelu_tanh come from the matmul epilogue (epilogue.ts, one source of truth);
 * silu and tanh, which the epilogue does not offer, are written here the same way.
 */
import { ACT_FLOPS } from '../../../ir/ops.js';
import { activationReference, activationWgsl } from '../epilogue.js';

export type ElementwiseFn = 'gelu' | 'gelu_tanh' | 'relu' | 'silu' | 'tanh';

export const ELEMENTWISE_FNS: readonly ElementwiseFn[] = ['gelu', 'gelu_tanh', 'relu', 'silu', 'tanh'];

/** Accuracy beyond f32 rounding, for the two defined here (the others: epilogue.ts ACTIVATION_ACCURACY). */
export const LOCAL_FN_ACCURACY = {
  // x / (1 + exp(-x)): no cancellation; exp(-x) overflowing to +inf gives the right limit (-0).
  silu: 'a few ulp (exp and one division)',
  // sign(x)·(1 − e)/(1 + e), e = exp(−2|x|): never NaN or overflow; absolute error a few
  // ulp of 1, so near 0 the *relative* error grows (x = 1e-3: ~1e-4 relative, 1e-7 absolute).
  tanh: 'absolute error a few ulp of 1 (relative error grows near 0)',
} as const;

function local(fn: 'silu' | 'tanh', T: string, name: string): string {
  if (fn === 'silu') return `fn ${name}(x: ${T}) -> ${T} { return x / (${T}(1.0) + exp(-x)); }`;
  return [
    `fn ${name}(x: ${T}) -> ${T} {`,
    `  let e = exp(${T}(-2.0) * abs(x));`,
    `  return sign(x) * (${T}(1.0) - e) / (${T}(1.0) + e);`,
    `}`,
  ].join('\n');
}

/** WGSL defining `act(x: f32)` and `act4(x: vec4<f32>)` for `fn`. */
export function fnWgsl(fn: ElementwiseFn): string {
  if (fn === 'silu' || fn === 'tanh') return `${local(fn, 'f32', 'act')}\n${local(fn, 'vec4<f32>', 'act4')}`;
  return activationWgsl(fn);
}

/** The f64 definition of `fn`. */
export function fnReference(fn: ElementwiseFn): (x: number) => number {
  if (fn === 'silu') return (x) => x / (1 + Math.exp(-x));
  if (fn === 'tanh') return Math.tanh;
  return activationReference(fn);
}

/** Rough FLOPs per element (the op table's counts). */
export const FN_FLOPS: Readonly<Record<ElementwiseFn, number>> = ACT_FLOPS;
