/**
 * The Optim uniform that the AdamW kernel reads its hyperparameters from, written by the host
 * once per optimizer step (one buffer shared by every parameter tensor's dispatch), so each
 * AdamW kernel is compiled once for the whole run:
 *
 *   struct Optim { lr, beta1, beta2, eps, wd, bc1, bc2, _pad }   (eight f32, 32 bytes)
 *
 * Its fields live in one table, runtime/uniforms.ts OPTIM_UNIFORM, which also packs the
 * host's writes. The bias corrections are computed on the host in float64 (optimUniform).
 *
 * Also the binding-table extension the optimizer kernels use for it: common.ts's Bindings
 * knows only the shared Step uniform, so OptimBindings adds this one after the storage buffers.
 */
import { OPTIM_UNIFORM } from '../../../../../runtime/uniforms.js';
import { Bindings } from '../common.js';

export const OPTIM_WGSL = OPTIM_UNIFORM.wgsl();

/** Bytes of the Optim uniform. */
export const OPTIM_BYTES = OPTIM_UNIFORM.bytes;

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

/** Packs the Optim uniform for writeBuffer (runtime/uniforms.ts OPTIM_UNIFORM). */
export function packOptim(o: OptimUniform): Float32Array {
  return new Float32Array(OPTIM_UNIFORM.pack(o));
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
  if (!(h.beta1 >= 0 && h.beta1 < 1) || !(h.beta2 >= 0 && h.beta2 < 1))
    throw new Error(`betas must be in [0, 1), got ${h.beta1}, ${h.beta2}`);
  return { ...h, bc1: 1 / (1 - h.beta1 ** t), bc2: 1 / (1 - h.beta2 ** t) };
}

/**
 * Bindings plus the Optim uniform, readable in WGSL as `u_optim.lr` etc. The multi-tensor
 * AdamW (arena.ts) passes a storage limit: as many storage buffers as the target device allows
 * (maxStorageBuffersPerShaderStage: 16 on lavapipe) instead of Bindings' portable 8; the plan
 * that uses it is built for that device's limit.
 */
export class OptimBindings extends Bindings {
  optim(): this {
    return this.uniform('optim', OPTIM_BYTES, OPTIM_VAR, 'Optim', OPTIM_WGSL);
  }
}
