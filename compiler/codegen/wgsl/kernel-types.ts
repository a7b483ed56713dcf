/**
 * What every generated WGSL kernel (compiler/codegen/wgsl/kernels/) hands the runtime, and the
 * one uniform that position-dependent kernels (embed, rope, attention, copy_rows) share.
 *
 * A WgslKernel is structurally a matmul.ts GeneratedKernel plus `limits` and `features`, so
 * runtime/gpu/kernel.ts (compileKernel, bindKernel, encodeKernel) dispatches both alike:
 * buffers are bound by binding name, all in group 0.
 */
import { STEP_UNIFORM } from '../../../runtime/uniforms.js';

/** 'cpu': software adapters (lavapipe): few invocations per workgroup, no barriers where avoidable. 'gpu': a real GPU. */
export type KernelTuning = 'cpu' | 'gpu';

export type BindingAccess = 'read' | 'read_write' | 'uniform';

export interface WgslBinding {
  group: 0;
  binding: number;
  /** The key the runtime binds a buffer by (runtime/gpu/kernel.ts bindKernel). */
  name: string;
  /** 'uniform' bindings need a buffer with GPUBufferUsage.UNIFORM. */
  access: BindingAccess;
  /** Logical shape (row-major); [] for the Step uniform. */
  shape: number[];
  /** Bytes the buffer must hold (at least). */
  bytes: number;
}

/** Device limits a kernel needs; pass them to acquireDevice({ limits }) when they exceed the defaults. */
export interface KernelLimits {
  maxStorageBufferBindingSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupStorageSize: number;
}

/** The part every generated kernel has, matmul.ts's GeneratedKernel included. */
export interface KernelCore {
  code: string;
  entryPoint: string;
  workgroupSize: [number, number, number];
  dispatch: [number, number, number];
  bindings: WgslBinding[];
  /** Arithmetic work (each kernel's header says how it counts; transcendentals as one or a few). */
  flops: number;
  /** Minimum bytes moved: every binding read or written once (gathers: the rows touched). */
  bytes: number;
}

export interface WgslKernel extends KernelCore {
  /** The IR op kinds (compiler/ir/ops.ts) this kernel implements; [] for plumbing kernels. */
  fuses: string[];
  limits: KernelLimits;
  /** WebGPU features the shader enables (e.g. 'subgroups'); the device must have them. */
  features: string[];
}

// ── The Step uniform ──────────────────────────────────────────────────────────────
// Its fields live in one table (runtime/uniforms.ts) that also drives the host's writes.

/** The WGSL struct of the Step uniform (runtime/uniforms.ts STEP_UNIFORM). */
export const STEP_WGSL = STEP_UNIFORM.wgsl();

/** Bytes of the Step uniform. Buffers may be larger (e.g. padded to 16). */
export const STEP_BYTES = STEP_UNIFORM.bytes;

/** The WGSL variable name kernels read the Step uniform through (`step` itself is a WGSL built-in). */
export const STEP_VAR = 'u_step';

export interface Step {
  offset: number;
  kv_len: number;
  /** Dropout's seed and micro-batch counter (runtime/counter-rng.ts); 0 when absent. */
  rng_seed?: number;
  rng_step?: number;
}

/** Packs a Step for writeBuffer (runtime/uniforms.ts STEP_UNIFORM; throws on a non-u32). */
export function packStep(step: Step): Uint32Array {
  return new Uint32Array(STEP_UNIFORM.pack({ rng_seed: 0, rng_step: 0, ...step }));
}
