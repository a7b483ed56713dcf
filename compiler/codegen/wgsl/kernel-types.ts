/**
 * What every generated WGSL kernel (compiler/codegen/wgsl/kernels/) hands the runtime, and the
 * one uniform that position-dependent kernels (embed, rope, attention, copy_rows) share.
 *
 * A WgslKernel is structurally a matmul.ts GeneratedKernel plus `limits` and `features`, so
 * runtime/gpu/kernel.ts (compileKernel, bindKernel, encodeKernel) dispatches both alike:
 * buffers are bound by binding name, all in group 0.
 */

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

/**
 * Per-dispatch positions, written by the host before each forward call:
 *  - offset: absolute position of the first query/token in this call (0 for training and
 *    prefill from scratch; the number of cached tokens when decoding);
 *  - kv_len: how many keys are valid in K/V (prefill: offset + T; decode: offset + 1).
 * Layout (std140-compatible, 8 bytes): offset u32 @ 0, kv_len u32 @ 4.
 */
export const STEP_WGSL = 'struct Step {\n  offset: u32,\n  kv_len: u32,\n}';

/** Bytes of the Step uniform. Buffers may be larger (e.g. padded to 16). */
export const STEP_BYTES = 8;

/** The WGSL variable name kernels read the Step uniform through (`step` itself is a WGSL built-in). */
export const STEP_VAR = 'u_step';

export interface Step {
  offset: number;
  kv_len: number;
}

/** Packs a Step for writeBuffer/uploadBuffer (8 bytes, little-endian u32s). */
export function packStep(step: Step): Uint32Array {
  for (const [k, v] of Object.entries(step)) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`Step.${k} must be a u32, got ${v}`);
  }
  return new Uint32Array([step.offset, step.kv_len]);
}
