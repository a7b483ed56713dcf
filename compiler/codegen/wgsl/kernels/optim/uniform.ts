/**
 * The Optim uniform that the AdamW kernel reads its hyperparameters from, written by the host
 * once per optimizer step (one buffer shared by every parameter tensor's dispatch), so each
 * AdamW kernel is compiled once for the whole run:
 *
 *   struct Optim { lr, beta1, beta2, eps, wd, bc1, bc2, _pad }   (eight f32, 32 bytes)
 *
 * offset 0 lr, 4 beta1, 8 beta2, 12 eps, 16 wd, 20 bc1 = 1/(1−β1^t), 24 bc2 = 1/(1−β2^t),
 * 28 padding; t is the 1-based optimizer step (torch's `state['step']` after its increment).
 * The bias corrections are computed on the host in float64 (optimUniform) and rounded once.
 *
 * Also the binding-table extension the optimizer kernels use for it: common.ts's Bindings
 * knows only the shared Step uniform, so OptimBindings adds this one after the storage buffers.
 */
import { Bindings } from '../common.js';

export const OPTIM_WGSL = `struct Optim {
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  wd: f32,
  bc1: f32,
  bc2: f32,
  _pad: f32,
}`;

/** Bytes of the Optim uniform. */
export const OPTIM_BYTES = 32;

/** The WGSL variable the kernels read the Optim uniform through (binding name 'optim'). */
export const OPTIM_VAR = 'u_optim';

export interface OptimUniform {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled weight decay; kernels generated with decay: false ignore it. */
  wd: number;
  /** 1 / (1 − beta1^t). */
  bc1: number;
  /** 1 / (1 − beta2^t). */
  bc2: number;
}

/** Packs the Optim uniform for writeBuffer (8 little-endian f32s; the last is padding, 0). */
export function packOptim(o: OptimUniform): Float32Array {
  const fields = ['lr', 'beta1', 'beta2', 'eps', 'wd', 'bc1', 'bc2'] as const;
  for (const k of fields) {
    if (!Number.isFinite(o[k])) throw new Error(`Optim.${k} must be finite, got ${o[k]}`);
  }
  return new Float32Array([o.lr, o.beta1, o.beta2, o.eps, o.wd, o.bc1, o.bc2, 0]);
}

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** torch's weight_decay. */
  wd: number;
}

/** The uniform for optimizer step t (1-based, as torch counts): the bias corrections in float64. */
export function optimUniform(h: AdamWHyper, t: number): OptimUniform {
  if (!Number.isInteger(t) || t < 1) throw new Error(`optimizer step must be an integer >= 1, got ${t}`);
  if (!(h.beta1 >= 0 && h.beta1 < 1) || !(h.beta2 >= 0 && h.beta2 < 1)) throw new Error(`betas must be in [0, 1), got ${h.beta1}, ${h.beta2}`);
  return { ...h, bc1: 1 / (1 - h.beta1 ** t), bc2: 1 / (1 - h.beta2 ** t) };
}

/** Bindings plus the Optim uniform, readable in WGSL as `u_optim.lr` etc. */
export class OptimBindings extends Bindings {
  private readonly uniformDecls: string[] = [];

  optim(): this {
    const binding = this.list.length;
    this.list.push({ group: 0, binding, name: 'optim', access: 'uniform', shape: [], bytes: OPTIM_BYTES });
    this.uniformDecls.push(`@group(0) @binding(${binding}) var<uniform> ${OPTIM_VAR}: Optim;`);
    return this;
  }

  override wgsl(): string {
    const base = super.wgsl();
    return this.uniformDecls.length ? [OPTIM_WGSL, '', base, ...this.uniformDecls].join('\n') : base;
  }
}
