/**
 * One fused AdamW update over one parameter tensor, in the order torch.optim.AdamW (the
 * single-tensor path, amsgrad off, maximize off) computes it, for optimizer step t:
 *
 *   g  = grad · scale[0]                     (the clip kernel's factor; clip_grad_norm_ scales in place)
 *   p  = p · (1 − lr·wd)                     (decay only; torch decays BEFORE the Adam step)
 *   m  = m + (1 − β1)·(g − m)                (torch: exp_avg.lerp_(grad, 1 − β1))
 *   v  = β2·v + (1 − β2)·g²                  (torch: exp_avg_sq.mul_(β2).addcmul_(g, g, 1 − β2))
 *   p  = p − lr·bc1 · m / (sqrt(v)·sqrt(bc2) + eps)
 *        with bc1 = 1/(1 − β1^t), bc2 = 1/(1 − β2^t): m̂ = m·bc1, sqrt(v̂) = sqrt(v)·sqrt(bc2)
 *   grad = 0                                 (zeroGrad only)
 *
 * The decay is decoupled: p·(1 − lr·wd) − lr·Adam(m, v) = p − lr·(Adam(m, v) + wd·p), applied
 * to the pre-step p, exactly as torch's `param.mul_(1 − lr·wd)` followed by `addcdiv_`.
 * Hyperparameters come from the Optim uniform (./uniform.ts), written by the host each step,
 * so the kernel is compiled once; wd is ignored unless the kernel is generated with decay.
 *
 * scale[0] == 0 means the clip kernel found the gradient norm non-finite: the step is
 * skipped (p, m, v untouched; the gradient still zeroed with zeroGrad), so the parameters the
 * trainer holds when it stops on NaN are the last finite ones. A host that does not clip
 * writes scale[0] = 1.
 */
import type { WgslKernel } from '../../kernel-types.js';
import { assemble, checkInt, entryName, linear, vectorized } from '../common.js';
import { OPTIM_VAR, OptimBindings } from './uniform.js';

export interface AdamWSpec {
  /** Floats in the parameter tensor (and its gradient and moments). */
  n: number;
  /** Apply decoupled weight decay (u_optim.wd); torch param groups usually exclude biases and norm gains. */
  decay: boolean;
  /** Zero the gradient after reading it (no gradient accumulation into the next step). Default false. */
  zeroGrad?: boolean;
  /** Entry point; default 'adamw'. */
  name?: string;
}

/** The WGSL references one element update reads and writes (a vec4 or a scalar each). */
export interface AdamWRefs {
  readonly param: string;
  readonly grad: string;
  readonly m: string;
  readonly v: string;
  readonly decay: boolean;
}

/**
 * The statements of one element's update (the module comment's order), given `s` = scale[0]
 * in scope. The single-tensor and the multi-tensor (arena.ts) kernels both emit exactly this
 * text, so they compute bit-identical parameters and moments.
 */
export function adamwUpdateWgsl(r: AdamWRefs, indent: string): string {
  const o = OPTIM_VAR;
  return [
    `let g = ${r.grad} * s;`,
    `let m1 = ${r.m} + (1.0 - ${o}.beta1) * (g - ${r.m});`,
    `let v1 = ${o}.beta2 * ${r.v} + (1.0 - ${o}.beta2) * g * g;`,
    `${r.m} = m1;`,
    `${r.v} = v1;`,
    `let p = ${r.decay ? `${r.param} * (1.0 - ${o}.lr * ${o}.wd)` : r.param};`,
    `${r.param} = p - (${o}.lr * ${o}.bc1) * m1 / (sqrt(v1) * sqrt(${o}.bc2) + ${o}.eps);`,
  ].join(`\n${indent}`);
}

/**
 * Bindings, in order: param [n], grad [n] (read, or read_write with zeroGrad), m [n], v [n]
 * (first and second moments; zero before the first step), scale [1] (read), optim (the
 * Optim uniform, 32 bytes). One invocation per vec4 when n divides by 4, else per value.
 */
export function generateAdamW(spec: AdamWSpec): WgslKernel {
  const entryPoint = entryName('adamw', spec.name);
  checkInt(entryPoint, 'n', spec.n);
  const { n, decay } = spec;
  const zero = spec.zeroGrad ?? false;
  const { w, V: T, units } = vectorized(n);
  const b = new OptimBindings(entryPoint)
    .storage('param', 'read_write', [n], T)
    .storage('grad', zero ? 'read_write' : 'read', [n], T)
    .storage('m', 'read_write', [n], T)
    .storage('v', 'read_write', [n], T)
    .storage('scale', 'read', [1])
    .optim();
  const lin = linear(entryPoint, units);
  const o = OPTIM_VAR;
  const zeroLine = (indent: string) => (zero ? `\n${indent}grad[i] = ${T}(0.0);` : '');
  return assemble({
    entryPoint,
    fuses: [],
    shapes: { param: [n] },
    notes: [
      `torch.optim.AdamW on one tensor, ${decay ? 'p·(1 − lr·wd) first (decoupled decay), then ' : 'no weight decay; '}` +
        `m, v, p −= lr·bc1·m / (sqrt(v·bc2) + eps), g = grad·scale[0]${zero ? '; grad zeroed' : ''}`,
      `hyperparameters from the Optim uniform (${o}); scale[0] == 0 (non-finite norm) skips the step; one invocation per ${w === 4 ? 'vec4' : 'value'}`,
    ],
    bindings: b,
    launch: lin,
    flops: n * (decay ? 15 : 14),
    main: lin.main(`let s = scale[0];
  if (s == 0.0) {${zeroLine('    ')}
    return;
  }
  ${adamwUpdateWgsl({ param: 'param[i]', grad: 'grad[i]', m: 'm[i]', v: 'v[i]', decay }, '  ')}${zeroLine('  ')}`),
  });
}
