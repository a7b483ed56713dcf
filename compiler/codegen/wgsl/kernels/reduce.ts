/**
 * Workgroup reductions for the one-workgroup-per-row kernels (residual_norm, softmax_xent).
 *  - A tree in workgroup memory: deterministic (the same inputs combine in the same order
 *    every run), log2(WG) barriers.
 *  - When the workgroup is no larger than the device's smallest subgroup it is a single
 *    subgroup, so one subgroupAdd/subgroupMax reduces it: no workgroup memory, no barriers
 *    (needs `enable subgroups`).
 * Every invocation of the workgroup must call these from uniform control flow (WGSL's
 * uniformity analysis enforces it at compile time).
 */
import type { KernelTuning } from '../kernel-types.js';

export type ReduceOp = 'sum' | 'max';

/** The options of every kernel built around a workgroup reduction. */
export interface ReduceOptions {
  /** Default 'gpu'. */
  tuning?: KernelTuning;
  /** GpuContext.subgroupMinSize when 'subgroups' is enabled; 0 or absent: no subgroup operations. */
  subgroupMinSize?: number;
  /** Override the invocations per workgroup (a power of two <= 256), for tuning experiments. */
  workgroupSize?: number;
  /** Entry point; each kernel names its default. */
  name?: string;
}

/** Whether a reduction over `wg` invocations is a single subgroup operation. */
export const useSubgroups = (wg: number, subgroupMinSize: number): boolean => subgroupMinSize > 0 && wg <= subgroupMinSize;

/**
 * `fn wg_<op>(v: T, lid: u32) -> T` over a workgroup of `wg` invocations, T = f32 or vec2<f32>
 * (two reductions for the price of one set of barriers). Scratch: `red_<op>`.
 */
export function workgroupReduceWgsl(op: ReduceOp, wg: number, subgroupMinSize = 0, T: 'f32' | 'vec2<f32>' = 'f32'): string {
  if (!Number.isInteger(Math.log2(wg)) || wg > 256) throw new Error(`internal: reduction workgroup ${wg} is not a power of two <= 256`);
  const name = `wg_${op}`;
  if (useSubgroups(wg, subgroupMinSize)) {
    return `fn ${name}(v: ${T}, lid: u32) -> ${T} { return ${op === 'sum' ? 'subgroupAdd' : 'subgroupMax'}(v); }`;
  }
  const red = `red_${op}`;
  const combine = op === 'sum' ? `${red}[lid] += ${red}[lid + s];` : `${red}[lid] = max(${red}[lid], ${red}[lid + s]);`;
  return `var<workgroup> ${red}: array<${T}, ${wg}>;

fn ${name}(v: ${T}, lid: u32) -> ${T} {
  ${red}[lid] = v;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { ${combine} }
    workgroupBarrier();
  }
  let r = ${red}[0];
  workgroupBarrier(); // the next call may overwrite the scratch
  return r;
}`;
}

/** Bytes of workgroup memory workgroupReduceWgsl declares. */
export function workgroupReduceBytes(wg: number, subgroupMinSize = 0, T: 'f32' | 'vec2<f32>' = 'f32'): number {
  return useSubgroups(wg, subgroupMinSize) ? 0 : (T === 'f32' ? 4 : 8) * wg;
}

/** The assemble() fields for a workgroup of `wg` that calls wg_<op> for each of `ops`. */
export function workgroupReduce(wg: number, subgroupMinSize: number, ops: ReduceOp[], T: 'f32' | 'vec2<f32>' = 'f32') {
  return {
    prelude: ops.map((op) => workgroupReduceWgsl(op, wg, subgroupMinSize, T)).join('\n\n'),
    workgroupStorageBytes: ops.length * workgroupReduceBytes(wg, subgroupMinSize, T),
    enables: useSubgroups(wg, subgroupMinSize) ? ['subgroups'] : [],
  };
}
