/**
 * Matmul epilogues: the activation applied to each output element after the optional bias,
 * or the gate function of a gated epilogue (C = fn(gate) · (A·B + bias), for GLU MLPs). The
 * functions themselves, their derivatives and their accuracy come from the activation table
 * (compiler/ir/activations.ts), emitted for f32 and vec4<f32>.
 */
import { activationPair } from '../../ir/activations.js';
import type { Act } from '../../ir/ops.js';

export type Activation = 'none' | Act;

export const EPILOGUE_ACTIVATIONS: readonly Activation[] = ['none', 'relu', 'gelu_tanh', 'gelu', 'silu'];

/**
 * The gate function of a gated epilogue: SwiGLU 'silu', GeGLU 'gelu' / 'gelu_tanh', ReGLU
 * 'relu' — or an activation's derivative ('dgelu', …), which makes the matmul that computes
 * d(activation output) also apply the activation backward: C = act'(pre) · (A·B), llm.c's
 * fused GELU backward.
 */
export type GateFn = Act | `d${Act}`;

export const GATE_FNS: readonly GateFn[] = ['silu', 'gelu', 'gelu_tanh', 'relu', 'dsilu', 'dgelu', 'dgelu_tanh', 'drelu'];

/** WGSL for `act` (scalar) and `act4` (vec4<f32>); identity functions for 'none'. */
export function activationWgsl(act: Activation): string {
  if (act === 'none') return 'fn act(x: f32) -> f32 { return x; }\nfn act4(x: vec4<f32>) -> vec4<f32> { return x; }';
  return activationPair(act, 'act');
}

/** WGSL for a gated epilogue's gate function, `gate_act` (scalar) and `gate_act4` (vec4<f32>). */
export function gateWgsl(fn: GateFn): string {
  if (!GATE_FNS.includes(fn)) throw new Error(`gated epilogue: unknown gate function '${String(fn)}' (one of ${GATE_FNS.join(', ')})`);
  return fn.startsWith('d') ? activationPair(fn.slice(1) as Act, 'gate_act', true) : activationPair(fn as Act, 'gate_act');
}
