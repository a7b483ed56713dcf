/**
 * Matmul epilogues: the activation applied to each output element after the optional bias,
 * or the gate function of a gated epilogue (C = fn(gate) · (A·B + bias), for GLU MLPs).
 * Each function is emitted for f32 and vec4<f32> from one template (WGSL built-ins are
 * component-wise, and `T(c)` splats a constant to either type).
 */
import { dfnWgsl } from './kernels/backward/elementwise-bwd.js';
import type { ElementwiseFn } from './kernels/activation-fns.js';

export type Activation = 'none' | 'relu' | 'gelu_tanh' | 'gelu' | 'silu';

export const ACTIVATIONS: readonly Activation[] = ['none', 'relu', 'gelu_tanh', 'gelu', 'silu'];

/**
 * The gate function of a gated epilogue: SwiGLU 'silu', GeGLU 'gelu' / 'gelu_tanh', ReGLU
 * 'relu' — or an activation's derivative ('dgelu', …), which makes the matmul that computes
 * d(activation output) also apply the activation backward: C = act'(pre) · (A·B), llm.c's
 * fused GELU backward.
 */
export type GateFn = Exclude<Activation, 'none'> | `d${Exclude<Activation, 'none'>}`;

export const GATE_FNS: readonly GateFn[] = ['silu', 'gelu', 'gelu_tanh', 'relu', 'dsilu', 'dgelu', 'dgelu_tanh', 'drelu'];

/** Accuracy of each activation's WGSL against its exact f64 definition (beyond f32 rounding). */
export const ACTIVATION_ACCURACY: Readonly<Record<Activation, string>> = {
  none: 'exact',
  relu: 'exact',
  // Written as x * sigmoid(2u) = x / (1 + exp(-2u)), which equals 0.5x(1 + tanh(u)) exactly
  // but cannot produce NaN (tanh via exp overflows for |u| > ~44) and does not cancel for x < 0.
  gelu_tanh: 'the tanh approximation itself, evaluated to f32 rounding (a few ulp of exp)',
  // Abramowitz & Stegun 7.1.26: |erfc(z) - approx| <= 1.5e-7 for z >= 0, so
  // |gelu - approx| <= 0.5 * |x| * 1.5e-7 (7.5e-8 |x|) plus f32 rounding; for x < 0 it uses
  // erfc directly, so there is no cancellation in 1 + erf(x/sqrt 2).
  gelu: '|error| <= 7.5e-8 * |x| + f32 rounding (A&S 7.1.26 erfc, |err| <= 1.5e-7)',
  // x * sigmoid(x) written as x / (1 + exp(-x)): no NaN for large |x|.
  silu: 'f32 rounding (a few ulp of exp)',
};

function template(act: Exclude<Activation, 'none'>, T: string, name: string): string {
  switch (act) {
    case 'relu':
      return `fn ${name}(x: ${T}) -> ${T} { return max(x, ${T}(0.0)); }`;
    case 'gelu_tanh':
      return [
        `// 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), written as x / (1 + exp(-2u)).`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let u = ${T}(0.7978845608028654) * (x + ${T}(0.044715) * x * x * x);`,
        `  return x / (${T}(1.0) + exp(${T}(-2.0) * u));`,
        `}`,
      ].join('\n');
    case 'silu':
      return `fn ${name}(x: ${T}) -> ${T} { return x / (${T}(1.0) + exp(-x)); } // x * sigmoid(x)`;
    case 'gelu':
      return [
        `// 0.5 x (1 + erf(x / sqrt 2)) with erfc from Abramowitz & Stegun 7.1.26 (|err| <= 1.5e-7).`,
        `fn ${name}(x: ${T}) -> ${T} {`,
        `  let z = abs(x) * ${T}(0.7071067811865476);`,
        `  let t = ${T}(1.0) / (${T}(1.0) + ${T}(0.3275911) * z);`,
        `  let p = t * (${T}(0.254829592) + t * (${T}(-0.284496736) + t * (${T}(1.421413741)` +
        ` + t * (${T}(-1.453152027) + t * ${T}(1.061405429)))));`,
        `  let erfc_z = p * exp(-z * z);`,
        `  return ${T}(0.5) * x * select(erfc_z, ${T}(2.0) - erfc_z, x >= ${T}(0.0));`,
        `}`,
      ].join('\n');
  }
}

/** WGSL for `act` (scalar) and `act4` (vec4<f32>); identity functions for 'none'. */
export function activationWgsl(act: Activation): string {
  if (act === 'none') {
    return 'fn act(x: f32) -> f32 { return x; }\nfn act4(x: vec4<f32>) -> vec4<f32> { return x; }';
  }
  return `${template(act, 'f32', 'act')}\n${template(act, 'vec4<f32>', 'act4')}`;
}

/**
 * WGSL for a gated epilogue's gate function, `gate_act` (scalar) and `gate_act4` (vec4<f32>);
 * same definitions and accuracy as the activations of the same name (ACTIVATION_ACCURACY).
 */
export function gateWgsl(fn: GateFn): string {
  if (!GATE_FNS.includes(fn)) throw new Error(`gated epilogue: unknown gate function '${String(fn)}' (one of ${GATE_FNS.join(', ')})`);
  if (fn.startsWith('d')) {
    const d = dfnWgsl(fn.slice(1) as ElementwiseFn);
    return `${d}\nfn gate_act(x: f32) -> f32 { return dact(x); }\nfn gate_act4(x: vec4<f32>) -> vec4<f32> { return dact4(x); }`;
  }
  return `${template(fn as Exclude<Activation, 'none'>, 'f32', 'gate_act')}\n${template(fn as Exclude<Activation, 'none'>, 'vec4<f32>', 'gate_act4')}`;
}

/** The f64 reference definitions, for tests and the CPU interpreter. */
export function activationReference(act: Activation): (x: number) => number {
  switch (act) {
    case 'none': return (x) => x;
    case 'relu': return (x) => Math.max(x, 0);
    case 'gelu_tanh': return (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'gelu': return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'silu': return (x) => x / (1 + Math.exp(-x));
  }
}

/** erf to ~1e-15: Taylor series for |x| < 2.5, a continued fraction for erfc beyond. */
export function erf(x: number): number {
  const z = Math.abs(x);
  if (z < 2.5) {
    let term = z, sum = z;
    for (let n = 1; n < 80; n++) {
      term *= -z * z / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))), evaluated bottom-up.
  let f = z;
  for (let n = 60; n >= 1; n--) f = z + (n / 2) / f;
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}
