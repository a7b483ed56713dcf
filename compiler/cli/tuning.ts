/** Picks the kernel tuning for the adapter this machine has ('cpu' for lavapipe-like software adapters). */
import type { KernelTuning } from '../codegen/wgsl/matmul.js';
import { acquireDevice, bindingLimitsOf, DEFAULT_BINDING_LIMITS, type BindingLimits } from '../../runtime/device.js';

export interface DetectedTuning {
  tuning: KernelTuning;
  /** The subgroup size kernels may assume (0: use no subgroup operations). */
  subgroupMinSize: number;
  /** The adapter's one-line summary, recorded in the plan ('' when none was found). */
  adapter: string;
  /** The adapter's binding and buffer limits (the WebGPU defaults when there is none): plans are laid out within them. */
  limits: BindingLimits;
  note: string;
}

export async function detectTuning(): Promise<DetectedTuning> {
  try {
    const gpu = await acquireDevice();
    const r = {
      tuning: gpu.adapterClass,
      subgroupMinSize: gpu.subgroupMinSize,
      adapter: gpu.adapter.summary,
      limits: bindingLimitsOf(gpu.limits),
      note: '',
    };
    gpu.release();
    return r;
  } catch (e) {
    return {
      tuning: 'gpu',
      subgroupMinSize: 0,
      adapter: '',
      limits: DEFAULT_BINDING_LIMITS,
      note: `note: no WebGPU adapter here (${(e as Error).message.split('\n')[0]}); building with the GPU tuning`,
    };
  }
}
